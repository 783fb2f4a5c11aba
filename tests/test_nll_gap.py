"""scripts/nll_gap.py: two models' NLL per note by token kind, on the same test songs."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "nll_gap.py"


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_a_model_against_itself_has_no_gap_and_its_kinds_add_up(trained):
    proc = run("--run-dir", trained, "--against", trained, "--top", 2)
    assert proc.returncode == 0, proc.stderr
    rows = dict(re.findall(r"^  (\w+)\s+([\d.]+)\s+[\d.]+\s+-?0\.0000$", proc.stdout, re.M))
    assert {"NOTE", "DUR", "EOS", "all"} <= set(rows), proc.stdout
    kinds = sum(float(v) for k, v in rows.items() if k != "all")
    assert abs(kinds - float(rows["all"])) < 1e-3 and float(rows["all"]) > 0
    assert "(of 0 in all):" in proc.stdout and ": +0 nats over " in proc.stdout


def test_bad_input_is_one_error_line(trained, tmp_path):
    proc = run("--run-dir", trained, "--against", tmp_path / "nothing")
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: ")
    proc = run("--run-dir", trained, "--against", trained, "--split", tmp_path / "none.json")
    assert proc.returncode == 2 and "--split" in proc.stderr

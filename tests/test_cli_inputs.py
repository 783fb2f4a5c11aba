"""What the CLI reads and how long it keeps quiet: a prime, melody or corpus file that is
not a regular file, or is huge, is refused before it is read, with one line; long runs of
``sample`` and ``harmonize`` show a progress bar with an ETA on a terminal."""

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from conftest import cli, write_song

from trainer import constants as C

ROOT = Path(__file__).resolve().parents[1]
FOLK, CHORALES = ROOT / "site" / "models" / "folk", ROOT / "site" / "models" / "chorales"


def huge(path: Path) -> Path:
    """A sparse file one byte over the limit (no disk is spent on it)."""
    with open(path, "wb") as f:
        f.truncate(C.MAX_MIDI_BYTES + 1)
    return path


def one_line(proc) -> str:
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


@pytest.mark.parametrize("make, reason", [
    (lambda d: Path("/dev/zero"), "not a regular file (a character device)"),
    (lambda d: (os.mkfifo(d / "fifo.mid"), d / "fifo.mid")[1], "not a regular file (a FIFO)"),
    (lambda d: d, "not a regular file (a folder)"),
    (lambda d: huge(d / "huge.mid"), f"{C.MAX_MIDI_BYTES + 1:,} bytes, more than the "
                                     f"{C.MAX_MIDI_BYTES:,} a MIDI file may hold here"),
], ids=["/dev/zero", "FIFO", "folder", "huge file"])
@pytest.mark.parametrize("flag", ["--prime-file", "--melody-file"])
def test_a_prime_or_melody_that_is_no_file_or_huge_is_refused_unread(tmp_path, make, reason,
                                                                     flag):
    path = make(tmp_path)
    if flag == "--prime-file":
        args = ["sample", "--run-dir", FOLK, "--prime-file", path]
    else:
        args = ["harmonize", "--run-dir", CHORALES, "--melody-file", path]
    proc = cli(*args, "--out-dir", tmp_path / "out", check=False, timeout=60)
    assert one_line(proc) == f"error: {flag} {path}: {reason}"
    assert not (tmp_path / "out").exists()


def test_a_huge_file_in_a_corpus_is_skipped_with_its_reason(tmp_path, cache):
    data = tmp_path / "data"
    write_song(data / "good.mid", [(i, i + 1, 60 + i % 7) for i in range(40)])
    huge(data / "huge.mid")
    proc = cli("prepare", "--data-dir", data, timeout=120)
    out = proc.stdout + proc.stderr
    assert "used 1 files, skipped 1" in out, out
    assert f"skipped huge.mid: {C.MAX_MIDI_BYTES + 1:,} bytes, more than the " in out, out


def on_a_terminal(*args) -> tuple[str, str]:
    """``python -m trainer ARGS`` with stderr on a pseudo-terminal 100 columns wide:
    (stdout, what the terminal showed)."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "trainer", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    shown = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        shown += chunk
    out = proc.stdout.read().decode()
    assert proc.wait(timeout=300) == 0, shown.decode(errors="replace")
    os.close(master)
    return out, shown.decode(errors="replace")


def test_sample_and_harmonize_show_a_progress_bar_on_a_terminal_and_keep_stdout(tmp_path):
    out, shown = on_a_terminal("sample", "--run-dir", FOLK, "--out-dir", tmp_path / "songs",
                               "--num-files", 3, "--length", 30)
    assert "composing:" in shown and "/3 [" in shown and "song/s]" in shown, shown
    assert out.count("wrote ") == 3 and "composing:" not in out
    melody = write_song(tmp_path / "melody.mid", [(i, i + 1, 67 + i % 5) for i in range(16)])
    out, shown = on_a_terminal("harmonize", "--run-dir", CHORALES, "--out-dir",
                               tmp_path / "harmony", "--melody-file", melody, "--num-files", 2)
    assert "harmonizing:" in shown and "/128 [" in shown and "step/s]" in shown, shown
    assert out.count("wrote ") == 2 and "harmonizing:" not in out


def test_without_a_terminal_no_bar_is_written(tmp_path):
    proc = cli("sample", "--run-dir", FOLK, "--out-dir", tmp_path, "--num-files", 2,
               "--length", 20)
    assert "composing:" not in proc.stderr and proc.stdout.count("wrote ") == 2


def test_a_folder_with_no_midi_files_is_not_called_unusable_midi_files():
    proc = cli("prepare", "--data-dir", "/proc", check=False, timeout=120)
    line = proc.stderr.strip().splitlines()[-1]
    assert proc.returncode == 2 and line.startswith("error: no .mid or .midi files under /proc")
    assert "could be used" not in line


def damaged(path: Path, change) -> Path:
    data = bytearray(write_song(path, [(i, i + 1, 60 + i % 12) for i in range(40)]).read_bytes())
    path.write_bytes(bytes(change(data)))
    return path


def claim_2_gb(data: bytearray) -> bytearray:
    at = data.index(b"MTrk", 14)  # the first track chunk: its length field follows the name
    data[at + 4:at + 8] = (2 ** 31).to_bytes(4, "big")
    return data


@pytest.mark.parametrize("change, reason", [
    (lambda d: d[:-3], "truncated or damaged: track 2 claims"),
    (claim_2_gb, "truncated or damaged: track 1 claims 2,147,483,648 bytes, and only"),
], ids=["truncated", "a track claiming 2 GB"])
def test_a_truncated_or_damaged_midi_is_named_so(tmp_path, change, reason):
    path = damaged(tmp_path / "bad.mid", change)
    proc = cli("sample", "--run-dir", FOLK, "--prime-file", path, "--out-dir", tmp_path / "out",
               check=False, timeout=60)
    assert one_line(proc).startswith(f"error: --prime-file {path}: {reason}")


@pytest.mark.parametrize("target", ["folder", "file", "missing"])
def test_converter_out_on_a_symbolic_link_says_so(tmp_path, target):
    from converter.folder import check_replaceable
    from trainer.errors import CadenzaError

    real = tmp_path / "real"
    if target == "folder":
        real.mkdir()
    elif target == "file":
        real.write_text("x")
    link = tmp_path / "link"
    link.symlink_to(real)
    want = {"folder": "a folder", "file": "a file", "missing": "a missing path"}[target]
    with pytest.raises(CadenzaError, match=f"^--out {link} is a symbolic link \\(to {want}\\)"):
        check_replaceable(link)


def test_sample_answers_a_prime_with_at_least_a_bar(tmp_path):
    """A phrase that closes on the tonic at a bar line: the folk model would often end
    there; it now goes on for the rest of the bar and one bar more (Grammar.hold_bar)."""
    from trainer.music import midi_io

    tune = [(0, 1, 67), (1, 2, 71), (2, 3, 74), (3, 4, 72), (4, 5, 71), (5, 6, 69), (6, 8, 67)]
    prime = write_song(tmp_path / "end.mid", tune)
    cli("sample", "--run-dir", FOLK, "--prime-file", prime, "--out-dir", tmp_path / "out",
        "--num-files", 12, "--length", 200, timeout=300)
    for song in sorted((tmp_path / "out").glob("*.mid")):
        notes = midi_io.read_song(song).notes
        assert len(notes) > len(tune) and notes[:, 1].max() > 8, song.name  # it went on


@pytest.mark.parametrize("case", ["--split /dev/zero", "config.json a FIFO", "vocab.json huge",
                                  "--split a folder"])
def test_every_json_file_the_cli_reads_is_checked_before_it_is_read(tmp_path, case):
    import shutil

    from trainer.errors import MAX_TEXT_BYTES

    model = tmp_path / "folk"
    shutil.copytree(FOLK, model)
    if case == "--split /dev/zero":
        args, named, why = (["evaluate", "--run-dir", model, "--split", "/dev/zero"],
                            "--split /dev/zero", "a character device")
    elif case == "config.json a FIFO":
        (model / "config.json").unlink()
        os.mkfifo(model / "config.json")
        args, named, why = (["sample", "--run-dir", model, "--out-dir", tmp_path / "out"],
                            model / "config.json", "a FIFO")
    elif case == "vocab.json huge":
        with open(model / "vocab.json", "ab") as f:
            f.truncate(MAX_TEXT_BYTES + 1)
        args, named, why = (["sample", "--run-dir", model, "--out-dir", tmp_path / "out"],
                            model / "vocab.json", None)
    else:
        args, named, why = (["evaluate", "--run-dir", model, "--split", tmp_path],
                            f"--split {tmp_path}", "a folder")
    proc = cli(*args, check=False, timeout=60)
    line = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode == 2 and line.startswith("error: ") and str(named) in line, \
        proc.stdout + proc.stderr
    assert (f"is not a regular file ({why})" if why else
            f"holds more than {MAX_TEXT_BYTES:,} bytes") in line, line


def test_converter_previous_is_checked_before_it_is_read(tmp_path):
    from converter.record import read_previous
    from trainer.errors import CadenzaError

    with pytest.raises(CadenzaError,
                       match="^--previous /dev/zero is not a regular file \\(a character device\\)"):
        read_previous("/dev/zero")

"""Issue 12, the trainer half: each fault a sweep found ends in one ``error:`` line.

Every case is a command a new (or careless) user ran; each must exit 2 with
exactly one line ``error: ...`` on stderr, no traceback, and lose or mix
nothing. The cases, by the issue's numbers:

1. two writers on one run folder (a lock with the holder's PID; a dead
   holder's lock is taken over);
2. a damaged checkpoint or weights file (named; resume falls back to the
   checkpoint before it, which is kept until the new one is verified);
3. a full disk (injected ENOSPC, and a real tiny tmpfs where mount works);
4. a refused start writes nothing, and a start cut short can be retried;
6. FIFOs, devices and dead links named ``.mid`` are reported and counted;
7. the cache key is the hash of exactly the bytes parsed (a broken pool:
   tests/test_hostile.py);
8. library use from a script without a ``__main__`` guard, or from stdin;
9. SMPTE-division files are read;
10. bad flags and files: infinite temperature, negative seeds, a file as a
    folder, a vocab.json that disagrees, non-UTF-8 and escape-sequence names.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY, cli, write_song

from trainer.config import DataConfig
from trainer.errors import CadenzaError
from trainer.music import corpus as corpus_mod
from trainer.music.codec import Codec
from trainer.nn.checkpoints import damage, save_verified
from trainer.nn.runs import RunDir

REPO = Path(__file__).resolve().parents[1]


def one_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The single ``error:`` line of a failed command, which must hold every needle."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    """Temporary files, and checkpoints state.json does not name, under a run folder."""
    state = json.loads((folder / "state.json").read_text()) if (folder / "state.json").exists() \
        else {}
    named = {state.get("checkpoint"), (state.get("previous") or {}).get("checkpoint")}
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")
                  if p.name.startswith(".") or ".tmp" in p.name
                  or (p.parent.name == "checkpoints" and f"checkpoints/{p.name}" not in named))


def epochs_logged(run: Path) -> list[int]:
    return [int(r["epoch"]) for r in csv.DictReader(open(run / "log.csv"))]


# pytest -n: the tests of two_epochs on one process, which trains it once
TWO_EPOCHS = pytest.mark.xdist_group("two-epochs")


@pytest.fixture(scope="module")
def two_epochs(tmp_path_factory, chorales, cache) -> Path:
    run = tmp_path_factory.mktemp("faults") / "two"
    cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 2, *TINY)
    return run


# --- 1. one writer per run folder ----------------------------------------------

def test_a_second_writer_is_refused_with_the_holders_pid(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    with RunDir(run).lock():
        assert (run / ".lock").read_text().strip() == str(os.getpid())
        for args in (["train", "--run-dir", run, "--resume", "--epochs", 2],
                     ["train", "--run-dir", run, "--data-dir", run, "--seed", 5],
                     ["evaluate", "--run-dir", run]):
            one_error(cli(*args, check=False), "in use", f"PID {os.getpid()}")
    assert not (run / ".lock").exists()
    assert epochs_logged(run) == [1]


def test_a_lock_left_by_kill_9_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from trainer.nn.runs import RunDir\n"
         "with RunDir(sys.argv[1]).lock():\n print('locked', flush=True); time.sleep(120)",
         str(run)], stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(CadenzaError, match=f"PID {holder.pid}"):
            with RunDir(run).lock():
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (run / ".lock").read_text().strip() == str(holder.pid)  # stale, left behind
    with RunDir(run).lock():
        assert (run / ".lock").read_text().strip() == str(os.getpid())
    assert f"taking over the lock of process {holder.pid}" in capsys.readouterr().out
    assert not (run / ".lock").exists() and run.is_dir()


# --- 2. damaged checkpoints -----------------------------------------------------

@TWO_EPOCHS
def test_resume_falls_back_to_the_checkpoint_before_a_damaged_one(two_epochs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    state = json.loads((run / "state.json").read_text())
    assert state["checkpoint"] == "checkpoints/last-e0002.keras"  # the previous one is kept
    assert state["previous"]["checkpoint"] == "checkpoints/last-e0001.keras"
    last = run / "checkpoints" / "last-e0002.keras"
    last.write_bytes(last.read_bytes()[:1000])
    done = cli("train", "--run-dir", run, "--resume", "--epochs", 3)
    assert f"{last} is damaged (truncated" in done.stdout
    assert "resuming" in done.stdout and "after epoch 1" in done.stdout
    assert epochs_logged(run) == [1, 2, 3]
    assert (run / "checkpoints" / "damaged-last-e0002.keras").exists()  # kept for a look
    assert json.loads((run / "state.json").read_text())["epoch"] == 3
    assert leftovers(run) == ["checkpoints/damaged-last-e0002.keras"]


@TWO_EPOCHS
@pytest.mark.parametrize("harm", ["truncated", "empty", "deleted"])
def test_damage_names_what_is_wrong(two_epochs, tmp_path, harm):
    for name in ("checkpoints/last-e0002.keras", "best.weights.h5"):
        path = tmp_path / Path(name).name
        shutil.copy(two_epochs / name, path)
        assert damage(path) is None
        if harm == "deleted":
            path.unlink()
        else:
            path.write_bytes(path.read_bytes()[:2000] if harm == "truncated" else b"")
        assert damage(path).startswith({"truncated": "truncated", "empty": "empty file",
                                        "deleted": "missing"}[harm])


@TWO_EPOCHS
def test_resume_without_an_intact_checkpoint_names_both(two_epochs, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(two_epochs, run)
    (run / "checkpoints" / "last-e0002.keras").write_bytes(b"")
    (run / "checkpoints" / "last-e0001.keras").unlink()
    before = sorted(p.name for p in run.rglob("*"))
    one_error(cli("train", "--run-dir", run, "--resume", "--epochs", 3, check=False),
              "last-e0002.keras is damaged (empty file)", "last-e0001.keras is damaged (missing)")
    assert sorted(p.name for p in run.rglob("*")) == before


def test_sample_names_truncated_best_weights(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    best = run / "best.weights.h5"
    best.write_bytes(best.read_bytes()[:1000])
    one_error(cli("sample", "--run-dir", run, "--out-dir", tmp_path / "songs", check=False),
              f"{best} is damaged", "--checkpoint last")
    assert not (tmp_path / "songs").exists()


def test_a_checkpoint_that_reads_back_damaged_never_gets_its_name(tmp_path):
    path = tmp_path / "last-e0001.keras"
    with pytest.raises(CadenzaError, match="written damaged"):
        save_verified(lambda tmp: tmp.write_bytes(b"PK\x03\x04 not really"), path)
    assert list(tmp_path.iterdir()) == []


# --- 3. a full disk -------------------------------------------------------------

ENOSPC_AT = """import errno, os, sys
from trainer.nn import checkpoints
real = checkpoints.fsync
def fsync(path):
    if sys.argv[1] in str(path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    real(path)
checkpoints.fsync = fsync
from trainer.__main__ import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("victim", ["last-e0002.keras", "best-e0002.weights.h5", "state.json"])
def test_injected_enospc_gives_one_line_and_the_run_resumes(trained, tmp_path, victim):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    proc = subprocess.run([sys.executable, "-c", ENOSPC_AT, victim, "train", "--run-dir",
                           str(run), "--resume", "--epochs", "3"],
                          capture_output=True, text=True, cwd=REPO, timeout=300)
    one_error(proc, "no space left on the device", victim, "--resume")
    assert json.loads((run / "state.json").read_text())["epoch"] == 1
    assert leftovers(run) == []
    assert (run / "best.weights.h5").exists()
    cli("train", "--run-dir", run, "--resume", "--epochs", 3)
    assert epochs_logged(run) == [1, 2, 3] and leftovers(run) == []


@pytest.fixture
def tiny_disk(tmp_path):
    """A 900 KB tmpfs (about three checkpoints of the tiny model); skips without mount."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=900k", "tmpfs", str(mount)],
                          capture_output=True)
    if done.returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


@pytest.mark.slow
def test_a_real_full_disk_gives_one_line_and_the_run_resumes(chorales, cache, tiny_disk):
    run = tiny_disk / "run"
    proc = cli("train", "--data-dir", chorales, "--run-dir", run, "--epochs", 4, *TINY,
               check=False)
    one_error(proc, "no space left on the device", str(run))
    trained = json.loads((run / "state.json").read_text())["epoch"]
    assert 1 <= trained < 4 and leftovers(run) == []
    assert epochs_logged(run) == list(range(1, trained + 1))
    subprocess.run(["mount", "-o", "remount,size=8m", str(tiny_disk)], check=True)
    cli("train", "--run-dir", run, "--resume", "--epochs", 4)
    assert epochs_logged(run) == [1, 2, 3, 4] and leftovers(run) == []


# --- 4. validate before writing -------------------------------------------------

def test_a_refused_start_writes_nothing(tmp_path, chorales):
    run = tmp_path / "new" / "run"
    one_error(cli("train", "--data-dir", chorales, "--run-dir", run, "--seed", -1,
                  check=False), "--seed")
    assert not (tmp_path / "new").exists()
    lone = tmp_path / "lone"
    write_song(lone / "only.mid", [(0, 1, 60), (1, 2, 62)])
    one_error(cli("train", "--data-dir", lone, "--run-dir", run, check=False),
              "at least 3 usable songs", "validation and test")  # the default holds out a test
    assert not (tmp_path / "new").exists()  # nor the folders the lock made for it
    one_error(cli("train", "--data-dir", lone, "--run-dir", run, "--test-fraction", 0,
                  check=False), "at least 2 usable songs")
    assert not (tmp_path / "new").exists()


def test_a_start_cut_short_is_retried_by_the_same_command(tmp_path):
    from trainer.cli import parse
    from trainer.nn.runs import resolve_train_config

    run = tmp_path / "run"
    _, given = parse(["train", "--run-dir", str(run), "--epochs", "3"])
    cfg = resolve_train_config(given)
    run.mkdir()
    RunDir(run).write_json("config.json", cfg.to_dict())  # then the disk filled up
    assert resolve_train_config(given) == cfg
    _, other = parse(["train", "--run-dir", str(run), "--epochs", "4"])
    with pytest.raises(CadenzaError, match="already holds a run"):
        resolve_train_config(other)


# --- 6, 7, 9. the corpus --------------------------------------------------------

def midi_folder(folder: Path, count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    notes = []
    for i in range(count):
        pitches = rng.integers(40, 90, 6)
        write_song(folder / f"song{i:02d}.mid", [(k, k + 1, p) for k, p in enumerate(pitches)])
        notes.append(pitches)
    return notes


def prepare_cli(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", "prepare", *map(str, args)],
                          capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={**os.environ, **(env or {})})


def test_every_entry_named_midi_is_counted(tmp_path):
    data = tmp_path / "data"
    midi_folder(data, 3)
    os.mkfifo(data / "pipe.mid")
    (data / "null.mid").symlink_to("/dev/null")
    (data / "dead.MID").symlink_to("nowhere.mid")
    done = prepare_cli("--data-dir", data, "--cache-dir", tmp_path / "c")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stderr.splitlines()) == [
        "skipped dead.MID: cannot read it (No such file or directory)",
        "skipped null.mid: not a regular file (a character device)",
        "skipped pipe.mid: not a regular file (a FIFO)"]
    assert "used 3 files, skipped 3, ignored 0 non-MIDI" in done.stdout


def test_the_cache_holds_the_verdict_of_the_bytes_parsed(tmp_path, monkeypatch):
    data, cache = tmp_path / "data", tmp_path / "cache"
    write_song(data / "song.mid", [(0, 1, 60)])
    first = (data / "song.mid").read_bytes()
    write_song(tmp_path / "other.mid", [(0, 2, 72), (2, 3, 74)])
    real = corpus_mod._content_key

    def key_then_edit(path, fingerprint):  # the file changes between hashing and parsing
        key = real(path, fingerprint)
        shutil.copy(tmp_path / "other.mid", path)
        return key

    monkeypatch.setattr(corpus_mod, "_content_key", key_then_edit)
    config = DataConfig(data_dir=data, cache_dir=cache, jobs=1)
    [edited] = corpus_mod.prepare(config, Codec(), log=print).songs
    np.testing.assert_array_equal(edited.notes[:, 2], [72, 74])  # what was parsed
    monkeypatch.setattr(corpus_mod, "_content_key", real)
    (data / "song.mid").write_bytes(first)
    again = corpus_mod.prepare(config, Codec(), log=print)
    np.testing.assert_array_equal(again.songs[0].notes[:, 2], [60])  # not the other bytes'
    assert (again.parsed, again.cached) == (1, 0)


def test_smpte_division_files_are_read(tmp_path):
    from test_hostile import one_note, smf, track

    data = tmp_path / "data"
    data.mkdir()
    (data / "smpte.mid").write_bytes(smf(track(one_note(60, 500)), tpq=-(25 << 8) + 40))
    (data / "metrical.mid").write_bytes(smf(track(one_note(62, 480))))
    done = prepare_cli("--data-dir", data, "--cache-dir", tmp_path / "c")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "used 2 files, skipped 0" in done.stdout


# --- 8. library use without a __main__ guard ------------------------------------

HEAD = """import sys
sys.path.insert(0, {repo!r})
from pathlib import Path
from trainer.music.codec import Codec
from trainer.config import DataConfig
from trainer.music.corpus import prepare
print("top level ran")
"""
BODY = """corpus = prepare(DataConfig(data_dir=Path({data!r}), cache_dir=Path({cache!r}), jobs=2),
                 Codec())
print(len(corpus.songs), "songs,", len(corpus.skipped), "skipped")
"""


@pytest.mark.parametrize("how", ["unguarded script", "stdin", "guarded script"])
def test_library_use_from_any_script(tmp_path, how):
    data = tmp_path / "data"
    midi_folder(data, 20)  # above SERIAL_BELOW, so a pool would be used
    body = BODY.format(data=str(data), cache=str(tmp_path / "cache"))
    guarded = how == "guarded script"
    if guarded:
        body = "if __name__ == '__main__':\n" + textwrap.indent(body, "    ")
    source = HEAD.format(repo=str(REPO)) + body
    script = tmp_path / "compose.py"
    script.write_text(source)
    command = [sys.executable, "-"] if how == "stdin" else [sys.executable, str(script)]
    done = subprocess.run(command, input=source if how == "stdin" else None,
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    *top, result = done.stdout.splitlines()
    assert result == "20 songs, 0 skipped"
    # unguarded code runs once; a guarded script's top level also runs in each worker, as
    # Python's spawn always does, which shows that its workers were used (workers print at
    # once, so their lines may run together: count the words, not the lines)
    ran = "\n".join(top).count("top level ran")
    assert "".join(top).replace("top level ran", "") == "" and ran >= 1
    assert guarded or ran == 1
    assert ("parsing on one process" in done.stderr) == (not guarded), done.stderr


# --- 10. no traceback for any bad input -----------------------------------------

@pytest.mark.parametrize("args, needle", [
    (["sample", "--temperature", "inf"], "--temperature: must be a finite number"),
    (["sample", "--temperature", "nan"], "--temperature"),
    (["sample", "--seed", "-1"], "--seed: must be 0.."),
    (["evaluate", "--temperature", "inf"], "--temperature: must be a finite number"),
    (["evaluate", "--seed", "-1"], "--seed"),
])
def test_bad_sampling_flags(trained, tmp_path, args, needle):
    out = ["--out-dir", tmp_path / "songs"] if args[0] == "sample" else []
    one_error(cli(*args, "--run-dir", trained, *out, check=False), needle)
    assert not (tmp_path / "songs").exists()


@pytest.mark.parametrize("command", ["train", "sample", "evaluate", "sample --out-dir"])
def test_a_file_where_a_folder_belongs(trained, tmp_path, command):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    if command == "sample --out-dir":
        args, flag = ["sample", "--run-dir", trained, "--out-dir", a_file], "--out-dir"
    else:
        args, flag = [command, "--run-dir", a_file], "--run-dir"
        args += ["--out-dir", tmp_path / "songs"] if command == "sample" else []
    one_error(cli(*args, check=False), f"{flag} {a_file} is a file, not a folder")
    assert a_file.read_text() == "mine"


@pytest.mark.parametrize("edit, needle", [
    (lambda v: v["params"].update(steps_per_beat=8), "disagrees with the codec settings"),
    (lambda v: v.pop("params"), "params lack"),
    (lambda v: v["params"].update(max_shift="16"), "params are unusable"),
    (lambda v: v.update(params=[1, 2]), "params lack"),
])
def test_a_vocab_json_that_disagrees(trained, tmp_path, edit, needle):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    vocab = json.loads((run / "vocab.json").read_text())
    edit(vocab)
    (run / "vocab.json").write_text(json.dumps(vocab))
    one_error(cli("sample", "--run-dir", run, "--out-dir", tmp_path / "songs", check=False),
              "vocab.json", needle)
    assert not (tmp_path / "songs").exists()


def test_a_non_utf8_data_dir_on_a_utf8_stdout(tmp_path):
    data = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    midi_folder(data, 2)
    done = prepare_cli("--data-dir", data, "--cache-dir", tmp_path / "c",
                       env={"PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert f"{tmp_path}/caf\\xe9: used 2 files" in done.stdout


def test_names_holding_escape_sequences_are_printed_escaped(tmp_path):
    data = tmp_path / "data"
    midi_folder(data, 2)
    (data / "\x1b[2J\x1b]0;owned\x07.mid").write_bytes(b"junk")
    done = prepare_cli("--data-dir", data, "--cache-dir", tmp_path / "c")
    assert done.returncode == 0 and "\x1b" not in done.stderr + done.stdout
    assert "skipped \\x1b[2J\\x1b]0;owned\\x07.mid: not a MIDI file" in done.stderr
    missing = tmp_path / "gone\x1b[31m"
    line = one_error(prepare_cli("--data-dir", missing), "does not exist")
    assert "gone\\x1b[31m" in line and "\x1b" not in line

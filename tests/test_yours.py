"""Make it yours in headless Chromium: adapt a shipped model to a visitor's MIDI files.

The built site and browser come from conftest.py's fixtures. The visitor's files are
short tunes this test writes (a few seconds of adapting for the folk model). The whole
path: pick files, adapt, see the held-out figures and the curve, compose with the
model on the Compose page, reload and compose again, download the .zip (which
`python -m trainer sample --run-dir` reads), rename, delete. Then every bad input:
no usable file, a drums-only and a huge file among good ones, storage refused, storage
full, cancelling and closing the tab mid-training; none loses a model.
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

import pytest
from conftest import cli, write_song
from test_site import COMPOSE, open_compose, page, wait_settled  # noqa: F401

pytestmark = pytest.mark.browser

YOURS = "[data-cadenza=yours]"
D_MAJOR = [62, 64, 66, 67, 69, 71, 73, 74, 76, 78]


def tunes(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """`count` short tunes in D major, a stepwise walk of quarters and eighths each."""
    rng = random.Random(seed)
    paths = []
    for i in range(count):
        notes, t, degree = [], 0.0, 4
        while t < 32:
            length = rng.choice([0.5, 0.5, 1.0, 1.0, 2.0])
            degree = min(max(degree + rng.choice([-2, -1, -1, 1, 1, 2]), 0), len(D_MAJOR) - 1)
            notes.append((t, t + length, D_MAJOR[degree]))
            t += length
        paths.append(write_song(folder / f"tune{i:02d}.mid", notes))
    return paths


def open_yours(page, base: str) -> None:
    page.goto(base + "yours/")
    page.wait_for_function(f"document.querySelector('{YOURS}').dataset.state !== 'loading'")


def adapt(page, files, name: str, model: str = "folk", wait: bool = True) -> str:
    """Adapt `model` to files under name; returns the state it ended in (done, error)."""
    page.select_option("[data-cz=base]", model)
    page.fill("[data-cz=name]", name)
    page.set_input_files("[data-cz=files]", [str(f) for f in files])
    page.click("[data-cz=start]")
    if not wait:
        return ""
    page.wait_for_function(f"['done', 'error', 'idle'].includes("
                           f"document.querySelector('{YOURS}').dataset.state)", timeout=240_000)
    return page.get_attribute(YOURS, "data-state")


def saved_names(page) -> list[str]:
    return page.eval_on_selector_all("[data-cz=list] h3", "hs => hs.map(h => h.textContent)")


def menu(page) -> list[str]:
    return page.eval_on_selector_all("[data-cz=model] option", "os => os.map(o => o.value)")


def compose_with(page, base: str, model: str, seed: int) -> dict:
    open_compose(page, base)
    page.select_option("[data-cz=model]", model)
    page.fill("input[name=seed]", str(seed))
    page.fill("input[name=length]", "40")
    page.click("[data-cz=generate]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'generating'")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    return page.evaluate("window.cadenza.song()")


def test_adapt_compose_reload_download_rename_delete(page, base, tmp_path):
    open_yours(page, base)
    assert "None yet" in page.inner_text("[data-cz=storage-note]")
    assert adapt(page, tunes(tmp_path, 8), "Reels") == "done", page.inner_text("[data-cz=error]")
    learning = page.inner_text("[data-cz=learning]")
    assert "Learning from 7 songs" in learning and "1 song" in learning, learning
    assert saved_names(page) == ["Yours: Reels"]
    facts = page.inner_text("[data-cz=list] [data-cz=facts]")
    assert "held-out NLL per note" in facts and "before" in facts and "after" in facts, facts
    assert page.locator("[data-cz=list] svg polyline").count() == 2  # training and held out
    assert page.get_attribute(YOURS, "data-tensors") == "0"  # the adapter left none behind

    first = compose_with(page, base, "Yours: Reels", seed=5)
    assert first["notes"] and first["model"] == "Yours: Reels"
    assert "lives only in this browser" in page.inner_text("[data-cz=share-note]")
    assert "Yours: Reels" in menu(page)
    page.reload()  # the model survives a reload, and composes the same song again
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'loading'")
    again = compose_with(page, base, "Yours: Reels", seed=5)
    assert again["tokens"] == first["tokens"]
    shipped = compose_with(page, base, "folk", seed=5)  # the base model is unchanged
    assert shipped["tokens"] != first["tokens"]

    open_yours(page, base)
    with page.expect_download() as download:
        page.click("[aria-label='Download Yours: Reels']")
    zipped = tmp_path / "model.zip"
    download.value.save_as(zipped)
    with zipfile.ZipFile(zipped) as z:
        z.extractall(tmp_path / "unzipped")
    (folder,) = (tmp_path / "unzipped").iterdir()
    config = json.loads((folder / "config.json").read_text())
    assert config["name"] == "Reels" and config["adaptation"]["base"]["name"] == "folk"
    out = tmp_path / "songs"
    cli("sample", "--run-dir", folder, "--out-dir", out, "--num-files", 1, "--length", 30)
    assert list(out.glob("*.mid"))

    page.fill("[aria-label='New name for Yours: Reels']", "Jigs")
    page.click("[aria-label='Rename Yours: Reels']")
    page.wait_for_function("[...document.querySelectorAll('[data-cz=list] h3')]"
                           ".some(h => h.textContent === 'Yours: Jigs')")
    assert saved_names(page) == ["Yours: Jigs"]
    with page.expect_download() as download:  # the download says its name now
        page.click("[aria-label='Download Yours: Jigs']")
    download.value.save_as(tmp_path / "jigs.zip")
    with zipfile.ZipFile(tmp_path / "jigs.zip") as z:
        assert json.loads(z.read("cadenza-Jigs/config.json"))["name"] == "Jigs"
    open_compose(page, base)
    assert "Yours: Jigs" in menu(page) and "Yours: Reels" not in menu(page)

    open_yours(page, base)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[aria-label='Delete Yours: Jigs']")
    page.wait_for_function("!document.querySelector('[data-cz=list] h3')")
    assert "was deleted" in page.inner_text("[data-cz=notice]")
    open_compose(page, base)
    assert not [m for m in menu(page) if m.startswith("Yours: ")]
    assert page.recorder.errors == [] and page.recorder.foreign == []


def test_files_that_cannot_be_used_are_listed_and_none_stops_the_rest(page, base, tmp_path):
    good = tunes(tmp_path, 4)
    drums = write_song(tmp_path / "drums.mid", [(i, i + 0.5, 36) for i in range(16)], drums=True)
    text = tmp_path / "notes.mid"
    text.write_text("not a MIDI file at all")
    huge = tmp_path / "huge.mid"
    with open(huge, "wb") as f:  # sparse: 17 MB, never read
        f.truncate(17 * 1024 * 1024)
    readme = tmp_path / "readme.txt"
    readme.write_text("hello")
    open_yours(page, base)
    page.select_option("[data-cz=base]", "folk")
    page.set_input_files("[data-cz=files]", [str(p) for p in [*good, drums, text, huge, readme]])
    skipped = page.inner_text("[data-cz=skipped]")
    assert "huge.mid: 17,825,792 bytes, more than the 16,777,216" in skipped, skipped
    assert "readme.txt: not a MIDI file" in skipped, skipped
    assert adapt(page, [*good, drums, text, huge, readme], "Mixed") == "done", \
        page.inner_text("[data-cz=error]")
    skipped = page.inner_text("[data-cz=skipped]")
    assert "drums.mid: drums only" in skipped and "notes.mid: not a MIDI file" in skipped, skipped
    assert "huge.mid" in skipped
    assert "Learning from 3 songs" in page.inner_text("[data-cz=learning]")
    assert saved_names(page) == ["Yours: Mixed"]

    # no usable file: a message, and the model saved before is still there
    assert adapt(page, [drums, text], "Nothing") == "error"
    assert "no usable file" in page.inner_text("[data-cz=error]")
    assert saved_names(page) == ["Yours: Mixed"]
    assert page.recorder.errors == []


def test_storage_refused_keeps_the_model_to_download(browser, base, tmp_path):
    context = browser.new_context(accept_downloads=True)
    # as a private window of some browsers: IndexedDB is there, and refuses to open
    context.add_init_script("""
      IDBFactory.prototype.open = function () {
        const request = {};
        setTimeout(() => {
          Object.defineProperty(request, 'error', { value: new DOMException('refused',
            'InvalidStateError') });
          request.onerror && request.onerror({ target: request });
        }, 0);
        return request;
      };""")
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_yours(page, base)
    page.wait_for_function("document.querySelector('[data-cz=storage-note]').textContent"
                           ".includes('No model can be kept')")
    assert adapt(page, tunes(tmp_path, 4), "Private") == "error"  # adapted, not saved
    error = page.inner_text("[data-cz=error]")
    assert "could not be saved" in error and "private window" in error, error
    with page.expect_download() as download:
        page.click("[data-cz=keep]")
    zipped = tmp_path / "private.zip"
    download.value.save_as(zipped)
    names = zipfile.ZipFile(zipped).namelist()
    assert "cadenza-Private/config.json" in names and "cadenza-Private/parity.json" in names
    open_compose(page, base)  # the shipped models are listed as ever
    assert menu(page) and not [m for m in menu(page) if m.startswith("Yours: ")]
    context.close()


def test_storage_full_loses_no_earlier_model(page, base, tmp_path):
    files = tunes(tmp_path, 4)
    open_yours(page, base)
    assert adapt(page, files, "First") == "done"
    page.evaluate("""() => { IDBObjectStore.prototype.add = function () {
      throw new DOMException('the quota has been exceeded', 'QuotaExceededError'); }; }""")
    assert adapt(page, files, "Second") == "error"  # adapted, not saved
    error = page.inner_text("[data-cz=error]")
    assert "storage for this site is full" in error and "download it" in error, error
    assert page.is_visible("[data-cz=keep]")
    assert saved_names(page) == ["Yours: First"]


def test_cancel_and_closing_the_tab_mid_training_leave_every_model(browser, base, tmp_path):
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_yours(page, base)
    files = tunes(tmp_path, 20, seed=1)
    assert adapt(page, files[:4], "Kept") == "done"
    adapt(page, files, "Cancelled", model="chorales", wait=False)
    page.wait_for_function(f"document.querySelector('{YOURS}').dataset.state === 'training'")
    page.click("[data-cz=cancel]")
    assert page.get_attribute(YOURS, "data-state") == "idle"
    assert "Cancelled: nothing was saved" in page.inner_text("[data-cz=status]")
    assert saved_names(page) == ["Yours: Kept"]

    adapt(page, files, "Closed", model="chorales", wait=False)
    page.wait_for_function(f"document.querySelector('{YOURS}').dataset.state === 'training'")
    page.close()  # mid-training
    page = context.new_page()
    page.set_default_timeout(60_000)
    open_yours(page, base)
    page.wait_for_function("document.querySelector('[data-cz=list] h3')")
    assert saved_names(page) == ["Yours: Kept"]
    assert compose_with(page, base, "Yours: Kept", seed=3)["notes"]
    assert compose_with(page, base, "chorales", seed=3)["notes"]
    context.close()


def test_a_model_of_yours_takes_a_key_and_harmonizes_as_its_base(page, base, tmp_path):
    open_yours(page, base)
    assert adapt(page, tunes(tmp_path, 4), "Hymns", model="chorales") == "done"
    open_compose(page, base)
    page.select_option("[data-cz=model]", "Yours: Hymns")
    page.wait_for_function("document.querySelector('[data-cz=choice-note]').textContent"
                           ".includes('training')")  # the base's keys, with their counts
    page.select_option("[data-cz=key]", "D:major")
    page.fill("input[name=seed]", "2")
    page.fill("input[name=length]", "40")
    page.click("[data-cz=generate]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'generating'")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    song = page.evaluate("window.cadenza.song()")
    assert song["meta"]["key"] == [2, "major"]

    tune = [(i, i + 1, (62, 66, 69, 67, 64, 62)[i % 6]) for i in range(12)]
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "tune.mid", tune)))
    page.wait_for_function("document.querySelector('[data-cz=rec-status]').textContent"
                           ".startsWith('Your melody: 12 notes')")
    page.click("[data-cz=harmonize]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'generating'")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    harmonized = page.evaluate("window.cadenza.song()")
    assert harmonized["model"] == "Yours: Hymns" and harmonized["mode"] == "harmonize"
    tops = {n["pitch"] for n in harmonized["melody"]}
    assert tops <= {62, 66, 69, 67, 64} | {p + 12 for p in (62, 66, 69, 67, 64)}
    assert len(harmonized["notes"]) > len(harmonized["melody"])  # voices below the melody
    assert page.recorder.errors == []

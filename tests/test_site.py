"""The built site in real headless Chromium: loads clean, composes, downloads, survives navigation.

Builds the site (``mkdocs build --strict``) into a temporary folder, serves it
on 127.0.0.1 and drives the Chromium or Chrome of ``scripts/headless.py``'s
``find_browser()`` (``$CADENZA_CHROMIUM`` first; skipped when there is none) through
Playwright. Needs at least one model under ``site/models/`` (the tests use the
first of the menu).
Leaves a screenshot of the Compose page in ``build/screenshots/compose.png``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pretty_midi
import pytest

from conftest import PHRASE, write_song

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from headless import FLAGS, BrowserNotFound, find_browser, serve  # noqa: E402

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["", "compose/", "examples/", "how-it-works/", "train/", "model-card/"]
COMPOSE = "[data-cadenza=compose]"
PRIME_NOTES = 16  # web/src/compose.js: notes of an upload that start the song
LOCAL = ("blob:", "data:")  # object URLs the page makes itself (Tone's clock, downloads)


@pytest.fixture(scope="module")
def chromium() -> Path:
    """The browser to drive; the browser tests skip, saying what to install, without one."""
    try:
        return find_browser()
    except BrowserNotFound as e:
        pytest.skip(f"browser tests: {e}")


@pytest.fixture(scope="module")
def served(tmp_path_factory, chromium):
    """(folder, URL) of a silent static server, before anything is in the folder."""
    folder = tmp_path_factory.mktemp("site")
    server, url = serve(folder)
    yield folder, url
    server.shutdown()


@pytest.fixture(scope="module")
def site(served) -> Path:
    """The site built into the served folder, with site_url set to the server's URL
    (Material's instant navigation only follows links under site_url)."""
    if shutil.which("node") is None:
        pytest.skip("building the site needs Node 20 (the JavaScript bundle)")
    if not any((ROOT / "site" / "models").glob("*/config.json")):
        pytest.skip("no model under site/models/ to compose with")
    folder, url = served
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(folder)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "CADENZA_SITE_URL": url})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return folder


@pytest.fixture(scope="module")
def base(site, served) -> str:
    return served[1]


@pytest.fixture(scope="module")
def browser(site, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=FLAGS)
        yield browser
        browser.close()


class Recorder:
    """Console errors, uncaught exceptions and requests leaving the site's origin."""

    def __init__(self, page, base: str):
        self.errors, self.foreign = [], []
        page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: r.url.startswith((base, *LOCAL)) or
                self.foreign.append(r.url))


@pytest.fixture
def page(browser, base):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.recorder = Recorder(page, base)
    page.set_default_timeout(60_000)
    yield page
    page.unroute_all(behavior="ignoreErrors")
    context.close()


def open_compose(page, base: str, url: str = "compose/"):
    page.goto(base + url)
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'loading'")


def wait_settled(page) -> str:
    page.wait_for_function(
        f"['done', 'error', 'idle'].includes(document.querySelector('{COMPOSE}').dataset.state)")
    return page.get_attribute(COMPOSE, "data-state")


def generate(page, seed: int, length: int = 60) -> dict:
    """Compose with seed and length; returns window.cadenza.song()."""
    page.fill("input[name=seed]", str(seed))
    page.fill("input[name=length]", str(length))
    page.click("[data-cz=generate]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'generating'")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    return page.evaluate("window.cadenza.song()")


def test_every_page_loads_clean_and_local(page, base, site):
    for path in PAGES:
        page.goto(base + path, wait_until="networkidle")
        assert page.locator("article h1").count() == 1, path
    open_compose(page, base)
    listed = [m["name"] for m in json.loads((site / "models" / "index.json").read_text())["models"]]
    menu = page.eval_on_selector_all("[data-cz=model] option", "os => os.map(o => o.value)")
    assert menu == listed
    generate(page, seed=3, length=20)
    assert page.recorder.errors == []
    assert page.recorder.foreign == []


def test_a_seed_names_a_song_and_nothing_leaks(page, base):
    open_compose(page, base)
    first, again = generate(page, seed=11), generate(page, seed=11)
    assert len(first["notes"]) > 0
    assert first["notes"] == again["notes"] and first["tokens"] == again["tokens"]
    assert first["numTensors"] == again["numTensors"]  # no tensor left behind per song
    assert generate(page, seed=12)["tokens"] != first["tokens"]
    shot = ROOT / "build" / "screenshots" / "compose.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    generate(page, seed=7, length=200)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)
    assert page.recorder.errors == []


def test_downloaded_midi_holds_the_notes_shown(page, base, tmp_path):
    open_compose(page, base)
    song = generate(page, seed=5)
    with page.expect_download() as download:
        page.click("[data-cz=mid]")
    path = tmp_path / "song.mid"
    download.value.save_as(path)
    midi = pretty_midi.PrettyMIDI(str(path))
    step = 60 / song["settings"]["tempo"] / song["stepsPerBeat"]
    got = sorted((round(n.start / step), round((n.end - n.start) / step), n.pitch)
                 for inst in midi.instruments for n in inst.notes)
    shown = sorted((n["start"], n["duration"], n["pitch"]) for n in song["notes"])
    assert got == shown


def test_wav_download_is_a_rendered_song(page, base, tmp_path):
    open_compose(page, base)
    song = generate(page, seed=5, length=20)
    with page.expect_download() as download:
        page.click("[data-cz=wav]")
    data = Path(download.value.path()).read_bytes()
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    seconds = (len(data) - 44) / 2 / 44100
    end = max(n["start"] + n["duration"] for n in song["notes"])
    assert seconds >= end * 60 / song["settings"]["tempo"] / song["stepsPerBeat"]
    assert any(data[44:][i] for i in range(0, len(data) - 44, 97))  # not silence


def test_uploads_prime_the_song_or_show_an_error(page, base, tmp_path):
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "upload")
    page.set_input_files("[data-cz=file]", {"name": "notes.mid", "mimeType": "audio/midi",
                                            "buffer": b"this is not a MIDI file at all"})
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    assert "not a MIDI file" in page.inner_text("[data-cz=error]")
    page.set_input_files("[data-cz=file]", str(write_song(tmp_path / "phrase.mid", PHRASE)))
    page.wait_for_function("document.querySelector('[data-cz=error]').hidden")
    song = generate(page, seed=1, length=40)
    assert song["primeNotes"] == PRIME_NOTES < len(PHRASE)
    # the first PRIME_NOTES of PHRASE in 16th-note steps, highest pitch first; a
    # generated note may cut a prime note short (same pitch, later onset), never lengthen it
    phrase = sorted(((round(s * 4), round((e - s) * 4), p) for s, e, p in PHRASE),
                    key=lambda n: (n[0], -n[2]))[:PRIME_NOTES]
    shown = [(n["start"], n["duration"], n["pitch"]) for n in song["notes"][:PRIME_NOTES]]
    assert [(s, p) for s, _, p in shown] == [(s, p) for s, _, p in phrase]
    assert all(1 <= d <= want for (_, d, _), (_, want, _) in zip(shown, phrase))

def test_instant_navigation_away_and_back_keeps_composing(page, base):
    open_compose(page, base)
    before = generate(page, seed=21)
    page.evaluate("window.__same_document = true")
    page.click("nav.md-tabs >> text=How it works")
    page.wait_for_url("**/how-it-works/")
    page.click("nav.md-tabs >> text=Compose")
    page.wait_for_url("**/compose/")
    page.wait_for_function(f"document.querySelector('{COMPOSE}')?.dataset.state === 'idle'")
    assert page.evaluate("window.__same_document") is True  # no full reload happened
    assert generate(page, seed=21)["notes"] == before["notes"]
    assert page.recorder.errors == []


def test_share_link_recreates_the_song(page, base):
    open_compose(page, base)
    page.fill("input[name=temperature]", "0.8")
    song = generate(page, seed=33, length=50)
    link = page.input_value("[data-cz=share]")
    assert "seed=33" in link and "t=0.8" in link
    page.goto("about:blank")
    page.goto(link)
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert page.evaluate("window.cadenza.song()")["notes"] == song["notes"]


def test_home_player_composes_a_song(page, base):
    page.goto(base)
    page.wait_for_function(
        "document.querySelector('[data-cadenza=quick]').dataset.state === 'idle'")
    page.click("[data-cadenza=quick] [data-cz=generate]")
    page.wait_for_function("['done', 'error'].includes("
                           "document.querySelector('[data-cadenza=quick]').dataset.state)")
    quick = page.locator("[data-cadenza=quick]")
    assert quick.get_attribute("data-state") == "done", quick.inner_text()
    notes = int(quick.get_attribute("data-notes"))
    assert notes > 0
    assert "compose/#" in page.get_attribute("[data-cz=open]", "href")
    page.click("[data-cz=open]")  # instant navigation, with the song's settings in the hash
    page.wait_for_function(f"document.querySelector('{COMPOSE}')?.dataset.state === 'done'")
    assert len(page.evaluate("window.cadenza.song()")["notes"]) == notes
    assert page.recorder.errors == []


def test_a_model_that_fails_to_load_is_reported(page, base):
    page.route("**/model.json", lambda route: route.fulfill(status=404, body="gone"))
    open_compose(page, base)
    page.click("[data-cz=generate]")
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    assert "could not be loaded" in page.inner_text("[data-cz=error]")
    assert page.get_attribute(COMPOSE, "data-state") == "error"


def test_missing_audio_is_reported(page, base):
    page.route("**/assets/piano/**", lambda route: route.abort())
    open_compose(page, base)
    generate(page, seed=2, length=20)
    page.click("[data-cz=play]")
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    assert "no audio" in page.inner_text("[data-cz=error]")


def test_generation_can_be_cancelled_and_restarted(page, base):
    held = []  # model.json requests held back: the model is still loading at Cancel
    page.route("**/model.json", lambda route: held.append(route))
    open_compose(page, base)
    page.click("[data-cz=generate]")
    page.click("[data-cz=cancel]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'idle'")
    assert page.inner_text("[data-cz=status]") == "Cancelled."
    page.unroute("**/model.json")
    from playwright.sync_api import Error

    for route in held:
        try:
            route.abort()
        except Error:  # the request may have gone with the terminated worker
            pass
    assert len(generate(page, seed=4)["notes"]) > 0


def test_an_example_primes_the_song_and_travels_in_the_share_link(page, base, tmp_path):
    midi = write_song(tmp_path / "phrase.mid", PHRASE).read_bytes()
    index = {"examples": [{"title": "A phrase", "model": "any", "midi": "test/phrase.mid"}]}
    page.route("**/examples/index.json", lambda r: r.fulfill(json=index))
    page.route("**/examples/test/phrase.mid", lambda r: r.fulfill(body=midi))
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "example:test/phrase.mid")
    song = generate(page, seed=8, length=30)
    assert song["primeNotes"] == PRIME_NOTES
    link = page.input_value("[data-cz=share]")
    assert "prime=example%3Atest%2Fphrase.mid" in link
    page.goto("about:blank")
    page.goto(link)
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert page.evaluate("window.cadenza.song()")["tokens"] == song["tokens"]


def test_a_share_link_to_a_missing_model_says_so(page, base):
    open_compose(page, base, "compose/#model=no-such-model&seed=3")
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    assert 'model "no-such-model" is not on this site' in page.inner_text("[data-cz=error]")

"""The built site in real headless Chromium: loads clean, composes, downloads, survives navigation.

Builds the site (``mkdocs build --strict``) into a temporary folder, serves it
on 127.0.0.1 (conftest.py's ``site``, ``base`` and ``browser``: one build, server and
browser per test process, shared by every browser test) and drives the Chromium or Chrome of ``scripts/headless.py``'s
``find_browser()`` (``$CADENZA_CHROMIUM`` first; skipped when there is none) through
Playwright. Needs at least one model under ``site/models/`` (the tests use the
first of the menu).
Leaves a screenshot of the Compose page in ``build/screenshots/compose.png``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pretty_midi
import pytest
from conftest import PHRASE, write_song

from trainer.music.codec import Meta
from trainer.music.midi_io import pickup_pad

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["", "compose/", "yours/", "examples/", "how-it-works/", "train/", "model-card/"]
COMPOSE = "[data-cadenza=compose]"
PRIME_NOTES = 16  # web/src/page/compose.js: notes of an upload that start the song
LOCAL = ("blob:", "data:")  # object URLs the page makes itself (Tone's clock, downloads)


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
    meta = song.get("meta")  # a pickup is padded with rest to a whole bar in the file
    pad = pickup_pad(Meta.from_json(meta), song["stepsPerBeat"]) if meta else 0
    shown = sorted((n["start"] + pad, n["duration"], n["pitch"]) for n in song["notes"])
    assert got == shown
    if meta:  # the file states the song's key (and its meter, unless "other")
        assert len(midi.key_signature_changes) == 1
        if meta["meter"] != "other":
            assert [(t.numerator, t.denominator) for t in midi.time_signature_changes][:1] \
                == [tuple(meta["meter"])]


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
    release(held)
    assert len(generate(page, seed=4)["notes"]) > 0


def release(held) -> None:
    """Let the requests a test held back (its page.route) go."""
    from playwright.sync_api import Error

    for route in held:
        try:
            route.abort()
        except Error:  # the request may have gone with the terminated worker
            pass


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


# --- issue 11: streaming playback, transport, roll, notation, fixes, phone, axe ---

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}


def state(page) -> str:
    return page.get_attribute(COMPOSE, "data-state")


def axe_violations(page) -> list:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']})")["violations"]
    return [(v["id"], [n["target"] for n in v["nodes"]]) for v in found]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, PHONE],
                         ids=["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_violation_on_any_page(browser, base, viewport, scheme):
    if not AXE.exists():
        pytest.skip("axe-core is not installed (npm ci)")
    context = browser.new_context(viewport=viewport, color_scheme=scheme)
    page = context.new_page()
    try:
        for path in PAGES:
            page.goto(base + path, wait_until="networkidle")
            if path == "compose/":
                page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state "
                                       "=== 'idle'")
            assert axe_violations(page) == [], (path, viewport, scheme)
        open_compose(page, base)  # and with a song, its text and its sheet music open
        generate(page, seed=3, length=40)
        page.click("summary >> text=The song as text")
        page.click("summary >> text=Sheet music")
        page.wait_for_selector("[data-cz=score][data-state=done]")
        assert axe_violations(page) == []
    finally:
        context.close()


def test_streaming_playback_sounds_before_the_song_is_composed(page, base):
    open_compose(page, base)
    generate(page, seed=1, length=20)  # the model is loaded
    page.click("[data-cz=play]")  # and the piano samples (an idle machine composes the
    page.wait_for_function("window.cadenza.player.state === 'playing'")  # next song in
    page.click("[data-cz=stop]")  # about 0.6 s, which loading them would take too)
    page.fill("input[name=length]", "1500")
    page.evaluate("""() => {
      const root = document.querySelector('[data-cadenza=compose]');
      new MutationObserver(() => { if (root.dataset.state === 'done') window.__doneAt ??=
        performance.now(); }).observe(root, {attributes: true});
      window.__clickAt = performance.now();
      document.querySelector('[data-cz=play-generate]').click();
    }""")
    page.wait_for_function("window.__doneAt !== undefined")
    first, done, click = page.evaluate(
        "[window.cadenza.player.firstSoundAt, window.__doneAt, window.__clickAt]")
    assert first is not None and first < done  # heard while the worker was composing
    assert first - click < 1000  # bench/browser.py measures the 300 ms target on a quiet machine
    assert page.evaluate("window.cadenza.player.state") == "playing"
    assert page.evaluate("window.cadenza.player.count") == len(
        page.evaluate("window.cadenza.song()")["notes"])
    page.click("[data-cz=play]")  # Pause
    paused = page.evaluate("window.cadenza.player.position()")
    page.wait_for_timeout(300)
    assert page.evaluate("window.cadenza.player.position()") == paused
    assert page.inner_text("[data-cz=play]") == "Resume"
    page.click("[data-cz=play]")
    page.wait_for_function(f"window.cadenza.player.position() > {paused}")
    assert page.recorder.errors == []


def test_loop_seek_and_live_tempo(page, base):
    open_compose(page, base)
    generate(page, seed=2, length=80)
    roll = page.locator("[data-cz=roll]").bounding_box()
    assert page.evaluate("window.cadenza.player.state") == "stopped"
    page.mouse.click(roll["x"] + 6 * 32, roll["y"] + 100)  # 6 px a step: step 32, bar 3
    page.wait_for_function("window.cadenza.player.state === 'playing'")
    assert 31 <= page.evaluate("window.cadenza.player.position()") < 40
    # drag across bars 2-3 (steps 16..48, 6 px a step): a loop range
    page.mouse.move(roll["x"] + 6 * 16, roll["y"] + 100)
    page.mouse.down()
    page.mouse.move(roll["x"] + 6 * 30, roll["y"] + 100)
    page.mouse.move(roll["x"] + 6 * 48, roll["y"] + 100)
    page.mouse.up()
    assert page.input_value("[data-cz=loop]") == "range"
    page.fill("input[name=tempo]", "240")  # fill fires input: the tempo changes as it plays
    assert page.evaluate("window.cadenza.player.bpm") == 240
    seen = page.evaluate("""() => new Promise((done) => {
      const seen = []; const t0 = performance.now();
      const tick = () => { seen.push(window.cadenza.player.position());
        if (performance.now() - t0 < 2500) requestAnimationFrame(tick); else done(seen); };
      tick(); })""")
    # 32 steps at 240 BPM take 2 s: in 2.5 s the playhead wrapped, staying inside the range
    assert all(15.5 <= s <= 48.5 for s in seen), (min(seen), max(seen))
    assert any(b < a for a, b in zip(seen, seen[1:]))  # it went back to the start of the range
    assert page.evaluate("window.cadenza.player.state") == "playing"
    page.select_option("[data-cz=loop]", "off")
    page.fill("[data-cz=volume]", "10")
    page.click("[data-cz=stop]")
    assert page.evaluate("window.cadenza.player.state") == "stopped"
    assert page.recorder.errors == []


def test_cancel_leaves_no_earlier_song_behind(page, base):
    open_compose(page, base)
    generate(page, seed=1, length=20)
    page.fill("input[name=length]", "2000")
    # the model ends a song where it likes: one that ended before Cancel could be pressed
    # (a few hundred notes take a fraction of a second on a quiet machine) has hidden it
    # again, and the next seed is tried
    for seed in range(2, 12):
        page.fill("input[name=seed]", str(seed))
        page.click("[data-cz=generate]")
        page.wait_for_timeout(150)
        # in one turn of the page's thread: Cancel is pressed only while it shows
        if page.evaluate("() => { const b = document.querySelector('[data-cz=cancel]'); "
                         "if (b.hidden) return false; b.click(); return true; }"):
            break
        assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    else:
        pytest.fail("every song ended before Cancel could be pressed")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'idle'")
    song = page.evaluate("window.cadenza.song()")
    assert "seed=1" not in page.input_value("[data-cz=share]")
    if song is None:  # cancelled before the first note
        assert page.is_disabled("[data-cz=play]") and page.is_disabled("[data-cz=mid]")
    else:
        assert song["settings"]["seed"] == seed and page.is_disabled("[data-cz=share]")
        assert "Cancelled after" in page.inner_text("[data-cz=status]")
        with page.expect_download() as download:
            page.click("[data-cz=mid]")
        assert download.value.suggested_filename.endswith(f"-{seed}.mid")


def test_an_unknown_model_link_leaves_generate_working(page, base):
    open_compose(page, base, "compose/#model=no-such-model&seed=3")
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    assert "Loading" not in page.inner_text("[data-cz=status]")
    assert page.is_enabled("[data-cz=generate]")
    page.select_option("[data-cz=model]", index=0)
    assert page.is_hidden("[data-cz=error]")
    assert generate(page, seed=3, length=20)["settings"]["seed"] == 3


def test_errors_are_worded_and_a_rejected_file_is_cleared(page, base):
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "upload")
    page.set_input_files("[data-cz=file]", {"name": "bad.mid", "mimeType": "audio/midi",
                                            "buffer": b"MThd nonsense"})
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    text = page.inner_text("[data-cz=error]")
    assert "undefined" not in text and "bad.mid" in text and "choose another file" in text
    assert "truncated or damaged: the header is cut short" in text  # as Python says it
    assert page.evaluate("document.querySelector('[data-cz=file]').files.length") == 0
    assert "Loading" not in page.inner_text("[data-cz=status]")
    page.click("[data-cz=generate]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'error'")
    assert "choose a MIDI file" in page.inner_text("[data-cz=error]")


def test_a_links_clamped_values_are_named(page, base):
    open_compose(page, base, "compose/#p=5&n=3&seed=9")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    notice = page.inner_text("[data-cz=notice]")
    assert 'top-p "5"' in notice and "so 1" in notice and 'length "3"' in notice
    assert page.input_value("input[name=topP]") == "1"


def test_the_page_says_an_uploaded_prime_stays_out_of_the_link(page, base, tmp_path):
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "upload")
    page.set_input_files("[data-cz=file]", str(write_song(tmp_path / "phrase.mid", PHRASE)))
    page.wait_for_function("document.querySelector('[data-cz=error]').hidden")
    generate(page, seed=1, length=30)
    assert page.is_visible("[data-cz=share-note]")
    assert "does not travel in the link" in page.inner_text("[data-cz=share-note]")


def test_enter_composes_focus_stays_and_fields_show_focus(page, base):
    open_compose(page, base)
    page.fill("input[name=length]", "24")
    page.focus("input[name=seed]")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    page.focus("[data-cz=generate]")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert page.evaluate("document.activeElement !== document.body")


def test_length_is_a_maximum_and_the_bar_ends_full(page, base):
    open_compose(page, base)
    assert "at most" in page.inner_text(".cz-form")
    song = generate(page, seed=4, length=2000)  # the model ends songs long before 2,000 notes
    status = page.inner_text("[data-cz=status]")
    assert len(song["notes"]) < 2000 and "ended the song after" in status
    assert page.is_visible("[data-cz=progress]")
    assert page.evaluate("document.querySelector('[data-cz=progress]').value") == 1


def test_text_alternative_legend_and_history(page, base):
    open_compose(page, base)
    song = generate(page, seed=5, length=40)
    generate(page, seed=6, length=40)
    summary = page.text_content("[data-cz=summary]")
    assert "40 notes" in summary
    meta = page.evaluate("window.cadenza.song()").get("meta")
    if meta:  # a v2 model: the key and meter the song states
        assert "key: " in summary and (" major" in summary or " minor" in summary)
        assert "assumed" not in summary and "unknown" not in summary
    else:
        assert "key: unknown / meter: 4/4 assumed" in summary
    end = max(n["start"] + n["duration"] for n in song["notes"])
    assert page.locator("[data-cz=bars] li").count() >= 1
    assert "melody" in page.inner_text(".cz-legend") and "prime" in page.inner_text(".cz-legend")
    assert page.get_attribute("[data-cz=roll] .cz-notes", "aria-label").startswith("Piano roll:")
    items = page.locator("[data-cz=history] li")
    assert items.count() == 2
    assert "seed=5" in items.nth(1).locator("a").get_attribute("href")
    items.nth(1).locator("button").click()
    assert page.evaluate("window.cadenza.song()")["notes"] == song["notes"]
    if song.get("meta"):  # its own bar lines (a pickup is a bar of its own)
        assert page.locator("[data-cz=bars] li").count() >= len(song["meta"]["bars"])
    else:
        assert page.locator("[data-cz=bars] li").count() == -(-end // 16)  # 4/4 assumed


def test_sheet_music_and_abc_download_of_a_melody(page, base):
    open_compose(page, base)
    page.select_option("[data-cz=model]", "folk")
    song = generate(page, seed=7, length=40)
    page.click("summary >> text=Sheet music")
    page.wait_for_selector("[data-cz=score][data-state=done] svg")
    assert page.locator("[data-cz=score] svg .abcjs-note").count() >= len(song["notes"])
    with page.expect_download() as download:
        page.click("[data-cz=abc]")
    abc = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "cadenza-folk-7.abc"
    meter = song.get("meta", {}).get("meter", [4, 4])
    stated = "none" if meter == "other" else f"{meter[0]}/{meter[1]}"
    assert abc.startswith("X:1\n") and f"\nM:{stated}\n" in abc and "\nL:1/16\n" in abc
    assert "\nK:" in abc and "V:2" not in abc  # one staff for a melody


def test_phone_layout_shows_generate_and_the_roll_in_two_rows(browser, base):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    try:
        open_compose(page, base)
        for name in ("play-generate", "generate"):
            box = page.locator(f"[data-cz={name}]").bounding_box()
            assert box["y"] + box["height"] <= PHONE["height"], name
        assert page.locator("[data-cz=roll]").bounding_box()["y"] + 40 <= PHONE["height"]
        rows = page.evaluate("""[...document.querySelectorAll('.cz-actions button')]
          .filter((b) => b.offsetParent).map((b) => Math.round(b.getBoundingClientRect().top))""")
        assert len({round(r / 8) for r in rows}) <= 2, rows
        assert page.is_visible(".cz-scrollhint")
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.screenshot(path=str(ROOT / "build" / "screenshots" / "compose-phone.png"))
    finally:
        context.close()


def test_examples_open_in_compose_and_have_sized_images(page, base, site):
    page.goto(base + "examples/")
    images = page.eval_on_selector_all(
        ".cz-example img", "is => is.map(i => [i.getAttribute('width'), i.getAttribute('height')])")
    assert images and all(w and h for w, h in images)
    link = page.locator("text=Open in Compose").first
    href = link.get_attribute("href")
    assert "seed=" in href and "model=" in href
    link.click()
    page.wait_for_function(f"document.querySelector('{COMPOSE}')?.dataset.state === 'done'")
    entry = json.loads((site / "examples" / "index.json").read_text())["examples"][0]
    got = page.evaluate("window.cadenza.song()")["settings"]
    assert (got["model"], got["seed"], got["temperature"]) == (
        entry["model"], entry["seed"], entry["temperature"])
    page.goto(base + "model-card/")
    assert page.evaluate("[...document.querySelectorAll('th')].every(t => t.textContent.trim())")


def test_a_first_visit_to_compose_moves_at_most_1_mb_until_ready(browser, base):
    context = browser.new_context()  # a fresh cache
    page = context.new_page()
    # at "Ready" (data-state idle), the bytes of every response so far (transferSize: headers
    # and body as sent; this test server does not compress)
    page.add_init_script("""new MutationObserver(() => {
      const root = document.querySelector('[data-cadenza=compose]');
      if (window.__ready || root?.dataset.state !== 'idle') return;
      const entries = [...performance.getEntriesByType('navigation'),
                       ...performance.getEntriesByType('resource')];
      window.__ready = entries.map((e) => [e.name, e.transferSize]);
    }).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-state']});""")
    try:
        open_compose(page, base)
        page.wait_for_function("window.__ready !== undefined")
        sizes = page.evaluate("window.__ready")
        until_ready = sum(size for _, size in sizes)
        assert until_ready <= 1_000_000, sorted(sizes, key=lambda s: -s[1])[:5]
        assert not any(url.endswith(("worker.js", ".bin")) for url, _ in sizes), sizes
        print(f"first visit to Compose until Ready: {until_ready:,} bytes "
              f"(uncompressed) in {len(sizes)} responses")
    finally:
        context.close()

"""The Compose page's melody input in headless Chromium: record, harmonize, continue, touch, errors.

The built site and browser come from conftest.py's fixtures. A melody
is recorded with simulated computer-key presses after the count-in (or tapped
on the on-screen piano with Playwright's touch emulation), harmonized with the
shipped chorales model and continued with the folk model, whose Harmonize is
off. Bad input (no melody, a drums-only file, a melody longer than Length)
is named on the page and leaves the melody as it was.
"""

from __future__ import annotations

import pretty_midi
import pytest
from conftest import write_song
from test_site import (AXE, COMPOSE, PHONE, Recorder, axe_violations, open_compose,  # noqa: F401
                       page, wait_settled)

from trainer.music.codec import Meta
from trainer.music.midi_io import pickup_pad

pytestmark = pytest.mark.browser

STATUS = "[data-cz=rec-status]"
ERROR = "[data-cz=melody-error]"
TUNE = "asdfgfds"  # C D E F G F E D from C4 on the computer keyboard
TUNE_PITCHES = [60, 62, 64, 65, 67, 65, 64, 62]
YOURS_RGB = (0, 137, 123)  # --cz-yours in the light scheme (site/assets/cadenza.css)


def choose(page, model: str) -> None:
    page.select_option("[data-cz=model]", model)
    page.wait_for_function("document.querySelector('[data-cz=choice-note]').textContent"
                           ".includes('training')")


def status_starts(page, text: str) -> None:
    page.wait_for_function(
        "t => document.querySelector('[data-cz=rec-status]').textContent.startsWith(t)", arg=text)


def record(page, keys: str, tempo: int = 120, beat_ms: int = 500, tap=None) -> list[dict]:
    """Record keys one a beat after the count-in (press half a beat, then let go);
    tap(i) plays key i instead of the computer keyboard. Returns the melody's notes."""
    page.fill("input[name=tempo]", str(tempo))
    page.click("[data-cz=record]") if tap is None else page.tap("[data-cz=record]")
    status_starts(page, "Counting in")
    status_starts(page, "Recording")
    for i, key in enumerate(keys):
        if tap is None:
            page.keyboard.down(key)
            page.wait_for_timeout(beat_ms // 2)
            page.keyboard.up(key)
            page.wait_for_timeout(beat_ms // 2)
        else:
            tap(i)
            page.wait_for_timeout(beat_ms)
    page.click("[data-cz=record]") if tap is None else page.tap("[data-cz=record]")
    status_starts(page, "Stopped")
    return page.evaluate("window.cadenza.melody()")["notes"]


def settle(page) -> dict:
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state !== 'generating'")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=error]")
    return page.evaluate("window.cadenza.song()")


def roll_colours(page) -> dict:
    """Pixels of the roll's note canvas: those of the melody's colour, and the others drawn."""
    return page.evaluate("""(yours) => {
      const canvas = document.querySelector('[data-cz=roll] .cz-notes');
      const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
      let mine = 0, other = 0;
      const close = (i) => yours.every((v, j) => Math.abs(data[i + j] - v) <= 2);
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] < 250) continue;
        if (close(i)) mine++; else other++;
      }
      return {mine, other};
    }""", list(YOURS_RGB))


def sounding_above(song: dict) -> list:
    """Generated notes that sound above (or at) the melody note sounding with them, or in a rest."""
    melody = [(m["start"], m["duration"], m["pitch"]) for m in song["melody"]]
    bad = []
    for n in song["notes"]:
        key = (n["start"], n["duration"], n["pitch"])
        if key in melody:
            continue
        over = [m for m in melody if m[0] < n["start"] + n["duration"] and n["start"] < m[0] + m[1]]
        if not any(m[0] <= n["start"] < m[0] + m[1] for m in melody) or \
                any(n["pitch"] >= m[2] for m in over):
            bad.append(key)
    return bad


def test_record_with_the_computer_keys_then_harmonize_play_and_download(page, base, tmp_path):
    open_compose(page, base)
    choose(page, "chorales")
    notes = record(page, TUNE)
    assert [n["pitch"] for n in notes] == TUNE_PITCHES
    starts = [n["start"] for n in notes]
    assert starts == sorted(set(starts)) and starts[0] >= 0
    assert all(1 <= n["duration"] <= 32 for n in notes)
    # a beat apart at 4 steps a beat, give or take a step of timing under load
    assert all(2 <= b - a <= 6 for a, b in zip(starts, starts[1:])), starts
    assert "8 notes" in page.inner_text(STATUS)
    assert roll_colours(page)["mine"] > 0  # the melody on the roll while nothing else is
    assert page.evaluate("document.getElementById('__search').checked") is False  # S, F kept
    sounded = page.evaluate("window.cadenza.sounded()")
    assert sounded >= len(TUNE)
    page.focus("input[name=temperature]")  # keys typed into a field stay there
    page.keyboard.press("a")
    page.keyboard.press("s")
    page.wait_for_timeout(300)
    assert page.evaluate("window.cadenza.sounded()") == sounded

    page.fill("input[name=temperature]", "1")
    page.fill("input[name=seed]", "3")
    page.click("[data-cz=harmonize]")
    song = settle(page)
    assert song["mode"] == "harmonize"
    shift = notes[0]["start"]  # the song starts at the first note (a pickup before bar 1)
    assert [(m["start"], m["duration"], m["pitch"]) for m in song["melody"]] == \
        [(n["start"] - shift, n["duration"], n["pitch"]) for n in notes]
    shown = {(n["start"], n["duration"], n["pitch"]) for n in song["notes"]}
    assert all((m["start"], m["duration"], m["pitch"]) in shown for m in song["melody"])
    assert len(song["notes"]) >= 2 * len(notes)  # harmony beneath the melody
    assert sounding_above(song) == []  # the melody is exactly the top voice
    colours = roll_colours(page)
    assert colours["mine"] > 0 and colours["other"] > 0  # melody and harmony on the roll
    assert "top voice" in page.text_content("[data-cz=summary]")
    assert page.is_disabled("[data-cz=share]")
    assert "does not travel" in page.inner_text("[data-cz=share-note]")

    page.click("[data-cz=play]")
    page.wait_for_function("window.cadenza.player.state === 'playing'")
    page.wait_for_function("window.cadenza.player.position() > 1")
    page.click("[data-cz=stop]")

    with page.expect_download() as download:
        page.click("[data-cz=mid]")
    assert download.value.suggested_filename == "cadenza-chorales-harmonized-3.mid"
    path = tmp_path / "harmonized.mid"
    download.value.save_as(path)
    midi = pretty_midi.PrettyMIDI(str(path))
    step = 60 / 120 / song["stepsPerBeat"]
    pad = pickup_pad(Meta.from_json(song["meta"]), song["stepsPerBeat"])
    got = sorted((round(n.start / step) - pad, round((n.end - n.start) / step), n.pitch)
                 for inst in midi.instruments for n in inst.notes)
    assert got == sorted(shown)
    assert page.recorder.errors == []


def test_the_on_screen_keyboard_plays_and_records_by_touch_on_a_phone(browser, base):
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.recorder = Recorder(page, base)
    page.set_default_timeout(60_000)
    try:
        open_compose(page, base)
        choose(page, "chorales")
        keyboard = page.locator("[data-cz=keyboard]")
        keyboard.scroll_into_view_if_needed()
        box = keyboard.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert page.locator("[data-cz=keyboard] button").count() == 25  # two octaves and a C
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        page.tap("[data-cz=keyboard] [aria-label=C4]")  # just playing: it sounds
        page.wait_for_function("window.cadenza.sounded() >= 1")
        assert page.evaluate("window.cadenza.melody()")["notes"] == []
        names = ["C4", "E4", "G4", "C5"]
        notes = record(page, "....", beat_ms=500,
                       tap=lambda i: page.tap(f"[data-cz=keyboard] [aria-label={names[i]}]"))
        assert [n["pitch"] for n in notes] == [60, 64, 67, 72]
        assert page.evaluate("window.cadenza.sounded()") >= 5
        page.tap("[data-cz=octave-up]")
        assert page.get_attribute("[data-cz=keyboard] button >> nth=0", "aria-label") == "C5"
        page.tap("[data-cz=undo]")
        assert [n["pitch"] for n in page.evaluate("window.cadenza.melody()")["notes"]] == \
            [60, 64, 67]
        assert page.recorder.errors == []
    finally:
        context.close()


def test_bad_input_is_named_and_the_melody_is_kept(page, base, tmp_path):
    open_compose(page, base)
    choose(page, "chorales")
    page.click("[data-cz=harmonize]")
    page.wait_for_selector(f"{ERROR}:not([hidden])")
    assert "there is no melody yet" in page.inner_text(ERROR)
    page.click("[data-cz=continue]")
    assert "there is no melody yet" in page.inner_text(ERROR)
    assert page.get_attribute(COMPOSE, "data-state") == "idle"  # nothing started

    tune = [(i, i + 1, 60 + (i * 5) % 12) for i in range(12)]  # 12 crotchets
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "tune.mid", tune)))
    status_starts(page, "Your melody: 12 notes")
    assert page.is_hidden(ERROR)
    kept = page.evaluate("window.cadenza.melody()")
    assert len(kept["notes"]) == 12 and "tune.mid" in kept["source"]

    drums = write_song(tmp_path / "drums.mid", [(0, 1, 36), (1, 2, 38)], drums=True)
    page.set_input_files("[data-cz=melody-file]", str(drums))
    page.wait_for_selector(f"{ERROR}:not([hidden])")
    text = page.inner_text(ERROR)
    assert "drums.mid" in text and "no notes (drums aside)" in text and "kept" in text
    assert page.evaluate("window.cadenza.melody()") == kept

    page.fill("input[name=length]", "8")
    for button in ("harmonize", "continue"):
        page.click(f"[data-cz={button}]")
        page.wait_for_function(
            "document.querySelector('[data-cz=melody-error]').textContent.includes('Length')")
        assert "the melody has 12 notes, and Length allows 8" in page.inner_text(ERROR)
        assert page.evaluate("window.cadenza.melody()") == kept
    if AXE.exists():
        assert axe_violations(page) == []

    page.click("nav.md-tabs >> text=How it works")  # instant navigation away and back
    page.wait_for_url("**/how-it-works/")
    page.click("nav.md-tabs >> text=Compose")
    page.wait_for_url("**/compose/")
    page.wait_for_function(f"document.querySelector('{COMPOSE}')?.dataset.state === 'idle'")
    assert page.evaluate("window.cadenza.melody()") == kept
    assert roll_colours(page)["mine"] > 0  # back on the roll
    assert page.recorder.errors == []


def test_a_files_meter_changes_go_into_the_harmony(page, base, tmp_path):
    tune = [(i, i + 1, (60, 64, 67, 65, 62)[i % 5]) for i in range(14)]  # 14 crotchets
    path = write_song(tmp_path / "changes.mid", tune)
    midi = pretty_midi.PrettyMIDI(str(path))
    midi.time_signature_changes = [pretty_midi.TimeSignature(3, 4, 0.0),  # 2 bars of 3/4,
                                   pretty_midi.TimeSignature(4, 4, midi.tick_to_time(6 * 480))]
    midi.write(str(path))  # then 4/4 from beat 6
    open_compose(page, base)
    choose(page, "chorales")
    page.set_input_files("[data-cz=melody-file]", str(path))
    status_starts(page, "Your melody: 14 notes in 3/4, then 4/4")
    melody = page.evaluate("window.cadenza.melody()")
    assert melody["meter"] == [3, 4] and melody["changes"] == [[24, [4, 4]]]
    lines = page.eval_on_selector_all("[data-cz=bars] li", "ls => ls.map(l => l.textContent)")
    bar4 = next(line for line in lines if line.startswith("Bar 4: "))
    assert "at beat 4 " in bar4 and "at beat 5 " not in bar4  # 4/4 bars from step 24
    page.fill("input[name=seed]", "2")
    page.click("[data-cz=harmonize]")
    song = settle(page)
    bars = [(b, m if m == "other" else f"{m[0]}/{m[1]}") for b, m in song["meta"]["bars"]]
    assert bars[:4] == [(0, "3/4"), (12, "3/4"), (24, "4/4"), (40, "4/4")], bars
    assert sounding_above(song) == []
    assert page.recorder.errors == []


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_melody_held_a_sixteenth_past_the_bar_line_ends_on_its_last_chord(page, base,
                                                                           tmp_path, seed):
    """Issue 29: it ended on a one-sixteenth chord struck under the held note at the
    bar line, dissonant. Now the song ends on the chord struck with the last melody
    note, held as long, within one major or minor triad."""
    tune = [(0, 1, 72), (1, 2, 71), (2, 3, 69), (3, 4.25, 67)]  # G4 held to a 16th past beat 4
    open_compose(page, base)
    choose(page, "chorales")
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "held.mid", tune)))
    status_starts(page, "Your melody: 4 notes")
    page.fill("input[name=seed]", str(seed))
    page.click("[data-cz=harmonize]")
    song = settle(page)
    last = song["melody"][-1]
    assert (last["start"], last["duration"]) == (12, 5)
    chord = [n for n in song["notes"] if n["start"] == last["start"]]
    assert len(chord) >= 3 and all(n["duration"] == 5 for n in chord), chord
    assert all(n["start"] + n["duration"] <= 12 for n in song["notes"] if n["start"] < 12)
    assert all(n["start"] <= 12 for n in song["notes"])
    classes = {n["pitch"] % 12 for n in chord}
    assert any(classes <= {(root + i) % 12 for i in triad}
               for triad in ((0, 4, 7), (0, 3, 7)) for root in range(12)), chord


def test_an_examples_top_line_is_a_melody(page, base, site):
    open_compose(page, base)
    choose(page, "chorales")
    menu = page.eval_on_selector_all("[data-cz=melody-example] option",
                                     "os => os.map(o => [o.value, o.textContent])")
    assert len(menu) > 1 and menu[0][0] == ""
    value, title = menu[1]
    page.select_option("[data-cz=melody-example]", value)
    status_starts(page, "Your melody: ")
    melody = page.evaluate("window.cadenza.melody()")
    assert melody["source"] == title and len(melody["notes"]) > 8
    starts = [n["start"] for n in melody["notes"]]
    assert starts == sorted(set(starts))  # one voice
    assert all(a["start"] + a["duration"] <= b["start"]
               for a, b in zip(melody["notes"], melody["notes"][1:]))
    assert page.input_value("[data-cz=melody-example]") == ""  # ready to choose again
    assert page.recorder.errors == []


def test_without_web_midi_the_page_says_so(browser, base):
    context = browser.new_context()
    context.add_init_script("delete Navigator.prototype.requestMIDIAccess")
    page = context.new_page()
    try:
        open_compose(page, base)
        assert page.is_disabled("[data-cz=midi]")
        assert "offers no Web MIDI" in page.inner_text("[data-cz=midi-note]")
        assert page.is_visible("[data-cz=midi-note]")
    finally:
        context.close()


def test_the_folk_model_continues_a_melody_and_cannot_harmonize_it(page, base, tmp_path):
    open_compose(page, base)
    choose(page, "folk")
    assert page.is_disabled("[data-cz=harmonize]")
    note = page.inner_text("[data-cz=harmonize-note]")
    assert page.is_visible("[data-cz=harmonize-note]") and "one line" in note
    tune = [(0, 0.5, 74), (0.5, 1, 76), (1, 2, 78), (2, 3, 74), (3, 4, 71), (4, 6, 74)]
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "jig.mid", tune)))
    status_starts(page, "Your melody: 6 notes")
    melody = page.evaluate("window.cadenza.melody()")["notes"]
    page.fill("input[name=length]", "40")
    page.fill("input[name=seed]", "2")
    page.click("[data-cz=continue]")
    song = settle(page)
    assert song["mode"] == "continue" and song["primeNotes"] == 6
    assert [(n["start"], n["duration"], n["pitch"]) for n in song["notes"][:6]] == \
        [(n["start"], n["duration"], n["pitch"]) for n in melody]
    assert len(song["notes"]) > 6  # the model answered
    assert roll_colours(page)["mine"] > 0
    assert page.is_disabled("[data-cz=harmonize]")
    assert page.recorder.errors == []

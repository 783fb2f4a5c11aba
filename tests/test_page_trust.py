"""What a visitor and a bad-input sweep found on the Compose page (issue 29), in Chromium:
one song per double-click, share links quoted short and plain, damaged or huge uploads
named as Python names them and read off the page's thread, a prime answered with at
least a bar, Copy's feedback, nothing cut off on a phone, beamed eighths, every page
under its Content-Security-Policy, and a first click that sounds its song's first onset."""

import pytest
from test_site import COMPOSE, open_compose, page, release, wait_settled  # noqa: F401  (page: fixture)

pytestmark = pytest.mark.browser


def center(page, selector: str) -> tuple[float, float]:
    box = page.locator(selector).bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


@pytest.mark.parametrize("clicks", [2, 20], ids=["double-click", "20 quick clicks"])
def test_a_double_or_rapid_click_on_generate_composes_one_song(page, base, clicks):
    open_compose(page, base)
    page.fill("input[name=length]", "30")
    x, y = center(page, "[data-cz=generate]")
    page.mouse.move(x, y)
    for count in range(1, clicks + 1):  # as a hand clicks: one after another, 80 ms apart
        page.mouse.down(click_count=count)
        page.mouse.up(click_count=count)
        page.wait_for_timeout(80)
    assert wait_settled(page) == "done", page.inner_text("[data-cz=status]")
    song = page.evaluate("window.cadenza.song()")
    assert len(song["notes"]) > 0 and not song.get("cancelled")
    assert page.evaluate("window.cadenza.history().length") == 1
    assert page.recorder.errors == []


# wraps the player's sound() to keep the indices of the notes it sounds
HEAR = """() => { const p = window.cadenza.player; window.__heard = [];
  const sound = p.sound.bind(p);
  p.sound = (piano, time, i) => { window.__heard.push(i); return sound(piano, time, i); }; }"""


@pytest.mark.parametrize("model", ["chorales", "folk"])
def test_every_play_from_the_first_click_of_a_visit_sounds_the_songs_first_onset(page, base,
                                                                                  model):
    # Tone 15.5 skipped the tick the transport starts on about one play in three, and a
    # chord whose later notes were composed after playing began lost them: the first
    # sound came a beat late (bench/browser.py --first-sound-only counts such songs)
    open_compose(page, base)
    page.select_option("[data-cz=model]", model)
    page.fill("input[name=length]", "60")
    page.evaluate(HEAR)
    for seed in range(1, 5):
        page.fill("input[name=seed]", str(seed))
        page.evaluate("window.cadenza.player.stop(); window.__heard.length = 0")
        page.click("[data-cz=play-generate]")
        page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done' "
                               "&& window.cadenza.player.firstSoundAt !== null")
        notes = page.evaluate("window.cadenza.song()")["notes"]
        first = [i for i, n in enumerate(notes) if n["start"] == notes[0]["start"]]
        page.wait_for_function(f"{first}.every((i) => window.__heard.includes(i))", timeout=3000)
        assert page.evaluate("window.cadenza.player.firstSoundStep") == notes[0]["start"]
    assert page.recorder.errors == []


def test_one_click_on_cancel_and_the_keyboard_still_cancel(page, base):
    held = []  # model.json requests held back: the model is still loading at each Cancel
    page.route("**/model.json", lambda route: held.append(route))
    open_compose(page, base)
    page.click("[data-cz=generate]")
    page.click("[data-cz=cancel]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'idle'")
    page.click("[data-cz=generate]")
    page.focus("[data-cz=cancel]")
    page.keyboard.press("Enter")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'idle'")
    assert page.inner_text("[data-cz=status]").startswith("Cancelled")
    page.unroute("**/model.json")
    release(held)


def test_a_links_values_are_quoted_short_and_plain_and_none_is_dropped_unsaid(page, base):
    huge = "x" * 200_000
    open_compose(page, base, f"compose/#seed=0x10&n=30&key={huge}&meter=%E2%80%AE8/6"
                             "&prime=example:nothing.mid")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    notice = page.inner_text("[data-cz=notice]")
    assert len(notice) < 1000 and "x" * 39 + "…" in notice and "x" * 41 not in notice
    assert page.locator("[data-cz=notice]").bounding_box()["height"] < 200
    assert "\u202e" not in notice and 'meter "8/6" is not one of the meters' in notice
    assert 'seed "0x10" is not written as a decimal number; it was read as 16' in notice
    assert 'start "example:nothing.mid" is not one of this site\'s examples' in notice
    assert page.evaluate("window.cadenza.song()")["settings"]["seed"] == 16


def test_a_links_unknown_model_is_quoted_short(page, base):
    open_compose(page, base, "compose/#seed=1&model=" + "m" * 5000 + "%E2%80%AE")
    error = page.inner_text("[data-cz=error]")
    assert "m" * 39 + "…" in error and len(error) < 300 and "\u202e" not in error


def test_a_tempo_typed_outside_the_range_is_clamped_and_said(page, base):
    open_compose(page, base, "compose/#seed=4294967295&n=40")
    assert wait_settled(page) == "done", page.inner_text("[data-cz=status]") + \
        page.inner_text("[data-cz=error]")
    assert page.input_value("input[name=seed]") == "4294967295"  # the CLI's seeds, all of them
    assert page.get_attribute("input[name=tempo]", "max") == "400"
    page.click("[data-cz=play]")
    page.fill("input[name=tempo]", "999")
    page.locator("input[name=tempo]").press("Tab")  # leaving the field commits it
    page.wait_for_function("window.cadenza.player.bpm === 400")
    assert page.input_value("input[name=tempo]") == "400"
    assert 'Tempo "999" is not a whole number of BPM from 10 to 400, so 400.' in \
        page.inner_text("[data-cz=notice]")


@pytest.mark.parametrize("damage, reason", [
    (lambda d: d[:-3], "truncated or damaged: track 2 claims"),
    (lambda d: d[:d.index(b"MTrk", 14) + 4] + (2 ** 31).to_bytes(4, "big")
     + d[d.index(b"MTrk", 14) + 8:], "truncated or damaged: track 1 claims 2,147,483,648 bytes"),
    (lambda d: b"\x9f" * (20 * 1024 * 1024), "20,971,520 bytes, more than the 16,777,216"),
], ids=["truncated", "a track claiming 2 GB", "20 MB of noise"])
def test_a_damaged_or_huge_upload_is_named_as_python_names_it(page, base, tmp_path, damage,
                                                              reason):
    from conftest import write_song

    good = write_song(tmp_path / "good.mid", [(i, i + 1, 60 + i % 12) for i in range(40)])
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "upload")
    page.set_input_files("[data-cz=file]", {"name": "bad.mid", "mimeType": "audio/midi",
                                            "buffer": damage(good.read_bytes())})
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    error = page.inner_text("[data-cz=error]")
    assert reason in error and len(error) < 300, error


@pytest.mark.parametrize("allowed", [True, False], ids=["clipboard allowed", "refused"])
def test_copy_says_it_copied_or_how_to_copy(page, base, allowed):
    if allowed:
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    else:
        page.add_init_script("navigator.clipboard.writeText = () => "
                             "Promise.reject(new DOMException('denied', 'NotAllowedError'))")
    open_compose(page, base, "compose/#seed=3&n=20")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    page.click("[data-cz=copy]")
    if allowed:
        page.wait_for_function("document.querySelector('[data-cz=copy]').textContent === "
                               "'Copied'")
        assert page.evaluate("navigator.clipboard.readText()") == \
            page.input_value("[data-cz=share]")
    else:
        page.wait_for_selector("[data-cz=notice]:not([hidden])")
        assert "copy it with Ctrl+C" in page.inner_text("[data-cz=notice]")
        selected = page.evaluate("(() => { const f = document.querySelector('[data-cz=share]');"
                                 " return f.value.slice(f.selectionStart, f.selectionEnd); })()")
        assert selected == page.input_value("[data-cz=share]") and "seed=3" in selected


def test_leaving_mid_song_and_coming_back_says_so_and_keeps_the_settings(page, base):
    open_compose(page, base)
    page.fill("input[name=seed]", "77")
    page.fill("input[name=length]", "2000")
    page.click("[data-cz=generate]")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'generating'")
    page.click("nav.md-tabs >> text=How it works")
    page.wait_for_url("**/how-it-works/")
    page.click("nav.md-tabs >> text=Compose")
    page.wait_for_url("**/compose/")
    page.wait_for_selector("[data-cz=notice]:not([hidden])")
    assert "while a song was being composed, so it was stopped" in \
        page.inner_text("[data-cz=notice]")
    assert page.input_value("input[name=seed]") == "77"
    assert page.input_value("input[name=length]") == "2000"


def test_continue_answers_every_seed_with_at_least_a_bar(page, base, tmp_path):
    from conftest import write_song
    from test_melody_page import choose, settle, status_starts

    open_compose(page, base)
    choose(page, "folk")
    # a phrase that closes on the tonic at a bar line: the model likes to stop there
    tune = [(0, 1, 67), (1, 2, 71), (2, 3, 74), (3, 4, 72), (4, 5, 71), (5, 6, 69), (6, 8, 67)]
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "end.mid", tune)))
    status_starts(page, "Your melody: 7 notes")
    melody = page.evaluate("window.cadenza.melody()")["notes"]
    end = max(n["start"] + n["duration"] for n in melody)
    page.fill("input[name=length]", "200")
    for seed in range(12):
        page.fill("input[name=seed]", str(seed))
        page.click("[data-cz=continue]")
        song = settle(page)  # (before, 3 seeds of 12 added no note: EOS came at once)
        last = max(n["start"] + n["duration"] for n in song["notes"])
        assert len(song["notes"]) > 7 and last > end, (seed, len(song["notes"]), last, end)


CSP_WATCH = """window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));"""


def until(page, expression: str, seconds: float = 60) -> None:
    """Wait for expression (polled from Python: Playwright's own polling needs eval, which
    the policy forbids)."""
    import time

    end = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < end, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def test_every_page_works_under_its_content_security_policy(browser, base):
    from test_site import PAGES, Recorder

    context = browser.new_context(accept_downloads=True, bypass_csp=False,
                                  viewport={"width": 1280, "height": 900})
    page = context.new_page()
    recorder = Recorder(page, base)
    page.add_init_script(CSP_WATCH)
    for path in PAGES:
        page.goto(base + path)
        policy = page.get_attribute('meta[http-equiv="Content-Security-Policy"]', "content")
        for rule in ("script-src 'self' 'wasm-unsafe-eval' 'sha256-", "worker-src 'self' blob:",
                     "connect-src 'self'", "object-src 'none'", "base-uri 'self'"):
            assert rule in policy, (path, rule)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__csp") == [], path
    page.goto(base + "compose/")
    state = f"document.querySelector('{COMPOSE}')?.dataset.state"
    until(page, f"{state} === 'idle'")
    page.fill("input[name=length]", "40")
    page.click("[data-cz=play-generate]")  # composed and played
    until(page, f"{state} === 'done' && window.cadenza.player.firstSoundAt !== null")
    page.click("[data-cz=notation] summary")  # shown as sheet music
    until(page, "document.querySelector('[data-cz=score][data-state=done] svg') !== null")
    for name in ("mid", "abc", "wav"):  # and downloaded
        with page.expect_download():
            page.click(f"[data-cz={name}]")
    page.click("nav.md-tabs >> text=How it works")  # instant navigation: this page's policy
    until(page, "location.pathname.endsWith('/how-it-works/')")
    page.click("nav.md-tabs >> text=Compose")
    until(page, f"{state} === 'idle'")
    assert page.evaluate("window.__csp") == []
    assert recorder.errors == [] and recorder.foreign == []
    context.close()


def test_sheet_music_beams_the_eighths_of_a_6_8_tune(page, base):
    from test_site import generate

    open_compose(page, base)
    page.select_option("[data-cz=model]", "folk")
    page.select_option("[data-cz=key]", "D:major")
    page.select_option("[data-cz=meter]", "6/8")
    generate(page, seed=3, length=60)
    page.click("summary >> text=Sheet music")
    page.wait_for_selector("[data-cz=score][data-state=done] svg")
    assert page.locator("[data-cz=score] svg .abcjs-beam-elem").count() >= 4


def test_a_model_without_its_vocab_is_blamed_not_the_melody_file(page, base, tmp_path):
    from conftest import write_song

    page.route("**/models/folk/vocab.json", lambda route: route.fulfill(status=404))
    open_compose(page, base)
    page.select_option("[data-cz=model]", "folk")  # its menus cannot show: no vocabulary
    tune = [(0, 1, 67), (1, 2, 71), (2, 3, 74)]
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "tune.mid", tune)))
    page.wait_for_function("document.querySelector('[data-cz=melody-error]')?.textContent")
    said = page.inner_text("[data-cz=melody-error]")
    assert "the folk model's vocabulary could not be read" in said and "HTTP 404" in said, said
    assert "tune.mid:" not in said


FIT = """() => [...document.querySelectorAll('.cz-form select, .cz-form input[type=number]')]
  .map((el) => {
    const cs = getComputedStyle(el), ctx = document.createElement('canvas').getContext('2d');
    ctx.font = cs.font;
    const texts = el.tagName === 'SELECT' ? [...el.options].map((o) => o.text) : [el.value];
    const need = Math.max(...texts.map((t) => ctx.measureText(t).width));
    const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) - 16;
    return need > room ? `${el.name}: ${Math.ceil(need)} px of text in ${Math.floor(room)}` : '';
  }).filter(Boolean)"""


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900},
                                      {"width": 390, "height": 844}], ids=["desktop", "phone"])
def test_no_menu_or_number_is_cut_off_and_the_status_keeps_to_two_lines(browser, base, viewport):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(base + "compose/#seed=4294967295&n=2000")  # the longest seed, and a long song
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'generating'")
    assert page.evaluate(FIT) == []  # the menus' longest options (any, examples), the seed
    status = page.locator("[data-cz=status]")
    page.wait_for_function("/Composing|notes/.test(document.querySelector('[data-cz=status]')"
                           ".textContent)")
    line = float(page.evaluate("parseFloat(getComputedStyle(document.querySelector("
                               "'[data-cz=status]')).lineHeight)"))
    assert status.bounding_box()["height"] <= 2.2 * line, page.inner_text("[data-cz=status]")
    context.close()


def test_a_100000_note_file_is_read_off_the_page_and_only_what_is_needed_comes_back(
        page, base, tmp_path):
    """bench/upload.py measures the page's longest task meanwhile (200 ms target)."""
    import sys

    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parents[1] / "bench"))
    from test_melody_page import choose
    from upload import huge_file

    path = huge_file(tmp_path / "huge.mid", 100_000)
    open_compose(page, base)
    page.select_option("[data-cz=prime]", "upload")
    page.set_input_files("[data-cz=file]", str(path))
    page.wait_for_function("document.querySelector('[data-cz=status]').textContent"
                           ".includes('100,000 notes; its first 16 start the song')")
    song = __import__("test_site").generate(page, seed=1, length=30)
    assert song["primeNotes"] == 16
    assert [n["pitch"] for n in song["notes"][:3]] == [48, 55, 62]  # the file's first notes
    page.select_option("[data-cz=prime]", "")  # as a melody now
    choose(page, "folk")
    page.set_input_files("[data-cz=melody-file]", str(path))
    page.wait_for_function("/of 100,000 notes|Error|could not/.test(document.querySelector("
                           "'[data-cz=rec-status]').textContent + document.querySelector("
                           "'[data-cz=melody-error]').textContent)")
    said = page.inner_text("[data-cz=rec-status]")
    assert "(huge.mid, its first 120 of 100,000 notes)" in said, \
        said + page.inner_text("[data-cz=melody-error]")
    assert page.recorder.errors == []


def test_continue_says_why_no_answer_can_come(page, base, tmp_path):
    from conftest import write_song
    from test_melody_page import choose, status_starts

    open_compose(page, base)
    choose(page, "folk")
    tune = [(i / 2, i / 2 + 0.5, 67 + i % 5) for i in range(12)]
    page.set_input_files("[data-cz=melody-file]", str(write_song(tmp_path / "long.mid", tune)))
    status_starts(page, "Your melody: 12 notes")
    page.fill("input[name=length]", "8")  # below the melody's own notes
    page.click("[data-cz=continue]")
    page.wait_for_function("document.querySelector('[data-cz=melody-error]')?.textContent")
    said = page.inner_text("[data-cz=melody-error]")
    assert "the melody has 12 notes, and Length allows 8 in all, so there is no room left " \
        "for an answer" in said and "your melody is kept" in said, said

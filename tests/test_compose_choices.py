"""The Compose page's Key and Meter menus in headless Chromium, with codec v2 and v1 models.

The built site (conftest.py's fixtures, shared with the other browser tests) gets,
for this module's tests only, two of the tiny models
``scripts/make_test_models.py`` writes: ``tiny`` (codec v2, its config.json
with training counts per key and meter) and ``tiny-v1`` (codec v1). Skipped
without them, as without a browser.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_site import (AXE, COMPOSE, ROOT, axe_violations, generate, open_compose,  # noqa: F401
                       page, wait_settled)

from trainer.music import keys as K
from trainer.music import midi_io
from trainer.music.codec import Meta

pytestmark = pytest.mark.browser

TEST_MODELS = ROOT / "build" / "test-models"
MODELS = {"tiny": TEST_MODELS / "float16", "tiny-v1": TEST_MODELS / "v1"}
KEY, METER = "[data-cz=key]", "[data-cz=meter]"


@pytest.fixture(scope="module")
def base(site, served):
    """The site, with the tiny v2 and v1 test models added to its model list; afterwards
    the site is as built again (the other browser tests share it)."""
    missing = [str(p) for p in MODELS.values() if not (p / "config.json").exists()]
    if missing:
        pytest.skip(f"no test models ({', '.join(missing)}): run scripts/make_test_models.py")
    index_path = site / "models" / "index.json"
    built = index_path.read_text()
    assert not any((site / "models" / name).exists() for name in MODELS)
    index = json.loads(built)
    for name, folder in MODELS.items():
        shutil.copytree(folder, site / "models" / name, dirs_exist_ok=True)
        config = json.loads((folder / "config.json").read_text())
        index["models"].append({
            "name": name, "path": f"models/{name}/", "mono": config["codec"]["mono"],
            "steps_per_beat": config["codec"]["steps_per_beat"],
            "num_layers": config["model"]["num_layers"], "rnn_size": config["model"]["rnn_size"],
            "vocab_size": config["vocab_size"], "weights_bytes": config["weights_bytes"]})
    index_path.write_text(json.dumps(index))
    yield served[1]
    index_path.write_text(built)
    for name in MODELS:
        shutil.rmtree(site / "models" / name)


def conditioning() -> dict:
    return json.loads((MODELS["tiny"] / "config.json").read_text())["conditioning"]


def vocab() -> dict:
    return json.loads((MODELS["tiny"] / "vocab.json").read_text())


def choose_model(page, name: str) -> None:
    page.select_option("[data-cz=model]", name)
    page.wait_for_function(f"document.querySelector('[data-cz=choice-note]').textContent"
                           f".includes('{'predates' if name.endswith('v1') else 'training'}')")
    if name == "tiny":  # the shipped models are v2 too: wait for the tiny model's own counts
        top, n = sorted(conditioning()["keys"].items(), key=lambda kv: -kv[1])[0]
        counts = [c for _, c in conditioning()["keys"].items() if c == n]
        if len(counts) == 1:  # a unique most common key: its label names the model
            text = f"{label(top)} ({n} song{'' if n == 1 else 's'})"
            page.wait_for_function(
                "t => document.querySelectorAll('[data-cz=key] option')[1]?.textContent === t",
                arg=text)
        else:
            total = sum(conditioning()["keys"].values())
            page.wait_for_function(
                "t => [...document.querySelectorAll('[data-cz=key] option')].reduce((s, o) => "
                "s + (+((o.textContent.match(/\\((\\d+) songs?\\)/) || [0, 0])[1])), 0) === t",
                arg=total)


def options(page, menu: str) -> list[list[str]]:
    """[value, text] of each option of a menu."""
    return page.eval_on_selector_all(f"{menu} option",
                                     "os => os.map(o => [o.value, o.textContent])")


def compose_in(page, base, key: str, meter: str, seed: int) -> dict:
    """A song of the tiny model in the key and meter chosen from the menus."""
    open_compose(page, base)
    choose_model(page, "tiny")
    page.select_option(KEY, key)
    page.select_option(METER, meter)
    return generate(page, seed, 40)


def label(name: str) -> str:
    """How the menu shows a key: "Eb:major" -> "E♭ major"."""
    tonic, mode = name.split(":")
    return f"{tonic[0]}{tonic[1:].replace('#', '♯').replace('b', '♭')} {mode}"


def test_menus_list_what_the_model_saw_with_counts_then_any_and_unseen(page, base):
    open_compose(page, base)
    choose_model(page, "tiny")
    seen = conditioning()
    for menu, kind, everything in ((KEY, "keys", [K.key_name(k) for k in K.KEYS]),
                                   (METER, "meters", [K.meter_name(m) for m in
                                                      (*K.METERS, K.OTHER)])):
        assert page.is_enabled(menu)
        got = options(page, menu)
        assert got[0] == ["any", "any (the model chooses)"]
        counted = sorted(seen[kind].items(), key=lambda kv: (-kv[1], everything.index(kv[0])))
        shown = label if kind == "keys" else str
        assert got[1:1 + len(counted)] == [
            [name, f"{shown(name)} ({n} song{'' if n == 1 else 's'})"] for name, n in counted]
        unseen = [n for n in everything if n not in seen[kind]]
        assert got[1 + len(counted):] == [[n, f"{shown(n)} (unseen)"] for n in unseen]
        assert page.input_value(menu) == "any"
    assert "saw in training" in page.inner_text("[data-cz=choice-note]")
    if AXE.exists():
        assert axe_violations(page) == []
    assert page.recorder.errors == []


def test_d_minor_in_6_8_is_the_songs_key_and_meter(page, base):
    song = compose_in(page, base, "D:minor", "6/8", seed=5)
    tokens = vocab()["tokens"]
    assert [tokens[t] for t in song["tokens"][:3]] == ["BOS", "KEY_D_minor", "METER_6_8"]
    assert song["meta"]["key"] == [2, "minor"] and song["meta"]["meter"] == [6, 8]
    bars = [b for b, _ in song["meta"]["bars"]]
    assert all(b - a == 12 for a, b in zip(bars, bars[1:]))  # 6/8 bars of 12 steps
    summary = page.text_content("[data-cz=summary]")
    assert "key: D minor / meter: 6/8" in summary, summary
    with page.expect_download() as download:
        page.click("[data-cz=abc]")
    abc = Path(download.value.path()).read_text()
    assert "\nM:6/8\n" in abc and "\nK:Dm\n" in abc
    with page.expect_download() as download:
        page.click("[data-cz=mid]")
    midi = midi_io.read_song(Path(download.value.path()))
    assert midi.key == (2, "minor") and (midi.meters[0][1], midi.meters[0][2]) == (6, 8)
    assert page.recorder.errors == []


def test_share_link_round_trips_key_and_meter(page, base):
    song = compose_in(page, base, "D:minor", "3/4", seed=8)
    link = page.input_value("[data-cz=share]")
    assert "key=D%3Aminor" in link and "meter=3%2F4" in link and "model=tiny" in link
    page.goto("about:blank")
    page.goto(link)
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert page.input_value(KEY) == "D:minor" and page.input_value(METER) == "3/4"
    again = page.evaluate("window.cadenza.song()")
    assert again["tokens"] == song["tokens"] and again["meta"]["meter"] == [3, 4]
    assert page.is_hidden("[data-cz=notice]")


def test_a_bogus_key_in_a_link_is_named_and_the_menus_stay_usable(page, base):
    open_compose(page, base, "compose/#model=tiny&seed=3&n=30&key=H%3Amajor&meter=6%2F8")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    notice = page.inner_text("[data-cz=notice]")
    assert 'key "H:major" is not a key' in notice and "so any" in notice, notice
    assert page.input_value(KEY) == "any" and page.input_value(METER) == "6/8"
    assert page.evaluate("window.cadenza.song()")["meta"]["meter"] == [6, 8]
    assert page.is_enabled(KEY) and page.is_enabled(METER)
    page.select_option(KEY, "E:minor")  # unseen or not, any key may be asked for
    song = generate(page, 4, 20)
    assert song["meta"]["key"] == [4, "minor"]
    assert page.recorder.errors == []


def test_a_v1_model_has_no_key_or_meter_menus_and_still_composes(page, base):
    open_compose(page, base, "compose/#model=tiny-v1&seed=2&n=30&key=D%3Aminor")
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert "this model predates keys and meters" in page.inner_text("[data-cz=notice]")
    assert page.is_disabled(KEY) and page.is_disabled(METER)
    assert "predates keys and meters" in page.inner_text("[data-cz=choice-note]")
    song = generate(page, 6, 40)
    assert song["meta"] is None and len(song["notes"]) > 0
    assert "key=" not in page.input_value("[data-cz=share]")
    assert "key: unknown / meter: 4/4 assumed" in page.text_content("[data-cz=summary]")
    choose_model(page, "tiny")  # and back: the v2 model's menus are on again
    assert page.is_enabled(KEY)
    assert page.recorder.errors == []


def test_an_upload_primes_a_v2_song_with_its_key_and_meter(page, base, tmp_path):
    # a G major waltz with a pickup of one beat, written with its signatures
    steps = [(0, 4, 62), (4, 8, 67), (12, 4, 71), (16, 4, 74), (20, 4, 71), (24, 4, 67),
             (28, 8, 62), (36, 4, 66), (40, 12, 67), (40, 12, 55), (52, 4, 74), (56, 4, 71),
             (60, 4, 67), (64, 4, 69), (68, 4, 71), (72, 4, 67), (76, 12, 67), (76, 12, 59)]
    meta = Meta((7, "major"), (3, 4), tuple((b, (3, 4)) for b in range(4, 80, 12)))
    path = tmp_path / "waltz.mid"
    midi_io.write_midi(np.array(steps), path, 4, meta=meta)
    open_compose(page, base)
    choose_model(page, "tiny")
    page.select_option(KEY, "D:minor")
    page.select_option("[data-cz=prime]", "upload")
    page.wait_for_function("document.querySelector('[data-cz=choice-note]').textContent"
                           ".includes('keeps')")
    assert page.is_disabled(KEY) and page.is_disabled(METER)
    page.set_input_files("[data-cz=file]", str(path))
    page.wait_for_function("document.querySelector('[data-cz=error]').hidden")
    song = generate(page, 1, 30)
    assert song["meta"]["key"] == [7, "major"] and song["meta"]["meter"] == [3, 4]
    assert song["meta"]["bars"][0] == [4, [3, 4]]  # the pickup
    assert "with a pickup" in page.text_content("[data-cz=summary]")
    page.select_option("[data-cz=prime]", "")
    page.wait_for_function(f"!document.querySelector('{KEY}').disabled")
    assert page.input_value(KEY) == "D:minor"  # the choice comes back with the menus

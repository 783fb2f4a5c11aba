"""The site's mkdocs hooks (hooks/): what they generate from models and examples.

Pure Python on small fixture folders, plus one real ``mkdocs build`` that is
checked for generated files and for references to other origins.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import mkdocs_build

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))

import cadenza_card  # noqa: E402
import cadenza_docs  # noqa: E402
import cadenza_examples  # noqa: E402
import cadenza_models  # noqa: E402
import cadenza_svg  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402

from trainer.config import CodecConfig  # noqa: E402

HISTORY = [{"epoch": 1, "loss": 3.5, "val_loss": 3.2}, {"epoch": 2, "loss": 3.0, "val_loss": 2.9},
           {"epoch": 3, "loss": 2.6, "val_loss": 2.7}]
# An evaluation written before the test split (flat keys, scored on validation songs).
V1_EVALUATION = {
    "lstm_nll": 1.61, "lstm_perplexity": 5.0, "lstm_accuracy": 0.52, "ngram_nll": 2.0,
    "ngram_perplexity": 7.4, "ngram_accuracy": 0.45, "ngram_order": 5, "ngram_variant": "plain",
    "nll_reduction": 0.195, "val_targets": 12345, "seconds": 9.0,
    "music": {"generated": {"songs": 20, "copy_rate": 0.1},
              "held_out": {"songs": 3, "copy_rate": 0.0}},
    "sampling": {"num_samples": 20, "length": 400, "temperature": 1.0, "top_p": 0.95, "seed": 1234},
}


def evaluation(version=2, nll_per_note=3.2, keys=True) -> dict:
    """An evaluation.json shaped as trainer/evaluation/evaluate.py writes it (a few figures of each part)."""
    e = {
        "model": "runs/x", "kind": "run", "vocab_version": version,
        "songs": {"train": 280, "validation": 35, "test": 35},
        "test_targets": 24977, "test_notes": 10258,
        "lstm": {"nll": 1.3, "perplexity": 3.7, "accuracy": 0.55, "nll_per_note": nll_per_note,
                 "by_position": [{"from": 0, "to": 256, "targets": 8960, "nll": 1.25},
                                 {"from": 1024, "to": None, "targets": 1154, "nll": 1.54}]},
        "ngram": {"nll": 1.4, "perplexity": 4.0, "accuracy": 0.58, "nll_per_note": 4.0,
                  "order": 8, "variant": "transposed +-2", "sweep": []},
        "nll_per_note_reduction": 1 - nll_per_note / 4.0,
        "music": {"generated": {"songs": 30, "longest_repeat": 0.008, "copy_rate": 0.015},
                  "human_test": {"songs": 35, "longest_repeat": 0.126, "copy_rate": 0.335},
                  "human_range": {"longest_repeat": [0.009, 0.356]}},
        "lengths": {"generated": [100, 200, 300, 400, 2000], "human_test": [250, 280, 300],
                    "hit_token_limit": 0},
        "sampling": {"temperature": 1.0, "top_p": 0.95, "seed": 1234, "free_songs": 30,
                     "songs_per_request": 20, "request_length": 400},
        "checks": {"longest_repeat": {"generated": 0.008, "human_range": [0.009, 0.356],
                                      "ok": False},
                   "copy_rate_ratio": {"generated_vs_human": 0.045, "ok": True},
                   "length": {"generated_median": 300.0, "human_iqr": [265.0, 290.0],
                              "ok": False}},
    }
    if keys:
        e["requests"] = {
            "keys": [{"key": "G:major", "agreement": 0.9, "scale_consistency": 0.93,
                      "mean_notes": 264.2}],
            "key_agreement": 0.9, "scale_consistency": 0.93, "human_scale_consistency": 0.92,
            "estimator_ceiling": 0.87, "ceiling_songs": 23,
            "meters": [{"meter": "3/4", "human_songs": 6, "overlap": 0.926}]}
        e["checks"]["key_agreement"] = {"generated": 0.9, "at_least": 0.85, "ok": True}
        e["checks"]["meter 3/4"] = {"overlap": 0.926, "at_least": 0.85, "ok": True}
    return e


CONDITIONING = {"keys": {"D:minor": 3, "G:major": 45}, "meters": {"4/4": 40, "3/4": 6}}


def export_folder(models: Path, name: str, mono=False, history=None, evaluation=None,
                  version=1, conditioning=None, previous=None) -> Path:
    """config.json + metrics.json shaped as converter/export.py writes them (a codec
    ``version`` 1 export's settings predate ``vocab_version``, as the shipped ones)."""
    folder = models / name
    folder.mkdir(parents=True)
    settings = {"model": {"rnn_size": 512, "num_layers": 2, "embedding_size": 64, "dropout": 0.2},
                "train": {"window_size": 128, "batch_size": 64, "optimizer": "adam",
                          "learning_rate": 0.002, "transpose": 5, "seed": 0}}
    config = {
        "type": "cadenza-lstm", "format_version": 1, "name": name, "vocab_size": 139,
        "model": {"num_layers": 2, "rnn_size": 512, "embedding_size": 64},
        "codec": {"steps_per_beat": 4, "max_duration": 32, "max_shift": 16, "mono": mono},
        "quantization": "float16", "weights_bytes": 11_000_000,
        "parity": {"steps": 32, "max_abs_diff": 1e-5, "max_kl": 1e-7},
        "training": {"data": "chorales", "train_songs": 300, "validation_songs": 33,
                     "checkpoint": "best", "settings": settings,
                     "commands": {"train": "python -m trainer train --run-dir runs/x",
                                  "evaluate": "python -m trainer evaluate --run-dir runs/x",
                                  "export": "python -m converter --run-dir runs/x --out y"}},
    }
    training = {"best_val_loss": 1.6, "best_epoch": 3, "epochs_trained": 3, "stopped": "early",
                "train_seconds": 600.0, "parameters": 3_000_000, "backend": "CPU"}
    if history is not None:
        training["history"] = history
    if version >= 2:
        settings["codec"] = {"vocab_version": version, "no_bars": False}
        config["codec"]["bars"] = True
        config["vocab_size"] = 175
    if conditioning is not None:
        config["conditioning"] = conditioning
    metrics = {"training": training, "evaluation": evaluation}
    if previous is not None:
        metrics["previous"] = previous
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps(metrics))
    return folder


def header_rows(markdown: str) -> list[list[str]]:
    """The cells of every table header row (the line above a |---| line)."""
    lines = markdown.splitlines()
    return [[c.strip() for c in lines[i - 1].strip("|").split("|")]
            for i, line in enumerate(lines) if re.fullmatch(r"\|(---\|)+", line)]


def test_discover_keeps_export_folders_only(tmp_path):
    export_folder(tmp_path, "folk", mono=True)
    export_folder(tmp_path, "chorales")
    (tmp_path / "notes").mkdir()
    other = export_folder(tmp_path, "other")
    (other / "config.json").write_text(json.dumps({"type": "something-else"}))
    models = cadenza_models.discover(tmp_path)
    assert [m["name"] for m in models] == ["chorales", "folk"]
    index = cadenza_models.index(models)["models"]
    assert index[1] == {"name": "folk", "path": "models/folk/", "mono": True, "steps_per_beat": 4,
                        "num_layers": 2, "rnn_size": 512, "vocab_size": 139,
                        "weights_bytes": 11_000_000}


@pytest.mark.parametrize("history", [HISTORY, {k: [r[k] for r in HISTORY] for k in HISTORY[0]}])
def test_curves_plot_the_history_in_either_shape(tmp_path, history):
    export_folder(tmp_path, "chorales", history=history)
    export_folder(tmp_path, "folk")
    text = cadenza_models.curves(cadenza_models.discover(tmp_path))
    chart, rest = text.split("### folk")
    svg = chart[chart.index("<svg"):chart.index("</svg>")]
    assert svg.count("<polyline") == 2 and "\n\n" not in svg  # one raw HTML block
    points = re.findall(r'points="([^"]+)"', chart)
    assert [len(p.split()) for p in points] == [3, 3]
    assert "has no per-epoch history" in rest and "<svg" not in rest


def test_nice_ticks_cover_the_range():
    ticks = cadenza_svg.nice_ticks(1.37, 3.52)
    assert ticks[0] <= 1.37 and ticks[-1] >= 3.52 and 3 <= len(ticks) <= 8
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1 and steps.pop() in (0.2, 0.5, 1.0)


def test_model_card_shows_a_v1_evaluation_or_says_there_is_none(tmp_path):
    export_folder(tmp_path, "a", evaluation=V1_EVALUATION)
    export_folder(tmp_path, "b")
    a, b = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "| LSTM | 1.610 | 5.000 | 0.520 |" in a  # no per-note column: it has no such figure
    assert "5-gram Kneser-Ney (plain)" in a and "19.5% lower" in a
    assert "held-out validation songs" in a and "predates the test split" in a
    assert "| copy_rate | 0.100 | 0.000 | - |" in a
    assert "| token language | v1: notes, durations and time shifts only |" in a
    assert "no test split" in a and "what changed" not in a and "cannot be asked" in a
    assert "Not evaluated" in b and "Not evaluated" not in a
    assert "python -m converter --run-dir runs/x --out y" in b


def test_model_card_of_a_v2_model_beside_the_v1_model_it_replaces(tmp_path):
    export_folder(tmp_path, "v2", version=2, conditioning=CONDITIONING,
                  evaluation=evaluation(), previous=evaluation(1, nll_per_note=3.4, keys=False))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "| training songs per key | G major (45), D minor (3) |" in text
    assert "| training songs per meter | 4/4 (40), 3/4 (6) (a song" in text
    changed = next(line for line in text.splitlines() if line.startswith("| what changed"))
    assert "token language v2 (was v1" in changed and "input at every step" in changed
    assert "evaluated beside it" in changed and "key embedding (25 × 64)" in text
    assert "35 test (never trained on" in text
    assert "On the 35 test songs (10,258 notes, 24,977 tokens)" in text
    assert "NLL per note is 20.0% lower than the n-gram's" in text
    assert "This model's NLL per note is 5.9% lower than the v1 model's" in text
    assert "| LSTM | 1.300 | 3.200 | 3.700 | 0.550 |" in text
    assert "| 8-gram Kneser-Ney (transposed ±2) | 1.400 | 4.000 | 4.000 | 0.580 |" in text
    assert "| v1 model: LSTM | 1.300 | 3.400 | 3.700 | 0.550 |" in text
    assert "per-token figures do not compare" in text
    assert "| 0–255 | 8,960 | 1.250 | 8,960 | 1.250 |" in text and "| 1,024 on |" in text
    assert "| longest_repeat | 0.008 | 0.126 | 0.009..0.356 | 0.008 |" in text
    assert "| generated | 5 | 300 | 200..400 | 2,000 |" in text
    assert "| human test | 3 | 280 | 265..290 | 300 |" in text
    assert "| G major | 0.900 | 0.930 | 264.2 |" in text and "| 3/4 | 0.926 | 6 |" in text
    assert "3 of 5 checks pass" in text
    assert ("| longest_repeat | 0.008 | within the human range 0.009..0.356 | **fail** | "
            "0.008 (**fail**) |") in text
    assert "| copy_rate_ratio | 0.04× the human copy rate | at most 1.5× | pass |" in text
    assert "| key_agreement | 0.900 | at least 0.850 | pass | - |" in text  # v1 has no such check


def test_model_card_of_a_v2_model_alone(tmp_path):
    folder = export_folder(tmp_path, "solo", version=2, evaluation=evaluation())
    metrics = json.loads((folder / "metrics.json").read_text())
    (folder / "metrics.json").write_text(json.dumps({**metrics, "previous": None}))
    config = json.loads((folder / "config.json").read_text())
    config["training"]["test_songs"] = 34  # the converter's count wins over the evaluation's
    (folder / "config.json").write_text(json.dumps(config))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "33 validation, 34 test" in text
    assert "v1 model" not in text and "v1 targets" not in text and "Beside it" not in text
    assert "token language v2 (was v1" in text and "evaluated beside it" not in text
    assert "| training songs per key | not recorded in this export |" in text
    assert "| result |" in text and "| check | value | target | result |" in text
    config["training"]["changes"] = "Retrained with the bar count as an input."  # --changes
    (folder / "config.json").write_text(json.dumps(config))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    changed = next(line for line in text.splitlines() if line.startswith("| what changed"))
    assert changed.startswith("| what changed | Retrained with the bar count as an input. "
                              "token language v2 (was v1")


def test_model_card_of_a_model_adapted_in_a_browser_says_so(tmp_path):
    folder = export_folder(tmp_path, "mine", version=2, evaluation=evaluation())
    config = json.loads((folder / "config.json").read_text())
    config["adaptation"] = {  # as web/src/adapt/export.js records it
        "base": {"name": "chorales", "shards": {}},
        "songs": {"train": ["a.mid", "b.mid", "c.mid"], "held_out": ["d.mid"],
                  "skipped": [{"name": "e.mid", "reason": "drums only"}]},
        "held_out_nll_per_note": {"before": 6.1974, "after": 3.9764},
        "history": [{"epoch": e, "train_loss": 5.0, "held_out_loss": 4.0} for e in range(6)],
        "best_epoch": 3, "stopped": "no gain", "trained": ["logits/kernel", "logits/bias"],
        "stored_float32": {}, "by": "web/src/adapt"}
    (folder / "config.json").write_text(json.dumps(config))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    row = next(line for line in text.splitlines() if line.startswith("| adapted in a browser"))
    assert ("from chorales to 3 of a visitor's MIDI files, 1 held out (1 unusable left out): "
            "held-out NLL per note 6.197 before, 3.976 after; `logits/kernel`, `logits/bias` "
            "trained for 5 epochs (best 3)") in row
    assert "max KL to the adapted float32 weights over 32 steps" in text


def test_model_card_says_which_meters_are_reported_but_not_checked(tmp_path):
    e = evaluation()
    e["requests"]["meters"] = [{"meter": "6/8", "human_songs": 55, "overlap": 0.954,
                                "training_overlap": 0.989},
                               {"meter": "3/8", "human_songs": 1, "overlap": 0.651,
                                "training_overlap": 0.607}]
    export_folder(tmp_path, "v2", version=2, evaluation=e)
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "| 6/8 | 0.954 | 55 | 0.989 |" in text and "| 3/8 | 0.651 | 1 | 0.607 |" in text
    assert "3/8: fewer than 5 human test songs" in text and "6/8: fewer" not in text


@pytest.mark.parametrize("case", ["v1", "none", "v2", "v2 with v1"])
def test_model_card_tables_have_no_empty_header_cells(tmp_path, case):
    kwargs = {"v1": dict(evaluation=V1_EVALUATION), "none": {},
              "v2": dict(version=2, evaluation=evaluation(), conditioning=CONDITIONING),
              "v2 with v1": dict(version=2, evaluation=evaluation(),
                                 previous=evaluation(1, keys=False))}[case]
    export_folder(tmp_path, "m", **kwargs)
    text = cadenza_card.card(cadenza_models.discover(tmp_path)[0])
    headers = header_rows(text)
    assert headers and all(all(headers) for headers in headers), headers


def test_model_card_section_headings_differ_between_models(tmp_path):
    # the theme's table of contents makes a landmark (a labelled nav) of every heading
    # with subheadings, and axe wants landmarks to differ
    export_folder(tmp_path, "a", version=2, evaluation=evaluation())
    export_folder(tmp_path, "b", evaluation=V1_EVALUATION)
    text = "\n\n".join(map(cadenza_card.card, cadenza_models.discover(tmp_path)))
    headings = re.findall(r"^(#{2,3}) (.+)$", text, re.MULTILINE)
    assert ("###", "Evaluation of a") in headings
    assert len(set(headings)) == len(headings), headings


def test_examples_page_renders_the_index_or_says_it_is_absent(tmp_path):
    assert cadenza_examples.load(tmp_path) is None
    assert "No examples yet" in cadenza_examples.page(None, "./")
    (tmp_path / "chorales").mkdir()
    for name in ("a.mid", "a.mp3", "a.png"):
        (tmp_path / "chorales" / name).write_bytes(b"x")
    good = {"title": "Chorale <7>", "model": "chorales", "temperature": 0.9, "seed": 7,
            "midi": "chorales/a.mid", "audio": "chorales/a.mp3", "image": "chorales/a.png"}
    (tmp_path / "index.json").write_text(json.dumps({"examples": [
        good, {**good, "title": "lost", "midi": "chorales/missing.mid"}]}))
    entries = cadenza_examples.load(tmp_path)
    assert [e["title"] for e in entries] == ["Chorale <7>"]
    html = cadenza_examples.page(entries, "../examples/")
    assert 'src="../examples/chorales/a.mp3"' in html and 'src="../examples/chorales/a.png"' in html
    assert 'href="../examples/chorales/a.mid"' in html
    assert "Chorale &lt;7&gt;" in html and "temperature 0.9" in html and "seed 7" in html


def test_flag_reference_is_the_programs_own_help():
    train = cadenza_docs.flags("train")
    assert train.startswith("```text\nusage: python -m trainer train")
    for flag in ("--rnn-size", "--run-dir", "--transpose", "--resume"):
        assert flag in train
    assert "--quantize" in cadenza_docs.flags("converter")
    with pytest.raises(PluginError, match="unknown command"):
        cadenza_docs.flags("fly")


def test_token_example_is_the_codecs_encoding():
    from trainer.music.codec import Codec

    text = cadenza_docs.token_example()
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \| (.+) \|$", text, re.MULTILINE)
    codec = Codec()
    assert rows[0][:2] == ("BOS", str(codec.bos_id)) and rows[-1][:2] == ("EOS", str(codec.eos_id))
    assert all(codec.describe(int(i)) == name for name, i, _ in rows)
    assert ("NOTE_72", str(codec.token_id("NOTE", 72))) in [r[:2] for r in rows]
    meanings = {name: meaning for name, _, meaning in rows}
    assert rows[1][0] == "KEY_C_major" and meanings["KEY_C_major"] == "the song is in C major"
    assert rows[2][0] == "METER_3_4" and meanings["METER_3_4"] == "the song starts in 3/4 time"
    assert meanings["METER_4_4"] == "from this bar on: 4/4 time"  # a change, after a BAR
    bars = [meaning for name, _, meaning in rows if name == "BAR"]
    assert bars[0].endswith("(the notes before it are a pickup)") and len(bars) == 3
    notes, meta = cadenza_docs.phrase()
    ids = [int(i) for _, i, _ in rows]
    got_notes, got_meta = codec.decode_song(ids)
    assert got_notes.tolist() == notes.tolist() and got_meta == meta


def test_every_token_kind_has_a_meaning():
    from trainer.music.codec import Codec

    for codec in (Codec(), Codec(CodecConfig(vocab_version=1))):
        said = [cadenza_docs.meaning(codec, i) for i in range(codec.size)]
        assert all(said) and len(said) == codec.size
    codec = Codec()
    assert cadenza_docs.meaning(codec, codec.meter_id("other")) == \
        "the song starts in a meter without a token of its own"
    assert cadenza_docs.meaning(codec, codec.key_id((10, "minor"))) == "the song is in Bb minor"


def test_vocabulary_table_lists_every_kind_with_its_ids():
    from trainer.music.codec import Codec

    text = cadenza_docs.vocabulary()
    codec = Codec()
    assert f"{codec.size} tokens in all (codec version 2)" in text
    for kind, (first, count, _) in codec.ranges.items():
        ids = str(first) if count == 1 else f"{first}–{first + count - 1}"
        assert f"| {ids} | {count} |" in text, kind
    assert "`KEY_C_major` … `KEY_B_minor`" in text and "`METER_other`" in text


@pytest.mark.skipif(shutil.which("node") is None, reason="building the site needs Node 20")
def test_site_builds_with_generated_files_and_no_foreign_references(tmp_path):
    out = tmp_path / "site"
    proc = mkdocs_build(out, env={"NO_MKDOCS_2_WARNING": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    shipped = sorted(p.parent.name for p in (ROOT / "site" / "models").glob("*/config.json"))
    index = json.loads((out / "models" / "index.json").read_text())["models"]
    assert [m["name"] for m in index] == shipped
    assert "examples" in json.loads((out / "examples" / "index.json").read_text())
    assert "--learning-rate" in (out / "train" / "index.html").read_text()
    assert (out / "assets" / "bundle" / "worker.js").is_file()
    assert (out / "assets" / "wasm" / "tfjs-backend-wasm-simd.wasm").is_file()
    assert (out / "assets" / "piano" / "samples.json").is_file()
    foreign = re.compile(r"""(?:src|href)=["'](?:https?:)?//|url\(["']?(?:https?:)?//|"""
                         r"fonts\.googleapis|fonts\.gstatic|cdn\.jsdelivr|unpkg\.com")
    for page in out.rglob("*.html"):
        tags = re.findall(r"<(?:script|link|img|audio|source|iframe)\b[^>]*>", page.read_text())
        for tag in tags:
            if 'rel="canonical"' in tag:  # a name for search engines, never fetched
                continue
            assert not foreign.search(tag), f"{page.relative_to(out)}: {tag}"
    for css in out.rglob("*.css"):
        assert not foreign.search(css.read_text()), css


def test_examples_have_sized_images_an_open_in_compose_link_and_unrepeated_captions(tmp_path):
    (tmp_path / "folk").mkdir()
    png = (b"\x89PNG\r\n\x1a\n" + b"\0\0\0\rIHDR" + (1000).to_bytes(4, "big")
           + (240).to_bytes(4, "big"))
    (tmp_path / "folk" / "a.png").write_bytes(png + b"rest")
    (tmp_path / "folk" / "a.mid").write_bytes(b"x")
    entry = {"title": "folk · T=1.2 · seed 4", "model": "folk", "temperature": 1.2, "top_p": 0.95,
             "seed": 4, "tempo": 112.0, "notes": 90, "midi": "folk/a.mid", "image": "folk/a.png"}
    (tmp_path / "index.json").write_text(json.dumps({"examples": [entry]}))
    [loaded] = cadenza_examples.load(tmp_path)
    html = cadenza_examples.page([loaded], "./", "../compose/")
    assert 'width="1000" height="240"' in html
    assert ('<a href="../compose/#model=folk&amp;t=1.2&amp;p=0.95&amp;n=90&amp;bpm=112&amp;seed=4">'
            "Open in Compose</a>") in html
    caption = html[html.index("<figcaption>"):html.index("</figcaption>")]
    assert caption.count("seed") == 1 and "temperature" not in caption and "model" not in caption


def test_model_card_shows_the_nll_as_sampled_beside_the_raw_one(tmp_path):
    ours, theirs = evaluation(), evaluation(1, nll_per_note=3.4, keys=False)
    ours["lstm"]["grammar"] = {"nll": 1.25, "nll_per_note": 3.05, "perplexity": 3.49}
    theirs["lstm"]["grammar"] = {"nll": 1.28, "nll_per_note": 3.1, "perplexity": 3.6}
    export_folder(tmp_path, "v2", version=2, conditioning=CONDITIONING, evaluation=ours,
                  previous=theirs)
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "| LSTM as sampled (grammar) | 1.250 | 3.050 | 3.490 | - |" in text
    assert "| v1 model: LSTM as sampled (grammar) | 1.280 | 3.100 | 3.600 | - |" in text
    assert "As sampled (each under its own grammar) it is 3.050 nats per note against 3.100." \
        in text
    assert "costs nothing" in text
    plain = tmp_path / "plain"
    export_folder(plain, "v2", version=2, evaluation=evaluation())
    [text] = map(cadenza_card.card, cadenza_models.discover(plain))
    assert "as sampled" not in text.lower()


def test_model_card_names_a_weight_average_and_a_warm_start():
    from cadenza_card import recipe

    base = {"window_size": 384, "batch_size": 24, "optimizer": "adam", "learning_rate": 0.0005,
            "schedule": "plateau", "transpose": 0, "seed": 0}
    assert "moving average" not in recipe(base) and "started from" not in recipe(base)
    text = recipe({**base, "ema": 0.995, "init_from": "runs/folk-v5-export"})
    assert "a moving average of the weights (momentum 0.995 per step)" in text
    assert "started from the weights of `runs/folk-v5-export`" in text


def test_model_card_shows_a_calibration_and_its_command(tmp_path):
    folder = export_folder(tmp_path, "cal", version=2, evaluation=evaluation())
    config = json.loads((folder / "config.json").read_text())
    config["training"]["calibration"] = {
        "temperature": 1.1523, "chosen_on": "validation songs", "songs": 33,
        "validation_nll_per_note": {"before": 1.948, "after": 1.927}}
    config["training"]["commands"]["calibrate"] = "python -m trainer calibrate --run-dir runs/x"
    (folder / "config.json").write_text(json.dumps(config))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert ("| calibration | softmax temperature 1.152, chosen on validation songs (their NLL "
            "per note 1.948 → 1.927)") in text
    block = text.split("To make this model again:")[1]
    assert block.index("trainer train") < block.index("trainer calibrate") \
        < block.index("trainer evaluate")


def test_model_card_of_a_refit_shows_no_held_out_loss(tmp_path):
    folder = export_folder(tmp_path, "refit", version=2, evaluation=evaluation())
    config = json.loads((folder / "config.json").read_text())
    config["training"]["refit"] = True
    (folder / "config.json").write_text(json.dumps(config))
    [text] = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "3 epochs as a refit" in text and "no held-out loss" in text
    assert "300 training songs, 33 validation (a refit: the network trained on both" in text
    assert "best validation loss" not in text
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics["training"]["history"] = {"epoch": [1, 2], "loss": [1.2, 1.1], "val_loss": [1.0, 0.9]}
    (folder / "metrics.json").write_text(json.dumps(metrics))
    assert "validation loss (songs it trained on: a refit)" in \
        cadenza_models.curves(cadenza_models.discover(tmp_path))


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_silences_the_site_generators_end_of_life_banner():
    """make run builds the site: mkdocs-material's banner is off by the switch it reads."""
    from importlib.util import find_spec

    banner = Path(find_spec("material.templates").origin).read_text()
    assert "end of life" in banner and 'os.getenv("NO_MKDOCS_2_WARNING")' in banner
    proc = subprocess.run(["make", "-s", "--no-print-directory", "--eval",
                           "env-check: ; @echo $$NO_MKDOCS_2_WARNING", "env-check"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "1", proc.stdout + proc.stderr

"""The site's mkdocs hooks (hooks/): what they generate from models and examples.

Pure Python on small fixture folders, plus one real ``mkdocs build`` that is
checked for generated files and for references to other origins.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "hooks"))

import cadenza_card  # noqa: E402
import cadenza_docs  # noqa: E402
import cadenza_examples  # noqa: E402
import cadenza_models  # noqa: E402
import cadenza_svg  # noqa: E402
from mkdocs.exceptions import PluginError  # noqa: E402

HISTORY = [{"epoch": 1, "loss": 3.5, "val_loss": 3.2}, {"epoch": 2, "loss": 3.0, "val_loss": 2.9},
           {"epoch": 3, "loss": 2.6, "val_loss": 2.7}]
EVALUATION = {
    "lstm_nll": 1.61, "lstm_perplexity": 5.0, "lstm_accuracy": 0.52, "ngram_nll": 2.0,
    "ngram_perplexity": 7.4, "ngram_accuracy": 0.45, "ngram_order": 5, "ngram_variant": "plain",
    "nll_reduction": 0.195, "val_targets": 12345, "seconds": 9.0,
    "music": {"generated": {"songs": 20, "copy_rate": 0.1},
              "held_out": {"songs": 3, "copy_rate": 0.0}},
    "sampling": {"num_samples": 20, "length": 400, "temperature": 1.0, "top_p": 0.95, "seed": 1234},
}


def export_folder(models: Path, name: str, mono=False, history=None, evaluation=None) -> Path:
    """config.json + metrics.json shaped as converter/export.py writes them."""
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
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "metrics.json").write_text(json.dumps({"training": training,
                                                     "evaluation": evaluation}))
    return folder


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


def test_model_card_shows_the_evaluation_or_says_there_is_none(tmp_path):
    export_folder(tmp_path, "a", evaluation=EVALUATION)
    export_folder(tmp_path, "b")
    a, b = map(cadenza_card.card, cadenza_models.discover(tmp_path))
    assert "| LSTM | 1.610 | 5.000 | 0.520 |" in a
    assert "5-gram Kneser-Ney (plain)" in a and "19.5% lower" in a
    assert "| copy_rate | 0.100 | 0.000 |" in a
    assert "Not evaluated" in b and "Not evaluated" not in a
    assert "python -m converter --run-dir runs/x --out y" in b


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
    from trainer.codec import Codec

    text = cadenza_docs.token_example()
    rows = re.findall(r"^\| `(\w+)` \| (\d+) \|", text, re.MULTILINE)
    codec = Codec()
    assert rows[0] == ("BOS", str(codec.bos_id)) and rows[-1] == ("EOS", str(codec.eos_id))
    assert all(codec.describe(int(i)) == name for name, i in rows)
    assert ("NOTE_72", str(codec.token_id("NOTE", 72))) in rows


@pytest.mark.skipif(shutil.which("node") is None, reason="building the site needs Node 20")
def test_site_builds_with_generated_files_and_no_foreign_references(tmp_path):
    out = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                           str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
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

"""Issue 12, the export half: each fault found by the sweep is refused with its reason.

* case 5: ``converter --out`` replaces only the files a previous export listed;
* case 10: a converter run on a run folder whose config.json is ``{}``;
* case 11: the numpy reader refuses damaged export folders (web/src/worker/model.js
  refuses the same ones: tests/js/loader_faults.test.mjs), and the Compose
  page shows the reason;
* case 12: the share-link measurement across wasm SIMD / threads.

The reader cases damage copies of the v1 chorales model as it shipped (export format 1:
a tfjs Layers model.json) and rewritten as the converter now writes it (format
2: trainer/nn/network.py), or codec v2 exports of random weights (a key table,
with or without degree logits and the bar count), and need no training.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import cli
from test_site import page  # noqa: F401  (a fixture)

from converter.folder import (FORMAT_VERSION, file_list, is_export_folder, listed_files,
                              shard_records)
from converter.read import read_export
from converter.weights import byte_size, storage_of, write
from trainer.errors import CadenzaError
from trainer.nn import network as N

ROOT = Path(__file__).resolve().parents[1]
# The chorales model as it shipped before codec v2 (export format 1), kept as a fixture
# (the same bytes git already holds): the reader cases damage copies of it.
SHIPPED = ROOT / "tests" / "fixtures" / "export-format-1"
SHARD = "group1-shard1of1.bin"


def edit_json(path: Path, change) -> None:
    obj = json.loads(path.read_text())
    change(obj)
    path.write_text(json.dumps(obj, indent=1) + "\n")


def rehash(folder: Path) -> None:
    """Make config.json describe the shard as it is now (a consistent, wrong export)."""
    data = (folder / SHARD).read_bytes()
    edit_json(folder / "config.json", lambda c: c["shards"].update(
        {SHARD: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}}))


def flip_bit(folder: Path) -> None:
    data = bytearray((folder / SHARD).read_bytes())
    data[len(data) // 2] ^= 0x10
    (folder / SHARD).write_bytes(bytes(data))


def first_float(folder: Path) -> tuple[str, int, str]:
    """(name, byte offset, dtype) of the first float the shard stores: the first value
    of a float16 or float32 weight, or the first column's min of a uint8-column one."""
    at = 0
    for w in json.loads((folder / "model.json").read_text())["weightsManifest"][0]["weights"]:
        storage = storage_of(w)
        if storage != "uint8":
            return w["name"], at, {"float16": "<f2"}.get(storage, "<f4")
        at += byte_size(w["shape"], storage)
    raise AssertionError(f"{folder}: every weight is uint8 per tensor")


SHIPPED_BYTES = (SHIPPED / SHARD).stat().st_size
NAN_WEIGHT, NAN_AT, NAN_DTYPE = first_float(SHIPPED)


def nan_weight(folder: Path) -> None:
    data = bytearray((folder / SHARD).read_bytes())
    nan = np.array([np.nan], NAN_DTYPE).tobytes()
    data[NAN_AT:NAN_AT + len(nan)] = nan
    (folder / SHARD).write_bytes(bytes(data))
    rehash(folder)


def swap_same_shape(folder: Path) -> None:
    """Swap the bytes of the first two manifest entries of one shape and storage."""
    spans, at = {}, 0
    for w in json.loads((folder / "model.json").read_text())["weightsManifest"][0]["weights"]:
        size = byte_size(w["shape"], storage_of(w))
        spans.setdefault((tuple(w["shape"]), storage_of(w)), []).append((at, size))
        at += size
    (a, size), (b, _) = next(s[:2] for s in spans.values() if len(s) > 1)
    data = bytearray((folder / SHARD).read_bytes())
    data[a:a + size], data[b:b + size] = data[b:b + size], data[a:a + size]
    (folder / SHARD).write_bytes(bytes(data))
    rehash(folder)


def truncate(folder: Path) -> None:
    data = (folder / SHARD).read_bytes()
    (folder / SHARD).write_bytes(data[:-100])


def pad(folder: Path) -> None:
    with open(folder / SHARD, "ab") as f:
        f.write(bytes(4096))


def unknown_storage(folder: Path) -> None:
    edit_json(folder / "model.json", lambda m: m["weightsManifest"][0]["weights"][0].update(
        quantization={"dtype": "uint16", "min": 0, "scale": 1}))


# damage -> a fragment of the one-line reason; tests/js/loader_faults.test.mjs has the same table
DAMAGE = {
    "no weightsManifest": (lambda f: edit_json(f / "model.json",
                                               lambda m: m.pop("weightsManifest")),
                           "has no weightsManifest"),
    "shard padded by 4 KB": (pad, f"{SHARD} has {SHIPPED_BYTES + 4096} bytes, "
                                  f"config.json says {SHIPPED_BYTES}"),
    "shard truncated by 100 bytes": (truncate, f"{SHARD} has {SHIPPED_BYTES - 100} bytes, "
                                               f"config.json says {SHIPPED_BYTES}"),
    "shard truncated, hashes updated": (lambda f: [truncate(f), rehash(f)],
                                        f"weight shards hold {SHIPPED_BYTES - 100} bytes, "
                                        "too few for "),
    "bit-flipped shard": (flip_bit, f"{SHARD} is damaged: its SHA-256 differs"),
    "NaN weight, hashes updated": (nan_weight, f"weight {NAN_WEIGHT} decodes to NaN"),
    "two entries of one shape swapped, hashes updated": (
        swap_same_shape, "the weights do not give the probabilities in parity.json"),
    "shard padded, hashes updated": (lambda f: [pad(f), rehash(f)],
                                     f"weight shards hold {SHIPPED_BYTES + 4096} bytes, "
                                     f"the manifest describes {SHIPPED_BYTES}"),
    "unknown storage": (unknown_storage, "has an unsupported storage"),
    "steps_per_beat disagrees": (
        lambda f: edit_json(f / "vocab.json", lambda v: v["params"].update(steps_per_beat=8)),
        "disagree on steps_per_beat (8 vs 4)"),
    "shard hashes missing": (lambda f: edit_json(f / "config.json", lambda c: c.pop("shards")),
                             "lists no weight shards"),
    "shard missing": (lambda f: (f / SHARD).unlink(), f"weight shard {SHARD} is unreadable"),
    "another shard listed": (lambda f: edit_json(f / "config.json", lambda c: c["shards"].update(
        {"group2-shard1of1.bin": c["shards"][SHARD]})), "are not the ones config.json lists"),
}


# format 3 only: model.json's network; tests/js/loader_faults.test.mjs has the same cases
NETWORK_DAMAGE = {
    "a GRU network": (lambda f: edit_json(f / "model.json", lambda m: m["network"].update(
        cell="gru")),
        'model.json describes an unsupported network {"bar_rows": 0, "cell": "gru", '),
    "no network": (lambda f: edit_json(f / "model.json", lambda m: m.pop("network")),
                   "describes an unsupported network null"),
    "network of other sizes": (lambda f: edit_json(f / "model.json", lambda m: m[
        "network"].update(rnn_size=32)), "disagrees with config.json on rnn_size (32 vs 256)"),
    "a weight renamed": (lambda f: edit_json(f / "model.json", lambda m: m["weightsManifest"][0][
        "weights"][-1].update(name="bias")), "model.json lacks weights ['logits/bias']"),
    "a weight reshaped": (lambda f: edit_json(f / "model.json", lambda m: m["weightsManifest"][0][
        "weights"][-1].update(shape=[1, 139])),
        "weight logits/bias has shape [1, 139], the network needs [139]"),
}


def as_format_3(source: Path, folder: Path) -> Path:
    """``source`` (a format-1 export) rewritten as the converter writes format 3: the
    same float16 weights in Stepper order under a model.json with their network."""
    export = read_export(source)
    shutil.copytree(source, folder)
    for shard in folder.glob("group*-shard*.bin"):
        shard.unlink()
    weights = {n: export.weights[n] for n in N.shapes(export.network)}  # in Stepper order
    write(folder, weights, {n: "float16" for n in weights}, export.network)
    edit_json(folder / "config.json", lambda c: c.update(
        format_version=FORMAT_VERSION, shards=shard_records(folder), files=file_list(folder)))
    return folder


def v2_export(folder: Path, parts: tuple[str, ...], seed: int = 0) -> Path:
    """A format-3 export of a codec v2 network with random float16 weights: the key table,
    and ``parts`` of "degrees" and "bars"; its model.json names only the parts it has, as
    exports written before them did."""
    from trainer.config import CodecConfig, ModelConfig
    from trainer.music.codec import Codec

    codec, cfg = Codec(CodecConfig()), ModelConfig(rnn_size=16, num_layers=2, embedding_size=8)
    shutil.copytree(SHIPPED, folder)
    for shard in [*folder.glob("group*-shard*.bin"), folder / "parity.json"]:
        shard.unlink()  # random weights: no Keras model's probabilities to keep
    (folder / "vocab.json").write_text(json.dumps(codec.to_json()))
    network = N.describe(codec.size, cfg, N.KEY_ROWS, N.DEGREES if "degrees" in parts else 0,
                         N.BAR_ROWS if "bars" in parts else 0)
    network = {k: v for k, v in network.items() if v or k not in ("degrees", "bar_rows")}
    rng = np.random.default_rng(seed)
    weights = {n: rng.normal(0, 0.3, s).astype(np.float32) for n, s in N.shapes(network).items()}
    write(folder, weights, {n: "float16" for n in weights}, network)
    edit_json(folder / "config.json", lambda c: c.update(
        format_version=FORMAT_VERSION, vocab_size=codec.size, codec=codec.to_json()["params"],
        model={**c["model"], "rnn_size": 16, "num_layers": 2, "embedding_size": 8},
        shards=shard_records(folder), files=file_list(folder)))
    return folder


@pytest.mark.parametrize("parts", [(), ("degrees",), ("degrees", "bars")],
                         ids=["key table alone", "degrees", "degrees and bars"])
def test_a_v2_export_reads_with_or_without_degree_logits_and_bar_count(tmp_path, parts):
    from trainer.compose.stepper import Stepper

    folder = v2_export(tmp_path / "v2", parts)
    export = read_export(folder)
    assert (export.network["degrees"], export.network["bar_rows"]) == (
        24 if "degrees" in parts else 0, 64 if "bars" in parts else 0)
    assert len(export.weights) == 3 * 2 + 4 + 2 * ("degrees" in parts) + ("bars" in parts)
    stepper = Stepper(export.weights, export.network, export.codec)
    assert (stepper.degree_index is not None, stepper.bar_table is not None) == (
        "degrees" in parts, "bars" in parts)
    codec = export.codec
    song = [codec.bos_id, codec.key_id((2, "minor")), codec.meter_id((3, 4)),
            codec.token_id("NOTE", 62), codec.token_id("DUR", 4), codec.bar_id]
    assert np.isfinite(stepper.run(song)).all()


@pytest.mark.parametrize("change, reason", [
    (lambda m: m["network"].update(key_rows=0), "scores scale degrees or counts bars but reads "
                                                "no key"),
    (lambda m: m["network"].update(degrees=0), "has weights the network does not use: "
                                               "['degree_logits/kernel', 'degree_logits/bias']"),
    (lambda m: m["network"].pop("bar_rows"), "does not use: ['bar_embedding/embeddings']"),
    (lambda m: m["weightsManifest"][0]["weights"][-2].update(name="bias"),
     "model.json lacks weights ['degree_logits/bias']"),
    (lambda m: m["weightsManifest"][0]["weights"][-1].update(shape=[8, 64]),
     "weight bar_embedding/embeddings has shape [8, 64], the network needs [64, 8]"),
], ids=["no key rows", "degrees 0", "no bar_rows", "degree bias renamed", "bar table reshaped"])
def test_the_reader_refuses_degrees_and_bars_that_do_not_fit(tmp_path, change, reason):
    folder = v2_export(tmp_path / "v2", ("degrees", "bars"))
    edit_json(folder / "model.json", change)
    with pytest.raises(CadenzaError, match="^" + str(folder)) as e:
        read_export(folder)
    assert reason in str(e.value) and "\n" not in str(e.value)


@pytest.fixture(params=["format 1", "format 3"])
def shipped_copy(tmp_path, request) -> Path:
    folder = tmp_path / "chorales"
    if request.param == "format 3":
        return as_format_3(SHIPPED, folder)
    shutil.copytree(SHIPPED, folder)
    return folder


# --- case 11: the numpy reader ------------------------------------------------

def test_an_intact_export_reads_and_its_hashes_match(shipped_copy):
    export = read_export(shipped_copy)
    assert export.codec.size == export.config["vocab_size"]
    record = export.config["shards"][SHARD]
    data = (shipped_copy / SHARD).read_bytes()
    assert record == {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    assert len(export.weights) == 3 + 3 * export.config["model"]["num_layers"]
    assert first_float(shipped_copy) == (NAN_WEIGHT, NAN_AT, NAN_DTYPE)  # DAMAGE fits both
    assert len(data) == SHIPPED_BYTES


def test_both_formats_hold_the_same_weights(tmp_path):
    new = as_format_3(SHIPPED, tmp_path / "new")
    assert json.loads((new / "model.json").read_text())["format"] == "cadenza-weights"
    old, again = read_export(SHIPPED).weights, read_export(new).weights
    assert sorted(old) == sorted(again)
    for name in old:
        assert np.array_equal(old[name], again[name])


@pytest.mark.parametrize("damage", DAMAGE, ids=list(DAMAGE))
def test_the_reader_refuses_a_damaged_export_with_its_reason(shipped_copy, damage):
    change, reason = DAMAGE[damage]
    change(shipped_copy)
    with pytest.raises(CadenzaError, match="^" + str(shipped_copy)) as e:
        read_export(shipped_copy)
    assert reason in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("damage", NETWORK_DAMAGE, ids=list(NETWORK_DAMAGE))
def test_the_reader_refuses_a_network_it_does_not_run(tmp_path, damage):
    folder = as_format_3(SHIPPED, tmp_path / "chorales")
    change, reason = NETWORK_DAMAGE[damage]
    change(folder)
    with pytest.raises(CadenzaError, match="^" + str(folder)) as e:
        read_export(folder)
    assert reason in str(e.value) and "\n" not in str(e.value)


def test_shipped_models_list_exactly_their_files():
    for folder in sorted((ROOT / "site" / "models").glob("*/config.json")):
        config = json.loads(folder.read_text())
        assert config["files"] == sorted(p.name for p in folder.parent.iterdir())
        assert is_export_folder(folder.parent)


# --- cases 5 and 10: the converter command ------------------------------------

def export(run: Path, out: Path, *more):
    return cli("--run-dir", run, "--out", out, *more, module="converter", check=False)


def one_error_line(proc) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stderr


@pytest.mark.slow
def test_export_writes_the_file_list_and_shard_hashes(trained, tmp_path):
    out = tmp_path / "model"
    assert export(trained, out).returncode == 0
    config = json.loads((out / "config.json").read_text())
    assert config["files"] == sorted(p.name for p in out.iterdir())
    assert listed_files(out) == set(config["files"])
    shards = sorted(p.name for p in out.glob("group*-shard*.bin"))
    assert sorted(config["shards"]) == shards
    for name in shards:
        data = (out / name).read_bytes()
        assert config["shards"][name] == {"bytes": len(data),
                                          "sha256": hashlib.sha256(data).hexdigest()}
    assert config["weights_bytes"] == sum(s["bytes"] for s in config["shards"].values())
    read_export(out)  # the reader accepts what the exporter writes
    assert not list(tmp_path.glob(".model.*"))  # no temporary folder left beside it


@pytest.mark.slow
def test_out_keeps_a_users_model_json_beside_a_cadenza_config(trained, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"type": "cadenza-lstm"}')
    (out / "model.json").write_text('{"my": "own model"}')
    err = one_error_line(export(trained, out))
    assert "lists no exported files" in err
    assert (out / "model.json").read_text() == '{"my": "own model"}'
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.json"]


@pytest.mark.slow
def test_out_refuses_a_previous_export_with_a_users_file_added(trained, tmp_path):
    out = tmp_path / "model"
    assert export(trained, out).returncode == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "notes.txt").write_text("keep me")
    (out / "extra").mkdir()
    err = one_error_line(export(trained, out, "--quantize", "uint8"))
    assert "holds extra, notes.txt, which the previous export did not write" in err
    assert (out / "notes.txt").read_text() == "keep me" and (out / "extra").is_dir()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file() and
            p.name != "notes.txt"} == before
    (out / "notes.txt").unlink()
    (out / "extra").rmdir()
    assert export(trained, out, "--quantize", "uint8").returncode == 0  # now only its own files
    assert json.loads((out / "config.json").read_text())["quantization"] == "uint8"
    assert not list(tmp_path.glob(".model.*"))


@pytest.mark.slow
def test_an_export_from_before_the_file_list_is_replaced_by_its_model_json(trained, tmp_path):
    out = tmp_path / "old"
    assert export(trained, out).returncode == 0
    edit_json(out / "config.json", lambda c: [c.pop("files"), c.pop("shards")])  # as before,
    (out / "split.json").unlink()  # which exports did not write either
    (out / "notes.txt").write_text("keep me")
    err = one_error_line(export(trained, out))
    assert "holds notes.txt, which the previous export did not write" in err
    (out / "notes.txt").unlink()
    assert export(trained, out).returncode == 0  # model.json is the converter's network
    assert "files" in json.loads((out / "config.json").read_text())


@pytest.mark.slow
def test_converter_on_a_run_whose_config_json_is_empty(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    (run / "config.json").write_text("{}")
    err = one_error_line(export(run, tmp_path / "out"))
    assert "config.json is not a training run's" in err and str(run) in err
    assert "--run-dir: is required" not in err
    assert not (tmp_path / "out").exists()
    err = one_error_line(export(SHIPPED, tmp_path / "out"))
    assert "is an export folder, not a training run" in err


# --- case 11 on the page: the Compose page shows why a model was refused -------

def _padded(route):
    response = route.fetch()
    route.fulfill(response=response, body=response.body() + bytes(4096))


def _flipped(route):
    response = route.fetch()
    body = bytearray(response.body())
    body[len(body) // 2] ^= 0x10
    route.fulfill(response=response, body=bytes(body))


def _no_manifest(route):
    model = route.fetch().json()
    model.pop("weightsManifest")
    route.fulfill(json=model)


def _other_parity(route):
    """Probabilities a step late: as two weights of one shape swapped would give."""
    parity = route.fetch().json()
    parity["probabilities"] = parity["probabilities"][1:] + parity["probabilities"][:1]
    route.fulfill(json=parity)


PAGE_DAMAGE = {  # damage -> (what to route, how, the reason the page must show)
    "shard padded by 4 KB": ("**/group1-shard1of1.bin", _padded, "bytes, config.json says"),
    "bit-flipped shard": ("**/group1-shard1of1.bin", _flipped, "is damaged: its SHA-256 differs"),
    "no weightsManifest": ("**/model.json", _no_manifest, "model.json has no weightsManifest"),
    "weights that do not give parity.json's probabilities": (
        "**/parity.json", _other_parity, "the weights do not give the probabilities in parity"),
}


@pytest.mark.browser
@pytest.mark.parametrize("damage", PAGE_DAMAGE, ids=list(PAGE_DAMAGE))
def test_the_compose_page_shows_why_a_model_was_refused(page, base, damage):
    from test_site import COMPOSE, open_compose

    pattern, handler, reason = PAGE_DAMAGE[damage]
    page.route(pattern, handler)
    open_compose(page, base)
    page.click("[data-cz=generate]")
    page.wait_for_selector("[data-cz=error]:not([hidden])")
    shown = page.inner_text("[data-cz=error]")
    assert "could not be loaded" in shown and reason in shown, shown
    assert page.get_attribute(COMPOSE, "data-state") == "error"
    assert page.evaluate("window.cadenza.song()") is None  # nothing was composed


# --- case 12: a share link across wasm binaries ----------------------------------

@pytest.mark.browser
def test_a_seed_names_the_same_song_on_every_wasm_binary(browser):
    """bench/browser_determinism.py in small: the plain, SIMD and threaded SIMD
    binaries compose the same tokens (site/compose.md says when a link holds)."""
    sys.path.insert(0, str(ROOT / "bench"))
    import browser_determinism as bench

    base = bench.serve(bench.site_root(ROOT / "site" / "models"))
    request = {"models": [f"{base}models/chorales/"], "seeds": [0, 1, 2], "maxNotes": 60,
               "temperature": 1, "topP": 0.95, "wasmUrl": f"{base}wasm/"}
    songs = {}
    for variant in ("wasm", "wasm-simd", "wasm-simd-2t"):
        page = browser.new_page()
        page.goto(base)
        out = page.evaluate("(r) => songs(r)", {**request, **bench.VARIANTS[variant]})
        page.close()
        assert out["simd"] == bench.VARIANTS[variant]["simd"]
        songs[variant] = out["models"][request["models"][0]]
    assert songs["wasm-simd-2t"]["logits"] == songs["wasm-simd"]["logits"]  # bit for bit
    assert songs["wasm"]["logits"] != songs["wasm-simd"]["logits"]  # the arithmetic differs
    tokens = [songs[v]["tokens"] for v in ("wasm", "wasm-simd", "wasm-simd-2t")]
    assert tokens[0] == tokens[1] == tokens[2]


@pytest.mark.browser
def test_the_page_says_which_binary_composed_the_song(page, base):
    from test_site import generate, open_compose

    open_compose(page, base)
    song = generate(page, seed=3, length=20)
    assert song["backend"] == "wasm SIMD"  # threads stay off, so every SIMD browser agrees
    assert page.inner_text("[data-cz=status]").endswith("on wasm SIMD.")


@pytest.mark.browser
def test_a_share_link_names_the_model_version_and_says_when_it_differs(page, base):
    from test_site import COMPOSE, generate, open_compose

    open_compose(page, base)
    song = generate(page, seed=9, length=20)
    model = song["settings"]["model"]
    config = json.loads((ROOT / "site" / "models" / model / "config.json").read_text())
    version = "".join(s["sha256"][:8] for s in config["shards"].values())
    link = page.input_value("[data-cz=share]")
    assert f"w={version}" in link
    page.goto("about:blank")
    page.goto(link)  # the same version: the same song, no note
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert page.evaluate("window.cadenza.song()")["tokens"] == song["tokens"]
    assert "another version" not in page.inner_text("[data-cz=status]")
    page.goto("about:blank")
    page.goto(link.replace(f"w={version}", "w=0badf00d"))  # made with other weights
    page.wait_for_function(f"document.querySelector('{COMPOSE}').dataset.state === 'done'")
    assert f"made with another version of {model}" in page.inner_text("[data-cz=status]")

"""Example songs of the shipped models: a .mid, an .mp3 and a piano-roll .png each.

Every model folder under ``models_dir`` (an export folder) composes
``per_request`` songs for each of its requests (a key and a meter, as
``sample --key --meter`` takes them) from its own exported weights (read
back as the browser reads them, quantisation included), cut to at most
``max_seconds`` at the model's tempo; a song that ends sooner than
``min_seconds`` is passed over for the next seed. Seeds count up from 0 per
model, so the same command rewrites the same files. ``index.json`` lists
every example for the site.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from converter import render
from converter.folder import is_export_folder
from converter.read import read_export
from trainer.compose import form
from trainer.compose.composing import compose
from trainer.errors import CadenzaError
from trainer.music import keys as K
from trainer.music import midi_io

MAX_TRIES = 50  # seeds tried per example before giving up on a too-short model
AUDIO_KBPS = 40  # mono MP3: about 300 kB a minute, enough for a piano demo


@dataclass(frozen=True)
class ExampleSpec:
    # (model name, key, meter); a model without requests composes with key and meter "any"
    requests: tuple[tuple[str, str, str], ...] = ()
    temperature: float = 1.0
    per_request: int = 2
    top_p: float = 0.95
    min_seconds: float = 30.0
    max_seconds: float = 60.0
    notes: int = 1500  # upper bound per song before the cut
    tempi: tuple[tuple[str, float], ...] = ()  # (model name, BPM); others DEFAULT_TEMPO
    default_tempo: float = 100.0


def make_examples(models_dir: Path, out_dir: Path, spec: ExampleSpec = ExampleSpec()) -> dict:
    """Write every model's examples and ``out_dir/index.json``; return the index."""
    models = [f for f in sorted(Path(models_dir).iterdir()) if is_export_folder(f)]
    if not models:
        raise CadenzaError(f"no exported model folders under {models_dir}")
    tempi = dict(spec.tempi)
    examples = []
    for folder in models:
        examples += model_examples(folder, Path(out_dir), spec,
                                   tempi.get(folder.name, spec.default_tempo))
    index = {"spec": {k: v for k, v in spec.__dict__.items()}, "examples": examples}
    (Path(out_dir) / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return index


def model_examples(folder: Path, out_dir: Path, spec: ExampleSpec, tempo: float) -> list[dict]:
    export = read_export(folder)
    codec, stepper = export.codec, export.stepper()
    head = form.of_export(folder)  # the form head, where it has one (bars that come back)
    target = out_dir / folder.name
    target.mkdir(parents=True, exist_ok=True)
    for old in target.iterdir():
        if old.suffix in (".mid", ".mp3", ".png"):
            old.unlink()
    steps_per_second = codec.config.steps_per_beat * tempo / 60
    out, seed, temperature = [], 0, spec.temperature
    requests = [(k, m) for name, k, m in spec.requests if name == folder.name] or [("any", "any")]
    for key, meter in requests:
        key_id = codec.key_id(K.parse_key(key)) if key != "any" else None
        meter_id = codec.meter_id(K.parse_meter(meter)) if meter != "any" else None
        for _ in range(spec.per_request):
            for _try in range(MAX_TRIES):
                notes, meta, _ = compose(stepper, codec, [codec.bos_id], spec.notes,
                                         temperature, 0, spec.top_p, seed, key_id, meter_id,
                                         form=head)
                pad = midi_io.pickup_pad(meta, codec.config.steps_per_beat) if meta else 0
                notes = cut(notes, spec.max_seconds * steps_per_second - pad)
                # the written file starts with the rest that pads a pickup to a whole bar
                seconds = float((pad + notes[:, 0] + notes[:, 1]).max() / steps_per_second) \
                    if len(notes) else 0.0
                seed += 1
                if seconds >= spec.min_seconds:
                    break
            else:
                raise CadenzaError(f"{folder.name}: no song of {spec.min_seconds:.0f} s "
                                   f"in {MAX_TRIES} seeds ({key}, {meter})")
            stated = "" if meta is None else \
                f" · {K.key_name(meta.key).replace(':', ' ')} · {K.meter_name(meta.meter)}"
            stem = f"{folder.name}-{_slug(key)}-{_slug(meter)}-s{seed - 1:03d}"
            midi_io.write_midi(notes, target / f"{stem}.mid", codec.config.steps_per_beat, tempo,
                               meta=meta)
            render.render_audio(target / f"{stem}.mid", target / f"{stem}.mp3", kbps=AUDIO_KBPS)
            piano_roll(notes, target / f"{stem}.png", steps_per_second)
            out.append({"model": folder.name, "title": f"{folder.name}{stated} · seed {seed - 1}",
                        "key": key, "meter": meter,
                        "temperature": temperature, "top_p": spec.top_p,
                        "seed": seed - 1, "tempo": tempo, "notes": int(len(notes)),
                        "seconds": round(seconds, 1),
                        **{kind: f"{folder.name}/{stem}.{ext}" for kind, ext in
                           (("midi", "mid"), ("audio", "mp3"), ("image", "png"))}})
            print(f"wrote {target / stem}.mid/.mp3/.png: {len(notes)} notes, {seconds:.0f} s")
    return out


def _slug(text: str) -> str:
    return text.replace(":", "-").replace("/", "-").lower()


def cut(notes: np.ndarray, max_steps: float) -> np.ndarray:
    """Notes that start before ``max_steps``, each ending by it."""
    notes = notes[notes[:, 0] < max_steps].copy()
    notes[:, 1] = np.minimum(notes[:, 1], int(max_steps) - notes[:, 0]).clip(1)
    return notes


def piano_roll(notes: np.ndarray, path: Path, steps_per_second: float) -> None:
    """A small deterministic piano-roll PNG: time in seconds across, pitch up."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 2.4), dpi=100)
    start, dur, pitch = (notes[:, k] / (steps_per_second if k < 2 else 1) for k in range(3))
    ax.barh(pitch, dur, left=start, height=0.8, color="#3f51b5", linewidth=0)
    ax.set_xlim(0, float((start + dur).max()) if len(notes) else 1)
    ax.set_ylim(notes[:, 2].min() - 2, notes[:, 2].max() + 2)
    ax.set_xlabel("seconds")
    ax.set_ylabel("MIDI pitch")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)

"""``python -m trainer sample``: compose songs with a trained run, write .mid files.

Each song is one stateful pass: the prime (``BOS``, or the start of a real
MIDI file) is fed through :class:`Stepper` once, then one LSTM step per new
token. Song ``i`` uses seed ``seed + i``, so a seed names a song.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from trainer import backend, midi_io
from trainer.codec import Codec
from trainer.config import SampleConfig
from trainer.display import shown
from trainer.errors import CadenzaError
from trainer.runs import RunDir
from trainer.sampling import generate
from trainer.stepper import Stepper


def command(given: dict) -> int:
    cfg = SampleConfig(**given[SampleConfig])
    midi_io.program_of(cfg.instrument)  # refuse a bad name before loading anything
    run = RunDir(cfg.run_dir)
    run.check_folder()
    RunDir(cfg.out_dir).check_folder("--out-dir")
    codec, weights_path = run.codec(), run.weights_path(cfg.checkpoint)
    prime = prime_tokens(codec, cfg.prime_file, cfg.prime_notes)
    paths = [cfg.out_dir / f"cadenza-{cfg.seed + i:04d}.mid" for i in range(cfg.num_files)]
    for path in paths:
        if path.exists():
            raise CadenzaError(f"{path} exists; choose another --out-dir or --seed")
    backend.configure()
    from trainer.model import inference_weights, load_trained

    stepper = Stepper(inference_weights(load_trained(run, cfg.checkpoint)))
    print(f"composing {cfg.num_files} song(s) with {shown(weights_path)}")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    for i, path in enumerate(paths):
        notes = compose(stepper, codec, prime, cfg.length, cfg.temperature, cfg.top_k,
                        cfg.top_p, cfg.seed + i)
        midi_io.write_midi(notes, path, codec.config.steps_per_beat, cfg.tempo, cfg.instrument)
        seconds = (notes[:, 0] + notes[:, 1]).max() / codec.config.steps_per_beat * 60 / cfg.tempo \
            if len(notes) else 0.0
        print(f"wrote {shown(path)}: {len(notes)} notes, {seconds:.1f} s, "
              f"{len(set(notes[:, 1].tolist()))} distinct durations")
    return 0


def compose(stepper: Stepper, codec: Codec, prime, length: int, temperature: float,
            top_k: int, top_p: float, seed: int) -> np.ndarray:
    """Notes of one song: ``prime`` continued up to ``length`` notes (or ``EOS``)."""
    stepper.reset()
    new = generate(stepper.step, codec, prime, length, temperature, top_k, top_p, seed)
    return codec.decode(np.concatenate([prime, new]))


def prime_tokens(codec: Codec, prime_file: Path | None, prime_notes: int) -> np.ndarray:
    """``[BOS]``, or ``BOS`` + the first ``prime_notes`` notes of ``prime_file`` (no ``EOS``)."""
    if prime_file is None:
        return np.array([codec.bos_id], dtype=np.int32)
    try:
        notes = codec.quantise(midi_io.read_midi(prime_file))
    except midi_io.UnusableMidi as e:
        raise CadenzaError(f"--prime-file {prime_file}: {e}") from None
    except OSError as e:
        raise CadenzaError(f"--prime-file {prime_file}: cannot read it ({e.strerror})") from None
    if len(notes) == 0:
        raise CadenzaError(f"--prime-file {prime_file}: no notes in the piano range")
    return codec.encode(notes[:prime_notes])[:-1]

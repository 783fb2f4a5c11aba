"""``python -m trainer sample``: compose songs with a trained model, write .mid files.

``--run-dir`` is a training run or an exported model folder. Song ``i`` uses
seed ``seed + i``, so a seed names a song.
"""

from __future__ import annotations

from trainer import midi_io
from trainer.composing import compose, describe, prime_tokens, song_seconds
from trainer.config import SampleConfig
from trainer.display import shown
from trainer.errors import CadenzaError
from trainer.loading import load, requests
from trainer.runs import RunDir
from trainer.stepper import Stepper


def command(given: dict) -> int:
    cfg = SampleConfig(**given[SampleConfig])
    midi_io.program_of(cfg.instrument)  # refuse a bad name before loading anything
    RunDir(cfg.run_dir).check_folder()
    RunDir(cfg.out_dir).check_folder("--out-dir")
    if cfg.prime_file is not None and (cfg.key != "any" or cfg.meter != "any"):
        raise CadenzaError("--prime-file sets the key and meter of its songs; "
                           "leave --key and --meter at any")
    paths = [cfg.out_dir / f"cadenza-{cfg.seed + i:04d}.mid" for i in range(cfg.num_files)]
    for path in paths:
        if path.exists():
            raise CadenzaError(f"{path} exists; choose another --out-dir or --seed")
    loaded = load(cfg.run_dir, cfg.checkpoint)
    codec = loaded.codec
    key, meter = requests(loaded, cfg.key, cfg.meter)
    prime = prime_tokens(codec, cfg.prime_file, cfg.prime_notes)
    stepper = Stepper.for_codec(loaded.weights, codec)
    print(f"composing {cfg.num_files} song(s) with {shown(loaded.source)}")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    spb = codec.config.steps_per_beat
    for i, path in enumerate(paths):
        notes, meta, _ = compose(stepper, codec, prime, cfg.length, cfg.temperature, cfg.top_k,
                                 cfg.top_p, cfg.seed + i, key, meter)
        midi_io.write_midi(notes, path, spb, cfg.tempo, cfg.instrument, meta=meta)
        stated = f" in {describe(meta)}" if meta else ""
        print(f"wrote {shown(path)}: {len(notes)} notes, "
              f"{song_seconds(notes, spb, cfg.tempo):.1f} s{stated}, "
              f"{len(set(notes[:, 1].tolist()))} distinct durations")
    return 0

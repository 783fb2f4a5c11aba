"""``python -m trainer harmonize``: a melody stays the top voice; the model writes beneath it.

``--run-dir`` is a polyphonic v2 training run or exported model folder. The
melody is the top line of ``--melody-file`` (or of its ``--track``).
Harmonization ``i`` uses seed ``seed + i`` and is written to
``harmony-<seed>.mid``. To continue a melody instead: ``sample --prime-file``.
"""

from __future__ import annotations

from trainer import keys as K
from trainer import midi_io
from trainer.composing import (check_harmonizer, describe, harmonize_melody, melody_of_file,
                               read_melody, song_seconds)
from trainer.config import HarmonizeConfig
from trainer.display import shown
from trainer.errors import CadenzaError
from trainer.harmony_metrics import voices_per_onset
from trainer.loading import load, requests
from trainer.runs import RunDir
from trainer.stepper import Stepper


def command(given: dict) -> int:
    cfg = HarmonizeConfig(**given[HarmonizeConfig])
    midi_io.program_of(cfg.instrument)  # refuse a bad name before loading anything
    RunDir(cfg.run_dir).check_folder()
    RunDir(cfg.out_dir).check_folder("--out-dir")
    paths = [cfg.out_dir / f"harmony-{cfg.seed + i:04d}.mid" for i in range(cfg.num_files)]
    for path in paths:
        if path.exists():
            raise CadenzaError(f"{path} exists; choose another --out-dir or --seed")
    raw = read_melody(cfg.melody_file, cfg.track)  # a bad file fails before the model loads
    loaded = load(cfg.run_dir, cfg.checkpoint)
    codec = loaded.codec
    check_harmonizer(codec, shown(loaded.path))
    requests(loaded, cfg.key, cfg.meter)  # refuses what sample refuses, notes what is unseen
    melody = melody_of_file(codec, raw, cfg.melody_file, K.parse_key(cfg.key),
                            K.parse_meter(cfg.meter), cfg.length)
    stepper = Stepper.for_codec(loaded.weights, codec)
    print(f"harmonizing a melody of {len(melody.notes)} notes in {describe(melody.meta)} "
          f"with {shown(loaded.source)}")
    if melody.folded:
        print(f"note: {melody.folded} melody note(s) outside A0..C8 moved by octaves into it")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    spb = codec.config.steps_per_beat
    for i, path in enumerate(paths):
        notes, meta, constraint = harmonize_melody(stepper, codec, melody, cfg.temperature,
                                                   cfg.top_k, cfg.top_p, cfg.seed + i)
        midi_io.write_midi(notes, path, spb, cfg.tempo, cfg.instrument, meta=meta)
        fell_back = f", {constraint.fallbacks} fallback step(s)" if constraint.fallbacks else ""
        print(f"wrote {shown(path)}: {len(notes)} notes, "
              f"{song_seconds(notes, spb, cfg.tempo):.1f} s, "
              f"{voices_per_onset(notes, melody.notes):.2f} voices per melody onset{fell_back}")
    return 0

"""What ``sample`` and ``harmonize`` do: load a model, compose, write .mid files.

``cfg.run_dir`` is a training run or an exported model folder; ``how``
(:class:`trainer.config.SamplingConfig`) says how tokens are drawn and the
files played. Song ``i``
uses seed ``seed + i``, so a seed names a song; a harmonization ``i`` is
written to ``harmony-<seed>.mid``. Everything that can be refused (the
instrument, the folders, a file that exists, the melody) is refused before
the model loads.
"""

from __future__ import annotations

import sys

from tqdm import tqdm

from trainer.compose import form
from trainer.compose.composing import (check_harmonizer, compose, describe, harmonize_melody,
                                       melody_of_file, prime_tokens, read_melody, song_seconds)
from trainer.compose.harmony import voices_per_onset
from trainer.compose.stepper import Stepper
from trainer.config import HarmonizeConfig, SampleConfig, SamplingConfig
from trainer.errors import CadenzaError, shown
from trainer.music import keys as K
from trainer.music import midi_io
from trainer.nn.loading import load, requests
from trainer.nn.runs import RunDir


def _paths(cfg: SampleConfig | HarmonizeConfig, how: SamplingConfig, stem: str) -> list:
    """The files ``cfg`` asks for, ``stem-<seed>.mid`` each; refuses a bad instrument,
    model folder or output folder, or a file that exists, before anything loads."""
    midi_io.program_of(how.instrument)
    RunDir(cfg.run_dir).check_folder()
    RunDir(cfg.out_dir).check_folder("--out-dir")
    paths = [cfg.out_dir / f"{stem}-{cfg.seed + i:04d}.mid" for i in range(cfg.num_files)]
    for path in paths:
        if path.exists():
            raise CadenzaError(f"{path} exists; choose another --out-dir or --seed")
    return paths


def sample(cfg: SampleConfig, how: SamplingConfig) -> None:
    """Compose ``cfg.num_files`` songs (song ``i`` with seed ``seed + i``) into .mid files."""
    paths = _paths(cfg, how, "cadenza")
    if cfg.prime_file is not None and (cfg.key != "any" or cfg.meter != "any"):
        raise CadenzaError("--prime-file sets the key and meter of its songs; "
                           "leave --key and --meter at any")
    loaded = load(cfg.run_dir, how.checkpoint)
    codec = loaded.codec
    key, meter = requests(loaded, cfg.key, cfg.meter)
    prime = prime_tokens(codec, cfg.prime_file, cfg.prime_notes)
    stepper = Stepper(loaded.weights, loaded.network, codec)
    head = None if cfg.no_form else form.of(loaded)  # which bars come back, where fitted
    print(f"composing {cfg.num_files} song(s) with {shown(loaded.source)}")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    spb = codec.config.steps_per_beat
    for i, path in enumerate(_bar(paths, desc="composing", unit="song")):
        notes, meta, _ = compose(stepper, codec, prime, cfg.length, how.temperature, how.top_k,
                                 how.top_p, cfg.seed + i, key, meter, form=head)
        midi_io.write_midi(notes, path, spb, how.tempo, how.instrument, meta=meta)
        stated = f" in {describe(meta)}" if meta else ""
        tqdm.write(f"wrote {shown(path)}: {len(notes)} notes, "
                   f"{song_seconds(notes, spb, how.tempo):.1f} s{stated}, "
                   f"{len(set(notes[:, 1].tolist()))} distinct durations", file=sys.stdout)


def harmonize(cfg: HarmonizeConfig, how: SamplingConfig) -> None:
    """Harmonize the top line of ``cfg.melody_file`` ``cfg.num_files`` times into .mid files."""
    paths = _paths(cfg, how, "harmony")
    raw = read_melody(cfg.melody_file, cfg.track)  # a bad file fails before the model loads
    loaded = load(cfg.run_dir, how.checkpoint)
    codec = loaded.codec
    check_harmonizer(codec, shown(loaded.path))
    requests(loaded, cfg.key, cfg.meter)  # refuses what sample refuses, notes what is unseen
    melody = melody_of_file(codec, raw, cfg.melody_file, K.parse_key(cfg.key),
                            K.parse_meter(cfg.meter), cfg.length)
    stepper = Stepper(loaded.weights, loaded.network, codec)
    print(f"harmonizing a melody of {len(melody.notes)} notes in {describe(melody.meta)} "
          f"with {shown(loaded.source)}")
    if melody.folded:
        print(f"note: {melody.folded} melody note(s) outside A0..C8 moved by octaves into it")
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    spb = codec.config.steps_per_beat
    end = melody.end
    bar = _bar(total=end * len(paths), desc="harmonizing", unit="step")
    for i, path in enumerate(paths):
        notes, meta, constraint = harmonize_melody(
            stepper, codec, melody, how.temperature, how.top_k, how.top_p, cfg.seed + i,
            progress=lambda time: bar.update(i * end + time - bar.n))
        midi_io.write_midi(notes, path, spb, how.tempo, how.instrument, meta=meta)
        fell_back = f", {constraint.fallbacks} fallback step(s)" if constraint.fallbacks else ""
        tqdm.write(f"wrote {shown(path)}: {len(notes)} notes, "
                   f"{song_seconds(notes, spb, how.tempo):.1f} s, "
                   f"{voices_per_onset(notes, melody.notes):.2f} voices per melody onset"
                   f"{fell_back}", file=sys.stdout)
    bar.close()


def _bar(iterable=None, **kwargs) -> tqdm:
    """A progress bar with an ETA on stderr, where stderr is a terminal (a log stays
    clean); the line each file prints goes to stdout through ``tqdm.write``, which
    keeps the bar whole."""
    return tqdm(iterable, disable=None, file=sys.stderr, leave=False, **kwargs)

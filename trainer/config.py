"""Every setting of Cadenza, as one tree of frozen dataclasses.

Each field carries its help text in ``metadata``; ``cli`` turns fields into
flags, so a flag and its setting can never drift apart. Values are checked in
``__post_init__`` and a bad one raises :class:`ConfigError` with a one-line
message naming the flag. ``RunConfig`` is what a run folder's ``config.json``
holds: ``RunConfig.from_dict(cfg.to_dict()) == cfg``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path

from trainer import constants as C
from trainer.errors import ConfigError


def _opt(default, help: str, **extra):
    return field(default=default, metadata={"help": help, **extra})


def _check(ok: bool, flag: str, message: str) -> None:
    if not ok:
        raise ConfigError(f"--{flag.replace('_', '-')}: {message}")


@dataclass(frozen=True)
class CodecConfig:
    """How notes become tokens (saved in vocab.json)."""

    steps_per_beat: int = _opt(C.STEPS_PER_BEAT, "grid steps per quarter-note beat")
    max_duration: int = _opt(C.MAX_DURATION, "longest note duration token, in steps")
    max_shift: int = _opt(C.MAX_SHIFT, "longest time-shift token, in steps")
    mono: bool = _opt(False, "keep only the top note at each onset (melody)")
    vocab_version: int = _opt(C.VOCAB_VERSION, "token language: 2 adds key, meter and bar "
                                               "tokens; 1 is notes only",
                              choices=C.VOCAB_VERSIONS)
    no_bars: bool = _opt(False, "version 2 without BAR tokens (an ablation)")

    def __post_init__(self):
        _check(self.vocab_version in C.VOCAB_VERSIONS, "vocab_version",
               f"must be one of {', '.join(map(str, C.VOCAB_VERSIONS))}")
        _check(not (self.no_bars and self.vocab_version < 2), "no_bars",
               "needs --vocab-version 2")
        _check(1 <= self.steps_per_beat <= 48, "steps_per_beat", "must be 1..48")
        _check(1 <= self.max_duration <= 512, "max_duration", "must be 1..512")
        _check(1 <= self.max_shift <= 512, "max_shift", "must be 1..512")


@dataclass(frozen=True)
class DataConfig:
    """Where the MIDI files come from and where parsed files are cached."""

    data_dir: Path | None = _opt(None, "folder of .mid/.midi files, read recursively "
                                       "(default: the built-in --corpus)")
    corpus: str = _opt(C.DEFAULT_CORPUS, "built-in corpus used when --data-dir is not given",
                       choices=C.BUILTIN_CORPORA)
    cache_dir: Path | None = _opt(None, f"cache folder (default: ${C.CACHE_ENV} "
                                        "or ~/.cache/cadenza)")
    jobs: int = _opt(0, "parallel parsing processes (0: one per CPU core)")
    programs: tuple[int, ...] = _opt((), "General MIDI programs (0-127) to keep; "
                                         "default: every non-drum instrument")
    one_pass: bool = _opt(False, "train and validate on each song's first pass only, where "
                                 "a file plays its whole tune again (the test songs stay "
                                 "whole)")

    def __post_init__(self):
        _check(self.corpus in C.BUILTIN_CORPORA, "corpus",
               f"unknown corpus {self.corpus!r}; choose from {', '.join(C.BUILTIN_CORPORA)}")
        _check(self.jobs >= 0, "jobs", "must be >= 0")
        _check(all(0 <= p <= 127 for p in self.programs), "programs", "must be 0..127")

    def resolved_cache_dir(self) -> Path:
        """The cache folder: the flag, else $CADENZA_CACHE, else ~/.cache/cadenza."""
        if self.cache_dir is not None:
            return self.cache_dir
        env = os.environ.get(C.CACHE_ENV)
        return Path(env) if env else Path.home() / ".cache" / "cadenza"

    def resolved_jobs(self) -> int:
        return self.jobs or os.cpu_count() or 1


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the LSTM; together with the vocabulary it fixes the weights."""

    rnn_size: int = _opt(C.RNN_SIZE, "LSTM units per layer")
    num_layers: int = _opt(C.NUM_LAYERS, "stacked LSTM layers")
    embedding_size: int = _opt(C.EMBEDDING_SIZE, "token embedding width")
    dropout: float = _opt(C.DROPOUT, "dropout between layers while training")
    independent_pitches: bool = _opt(False, "give each NOTE token only its own embedding and "
                                            "output weights (default: also share them across "
                                            "pitch classes and octaves)")
    no_degrees: bool = _opt(False, "v2: no scale-degree logits (each NOTE scored also by its "
                                   "degree in the song's key)")
    bar_input: bool = _opt(False, "v2: also feed the bar count (how many bars the song has "
                                  "had) at every step (measured on the chorales: songs end "
                                  "too soon, test NLL per note 2.753 against 2.721 without)")
    sounding_input: bool = _opt(False, "v2: also feed the piano keys sounding now (held from "
                                       "before or placed at this time) at every step "
                                       "(trainer/music/context.py)")
    lookback_input: bool = _opt(False, "v2 with bars: also feed what started 1, 2, 4 and 8 bars "
                                       "ago at every step: its pitches, the gap to the next "
                                       "onset and the pending note's duration there")
    repeat_input: bool = _opt(False, "with --lookback-input: also feed whether the song repeats "
                                     "those bars note for note (Lookback RNN's repeat flags)")

    def __post_init__(self):
        _check(1 <= self.rnn_size <= 8192, "rnn_size", "must be 1..8192")
        _check(1 <= self.num_layers <= 16, "num_layers", "must be 1..16")
        _check(1 <= self.embedding_size <= 4096, "embedding_size", "must be 1..4096")
        _check(0.0 <= self.dropout < 1.0, "dropout", "must be in [0, 1)")
        _check(self.lookback_input or not self.repeat_input, "repeat_input",
               "needs --lookback-input (it flags a repeat of what the lookback reads)")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; ``run_dir`` receives everything the run produces."""

    run_dir: Path = _opt(None, "folder for this run's config, checkpoints and logs",
                         required=True)
    epochs: int = _opt(C.EPOCHS, "most epochs to train (early stopping may end sooner)")
    patience: int = _opt(C.PATIENCE, "stop after this many epochs without a better "
                                     "validation loss")
    window_size: int = _opt(C.WINDOW_SIZE, "tokens per training window")
    batch_size: int = _opt(C.BATCH_SIZE, "windows per batch")
    burn_in: int = _opt(C.BURN_IN, "a window starting mid-song first reads this many tokens "
                                   "before it without loss, so it starts from a warm state "
                                   "(at most a quarter of the window)")
    learning_rate: float = _opt(C.LEARNING_RATE, "peak learning rate")
    schedule: str = _opt(C.SCHEDULE, "learning-rate schedule: cosine (warm-up, then decay to "
                                     f"{C.LR_FINAL:g} x LR over --epochs) or plateau (halve "
                                     f"after {C.LR_PATIENCE} epochs without improvement)",
                         choices=C.SCHEDULES)
    optimizer: str = _opt("adam", "optimizer", choices=C.OPTIMIZERS)
    grad_clip: float = _opt(C.GRAD_CLIP, "clip gradients to this global norm (0: off)")
    val_fraction: float = _opt(C.VAL_FRACTION, "share of songs held out for validation "
                                               "(early stopping and model choices)")
    test_fraction: float = _opt(C.TEST_FRACTION, "share of songs kept for the test that "
                                                 "evaluate reports (never seen in training)")
    test_songs: Path | None = _opt(None, "JSON file naming the test songs (a list, or an "
                                         "earlier run's split.json, whose validation songs "
                                         "are taken): to compare runs on the same songs")
    transpose: int = _opt(C.TRANSPOSE, "augment each window by a random transposition "
                                       "of up to +-K semitones")
    ema: float = _opt(0.0, "also keep an exponential moving average of the weights with "
                           "this momentum per step (0: off): validation, early stopping, "
                           "the best checkpoint and so evaluation and export use the average")
    init_from: Path | None = _opt(None, "start from the weights of this trained model (a run "
                                        "or export folder with the same codec and network) "
                                        "instead of random ones")
    refit: Path | None = _opt(None, "train again as the finished run REFIT did (its settings, "
                                    "split, best epoch count and each epoch's learning rate, "
                                    "all chosen on its validation songs), on its training and "
                                    "validation songs together; the last epoch's weights are "
                                    "kept, as nothing is left to validate on")
    seed: int = _opt(0, "random seed for the split, shuffling and initial weights")
    devices: int = _opt(0, "data-parallel devices (0: every visible GPU, else one "
                           "device; N>1 on a CPU-only machine splits the CPU)")
    resume: bool = _opt(False, "continue the run in --run-dir from its last checkpoint")

    def __post_init__(self):
        _check(self.run_dir is not None, "run_dir", "is required")
        _check(self.epochs >= 1, "epochs", "must be >= 1")
        _check(self.patience >= 1, "patience", "must be >= 1")
        _check(self.window_size >= 2, "window_size", "must be >= 2")
        _check(self.batch_size >= 1, "batch_size", "must be >= 1")
        _check(self.burn_in >= 0, "burn_in", "must be >= 0")
        _check(0 < self.learning_rate < 10, "learning_rate", "must be in (0, 10)")
        _check(self.schedule in C.SCHEDULES, "schedule",
               f"unknown schedule {self.schedule!r}; choose from {', '.join(C.SCHEDULES)}")
        _check(self.optimizer in C.OPTIMIZERS, "optimizer",
               f"unknown optimizer {self.optimizer!r}; choose from {', '.join(C.OPTIMIZERS)}")
        _check(self.grad_clip >= 0, "grad_clip", "must be >= 0")
        _check(0 < self.val_fraction < 1, "val_fraction", "must be in (0, 1)")
        _check(0 <= self.test_fraction < 1 - self.val_fraction, "test_fraction",
               "must be in [0, 1 - val_fraction)")
        _check(0 <= self.transpose <= 12, "transpose", "must be 0..12")
        _check(self.ema == 0 or 0.5 <= self.ema < 1, "ema", "must be 0 (off) or in [0.5, 1)")
        _check(self.devices >= 0, "devices", "must be >= 0")
        _check(0 <= self.seed <= C.MAX_SEED - self.epochs, "seed",
               f"must be 0..{C.MAX_SEED - self.epochs} (each epoch seeds with seed + epoch)")


@dataclass(frozen=True)
class RunConfig:
    """Everything that defines a training run: what ``config.json`` holds."""

    data: DataConfig = field(default_factory=DataConfig)
    codec: CodecConfig = field(default_factory=CodecConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(run_dir=Path("run")))

    def to_dict(self) -> dict:
        return {f.name: to_dict(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        parts = {f.name: f.type for f in dataclasses.fields(cls)}
        unknown = set(d) - set(parts)
        if unknown:
            raise ConfigError(f"config.json: unknown sections {sorted(unknown)}")
        hints = typing.get_type_hints(cls)
        if "train" in d and "schedule" not in d["train"]:
            # written before schedules existed: such runs trained on the plateau recipe
            d = {**d, "train": {**d["train"], "schedule": "plateau"}}
        if "train" in d and "burn_in" not in d["train"]:
            d = {**d, "train": {**d["train"], "burn_in": 0}}  # before burn-in existed
        if "train" in d and "test_fraction" not in d["train"]:
            d = {**d, "train": {**d["train"], "test_fraction": 0.0}}  # before the test split
        if "model" in d and "no_degrees" not in d["model"]:
            # written before these inputs existed: the network has neither
            d = {**d, "model": {**d["model"], "no_degrees": True}}
        if "codec" in d and "vocab_version" not in d["codec"]:
            # written before codec version 2: such runs use notes-only tokens
            d = {**d, "codec": {**d["codec"], "vocab_version": 1}}
        return cls(**{name: from_dict(hints[name], d.get(name, {})) for name in parts})


def _check_files(cfg, what: str) -> None:
    """What ``sample`` and ``harmonize`` check alike: the key and meter asked for, the
    count and length, and the seeds of the files they write (``what`` i uses seed + i)."""
    _check_choice(cfg.key, "key")
    _check_choice(cfg.meter, "meter")
    _check(cfg.num_files >= 1, "num_files", "must be >= 1")
    _check(cfg.length >= 1, "length", "must be >= 1")
    _check(0 <= cfg.seed <= C.MAX_SEED + 1 - cfg.num_files, "seed",
           f"must be 0..{C.MAX_SEED + 1 - cfg.num_files} ({what} i uses seed + i)")


@dataclass(frozen=True)
class SamplingConfig:
    """How each token is drawn and the files are played: sample and harmonize share these."""

    checkpoint: str = _opt("best", "which checkpoint to load", choices=("best", "last"))
    temperature: float = _opt(C.TEMPERATURE, "divide logits by T; 0 picks the most likely token")
    top_k: int = _opt(C.TOP_K, "keep only the K most likely tokens (0: all)")
    top_p: float = _opt(C.TOP_P, "keep the smallest set of tokens whose probability reaches P")
    tempo: float = _opt(C.TEMPO_BPM, "tempo of the written files, in BPM")
    instrument: str = _opt(C.INSTRUMENT, "General MIDI instrument name of the written files")

    def __post_init__(self):
        _check(0 <= self.temperature < math.inf, "temperature", "must be a finite number >= 0")
        _check(self.top_k >= 0, "top_k", "must be >= 0")
        _check(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        low, high = C.TEMPO_RANGE
        _check(low <= self.tempo <= high, "tempo", f"must be {low}..{high} BPM")


@dataclass(frozen=True)
class SampleConfig:
    """How to compose songs from a trained run."""

    run_dir: Path = _opt(None, "trained run folder, or an exported model folder such as "
                               "site/models/chorales", required=True)
    out_dir: Path = _opt(None, "folder for the .mid files", required=True)
    key: str = _opt("any", "key of the songs, e.g. D:minor or Bb:major (any: the model "
                           "chooses)")
    meter: str = _opt("any", "meter of the songs, e.g. 6/8 or 4/4 (any: the model chooses)")
    num_files: int = _opt(1, "songs to write")
    length: int = _opt(C.SAMPLE_NOTES, "most notes per song, prime included (a song may end "
                                           "sooner at EOS)")
    seed: int = _opt(0, "random seed; song i uses seed+i")
    prime_file: Path | None = _opt(None, "continue the start of this MIDI file")
    prime_notes: int = _opt(16, "how many notes of --prime-file to keep as the start")
    no_form: bool = _opt(False, "compose without the model's form head (which bars come "
                                "back)")

    def __post_init__(self):
        _check_files(self, "song")
        _check(self.prime_notes >= 1, "prime_notes", "must be >= 1")


@dataclass(frozen=True)
class HarmonizeConfig:
    """How to harmonize a melody with a trained polyphonic v2 model."""

    run_dir: Path = _opt(None, "trained run folder, or an exported model folder such as "
                               "site/models/chorales", required=True)
    melody_file: Path = _opt(None, "MIDI file whose top line is the melody (to continue a "
                                   "melody instead, use sample --prime-file)", required=True)
    out_dir: Path = _opt(None, "folder for the harmony-<seed>.mid files", required=True)
    track: int = _opt(0, "take the melody from this non-drum track only, counted from 1 in "
                         "the order the file holds them (0: the top line of every non-drum "
                         "track)")
    key: str = _opt("any", "key of the harmony, e.g. D:minor or Bb:major (any: the file's "
                           "key signature where the melody agrees, else estimated from it)")
    meter: str = _opt("any", "meter of the harmony, e.g. 6/8 or 4/4 (any: the file's time "
                             "signatures, 4/4 without)")
    num_files: int = _opt(1, "harmonizations to write")
    length: int = _opt(512, "longest melody, in notes: a longer one is refused")
    seed: int = _opt(0, "random seed; harmonization i uses seed+i")

    def __post_init__(self):
        _check(self.track >= 0, "track", "must be >= 0 (0: every non-drum track)")
        _check_files(self, "harmonization")


@dataclass(frozen=True)
class HarmonyEvalConfig:
    """How to score a model's harmonizations of its test songs' top lines."""

    run_dir: Path = _opt(None, "trained run folder, or an exported model folder",
                         required=True)
    split: Path | None = _opt(None, "split.json naming the train, validation and test songs "
                                    "(default: the model's own)")
    num_songs: int = _opt(0, "harmonize only the first N test songs (0: all)")
    temperature: float = _opt(C.TEMPERATURE, "sampling temperature")
    top_p: float = _opt(C.TOP_P, "nucleus sampling threshold")
    seed: int = _opt(0, "random seed; test song i uses seed+i")
    out: Path | None = _opt(None, "where to write harmony.json (default: into the model "
                                  "folder, a run's or an export's; an export lists it among "
                                  "its files)")

    def __post_init__(self):
        _check(self.num_songs >= 0, "num_songs", "must be >= 0 (0: all)")
        _check(0 <= self.temperature < math.inf, "temperature", "must be a finite number >= 0")
        _check(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        _check(0 <= self.seed <= C.MAX_SEED - 100_000, "seed",
               f"must be 0..{C.MAX_SEED - 100_000} (test songs use seeds from it up)")


@dataclass(frozen=True)
class CalibrateConfig:
    """How to fit a trained run's softmax temperature on its validation songs."""

    run_dir: Path = _opt(None, "trained run folder (a refit takes the temperature of the run "
                               "it repeats)", required=True)
    lowest: float = _opt(0.5, "lowest temperature searched")
    highest: float = _opt(3.0, "highest temperature searched")

    def __post_init__(self):
        _check(0 < self.lowest < self.highest <= 100, "lowest",
               "need 0 < --lowest < --highest <= 100")


@dataclass(frozen=True)
class FormConfig:
    """How to fit a trained run's form head (which bars come back)."""

    run_dir: Path = _opt(None, "trained run folder (after calibrate, where it is calibrated: "
                               "the head is fitted with its weights)", required=True)
    songs: int = _opt(40, "free songs composed at each step of fitting the shift")

    def __post_init__(self):
        _check(1 <= self.songs <= 1000, "songs", "must be 1..1000")


@dataclass(frozen=True)
class EvalConfig:
    """How to evaluate a trained run against its held-out songs."""

    run_dir: Path = _opt(None, "trained run folder, or an exported model folder",
                         required=True)
    split: Path | None = _opt(None, "split.json naming the train, validation and test songs "
                                    "(default: the model's own; needed for a model that has "
                                    "none, such as a v1 export)")
    num_samples: int = _opt(20, "songs to generate per requested key and per meter")
    free_samples: int = _opt(40, "songs to generate with no length limit (when they end, "
                                 "loops, repeats, copying)")
    length: int = _opt(400, "most notes per requested-key or -meter song")
    max_ngram_order: int = _opt(8, "the n-gram baseline's order is chosen on validation "
                                   "from 3 up to this")
    temperature: float = _opt(C.TEMPERATURE, "sampling temperature for generated songs")
    top_p: float = _opt(C.TOP_P, "nucleus sampling threshold for generated songs")
    seed: int = _opt(1234, "random seed for generated songs")
    no_voicing_guard: bool = _opt(False, "compose without the voicing guard that keeps a "
                                         "polyphonic model's onsets to chords: the network "
                                         "alone, as an ablation measures it")
    no_form: bool = _opt(False, "compose and score without the model's form head (which "
                                "bars come back): the network alone, as an ablation "
                                "measures it")
    out: Path | None = _opt(None, "where to write evaluation.json (default: into the run "
                                  "folder; an export folder is left as it is)")

    def __post_init__(self):
        _check(self.num_samples >= 1, "num_samples", "must be >= 1")
        _check(self.free_samples >= 1, "free_samples", "must be >= 1")
        _check(self.length >= 1, "length", "must be >= 1")
        _check(3 <= self.max_ngram_order <= 8, "max_ngram_order", "must be 3..8")
        _check(0 <= self.temperature < math.inf, "temperature", "must be a finite number >= 0")
        _check(0 < self.top_p <= 1, "top_p", "must be in (0, 1]")
        _check(0 <= self.seed <= C.MAX_SEED - 100_000, "seed",
               f"must be 0..{C.MAX_SEED - 100_000} (generated songs use seeds from it up)")


def _check_choice(value: str, flag: str) -> None:
    from trainer.music import keys as K

    try:
        (K.parse_key if flag == "key" else K.parse_meter)(value)
    except ConfigError:
        raise
    except Exception as e:  # CadenzaError names the valid choices
        raise ConfigError(f"--{flag}: {e}") from None


def to_dict(obj) -> dict:
    """A dataclass as plain JSON types (paths as strings, tuples as lists)."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if isinstance(v, Path):
            v = str(v)
        elif isinstance(v, tuple):
            v = list(v)
        out[f.name] = v
    return out


def from_dict(cls, d: dict):
    """Inverse of :func:`to_dict`; unknown keys are an error, missing keys default."""
    hints = typing.get_type_hints(cls)
    unknown = set(d) - set(hints)
    if unknown:
        raise ConfigError(f"{cls.__name__}: unknown settings {sorted(unknown)}")
    return cls(**{k: coerce(hints[k], v) for k, v in d.items()})


def coerce(hint, value):
    """Turn a JSON or command-line value into the field's declared type."""
    if value is None:
        return None
    args = typing.get_args(hint)
    if hint is Path or Path in args:
        return Path(value)
    if typing.get_origin(hint) is tuple:
        return tuple(args[0](v) for v in value)
    if hint in (int, float, str, bool):
        if hint is not float and not isinstance(value, hint):
            raise ConfigError(f"expected {hint.__name__}, got {value!r}")
        return hint(value)
    return value

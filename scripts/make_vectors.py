"""Write ``tests/vectors/*.json``: what the JS codec, keys and sampler must reproduce.

Run ``.venv/bin/python scripts/make_vectors.py`` after changing
``trainer/music/codec.py``, ``trainer/music/keys.py``, ``trainer/compose/sampling.py``,
``trainer/compose/harmony.py``, ``trainer/compose/form.py``, ``trainer/music/codec.py``
(``degree_index``),
``converter/weights.py``, ``trainer/music/midi_io.py`` or ``trainer/music/corpus.py``
(``prepare.json``), or the seed and tempo ranges of ``trainer/constants.py``.
``tests/test_vectors.py`` rebuilds these files in memory and fails while the
committed ones differ; ``tests/js/*.test.mjs`` check every case against
``web/src/``. Each file holds codec v1 cases (codecs pinned to
``vocab_version=1``) and v2 cases (key, meter and bar tokens).

Sampling cases must not hinge on a float's last bits (numpy's ``exp`` and V8's
``Math.exp`` may differ by an ulp): :func:`margin` refuses any draw within
``MARGIN`` of a boundary, and key estimates within ``MARGIN`` of a tie are
refused too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from converter.weights import vectors as weight_vectors
from trainer.compose.harmony import (CHORD_SETS, FINAL_TRIADS, FINAL_VOICES, Constraint,
                                     VoicingGuard, harmonize, melody_line)
from trainer.compose.sampling import TOKENS_PER_NOTE, Mulberry32, candidates, generate, sample_token
from trainer.config import CodecConfig
from trainer.errors import CadenzaError
from trainer.music import keys as K
from trainer.music.codec import Codec
from trainer.music.grammar import Grammar

VECTOR_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors"
MARGIN = 1e-9
DEFAULT = Codec(CodecConfig(vocab_version=1))
MONO = Codec(CodecConfig(steps_per_beat=2, max_duration=6, max_shift=5, mono=True,
                         vocab_version=1))
SMALL = Codec(CodecConfig(max_duration=4, max_shift=4, vocab_version=1))  # generate: small tables
V2 = Codec(CodecConfig(vocab_version=2))
V2_MONO = Codec(CodecConfig(steps_per_beat=2, max_duration=6, max_shift=5, mono=True))
V2_NO_BARS = Codec(CodecConfig(max_shift=8, no_bars=True))
V2_SMALL = Codec(CodecConfig(steps_per_beat=2, max_duration=4, max_shift=4))


def ids(codec: Codec, names: str) -> list[int]:
    """``"BOS NOTE_60 DUR_4"`` -> ids; integers pass through (for ill-formed input)."""
    return [int(n) if n.lstrip("-").isdigit() else codec.tokens.index(n) for n in names.split()]


def random_ids(codec: Codec, seed: int, n: int = 60) -> list[int]:
    """Mostly NOTE/DUR/SHIFT ids, some specials and ids outside the vocabulary."""
    rng = np.random.default_rng(seed)
    return rng.integers(-3, codec.size + 3, n).tolist()


def decode_case(codec: Codec, name: str, seq: list[int]) -> dict:
    """decode (and for v2, decode_meta) of one id sequence."""
    case = {"name": name, "ids": seq, "notes": codec.decode(seq).tolist()}
    if codec.version >= 2:
        case["meta"] = codec.decode_meta(seq).to_json()
    return case


def decode_cases(codec: Codec, named: dict[str, str], seeds) -> dict:
    seqs = [(name, ids(codec, text)) for name, text in named.items()]
    seqs += [(f"random {s}", random_ids(codec, s)) for s in seeds]
    return {"vocab": codec.to_json(), "cases": [decode_case(codec, *seq) for seq in seqs]}


def codec_decode() -> dict:
    song = DEFAULT.encode(DEFAULT.quantise(PHRASE)).tolist()
    named = {
        "chord": "BOS NOTE_72 DUR_4 NOTE_67 DUR_4 NOTE_64 DUR_4 EOS",
        "rests": "BOS NOTE_60 DUR_2 SHIFT_4 SHIFT_3 NOTE_62 DUR_1 SHIFT_16 NOTE_64 DUR_32 EOS",
        "long gap": "BOS NOTE_60 DUR_1 SHIFT_16 SHIFT_16 SHIFT_16 SHIFT_8 NOTE_60 DUR_1 EOS",
        "leading shift, no BOS": "SHIFT_5 NOTE_21 DUR_1 NOTE_108 DUR_3",
        "NOTE NOTE DUR": "BOS NOTE_60 NOTE_64 DUR_2 EOS",
        "DUR without NOTE": "BOS DUR_4 NOTE_60 DUR_2 DUR_8 SHIFT_2 DUR_1 EOS",
        "NOTE cut by SHIFT": "BOS NOTE_60 SHIFT_2 DUR_3 NOTE_62 DUR_1",
        "out of range": f"BOS NOTE_60 {DEFAULT.size} DUR_2 1000 -1 -7 NOTE_61 DUR_1",
        "PAD and BOS inside": "BOS NOTE_60 PAD DUR_2 BOS SHIFT_1 PAD NOTE_62 BOS DUR_1",
        "after EOS": "BOS NOTE_60 DUR_2 EOS NOTE_62 DUR_2",
        "duplicate pitch": "BOS NOTE_60 DUR_2 NOTE_60 DUR_8 NOTE_60 DUR_3 EOS",
        "overlapping pitch": "BOS NOTE_60 DUR_16 SHIFT_4 NOTE_60 DUR_4 NOTE_55 DUR_9 SHIFT_2 "
                             "NOTE_55 DUR_1 EOS",
        "low to high": "BOS NOTE_48 DUR_4 NOTE_60 DUR_4 NOTE_55 DUR_2 SHIFT_4 NOTE_50 DUR_1 EOS",
        "empty": "BOS EOS",
        "nothing": "",
    }
    mono = {
        "chords": "BOS NOTE_48 DUR_4 NOTE_60 DUR_6 SHIFT_2 NOTE_55 DUR_1 NOTE_67 DUR_1 EOS",
        "overlap cut": "BOS NOTE_60 DUR_6 SHIFT_3 NOTE_62 DUR_6 SHIFT_5 SHIFT_5 NOTE_62 DUR_2",
        "duplicate": "BOS NOTE_60 DUR_2 NOTE_60 DUR_5 EOS",
    }
    default = decode_cases(DEFAULT, named, range(12))
    default["cases"].insert(0, {"name": "phrase", "ids": song,
                                "notes": DEFAULT.decode(song).tolist()})
    return {"codecs": [default, decode_cases(MONO, mono, range(100, 108)), *v2_decode()]}


V2_DECODE = {
    "header and bars": "BOS KEY_D_minor METER_3_4 NOTE_62 DUR_4 SHIFT_4 NOTE_65 DUR_4 SHIFT_4 "
                       "NOTE_69 DUR_4 SHIFT_4 BAR NOTE_74 DUR_12 SHIFT_12 BAR NOTE_62 DUR_4 EOS",
    "pickup": "BOS KEY_G_major METER_4_4 NOTE_67 DUR_4 SHIFT_4 BAR NOTE_71 DUR_16 SHIFT_16 BAR "
              "NOTE_74 DUR_8 EOS",
    "bar at the start": "BOS KEY_Eb_major METER_2_2 BAR NOTE_63 DUR_16 SHIFT_16 SHIFT_16 BAR "
                        "NOTE_70 DUR_4 EOS",
    "meter changes": "BOS KEY_A_minor METER_3_4 BAR NOTE_69 DUR_12 SHIFT_12 BAR METER_2_4 "
                     "NOTE_71 DUR_8 SHIFT_8 BAR METER_6_8 NOTE_72 DUR_12 SHIFT_12 BAR NOTE_69 "
                     "DUR_4 EOS",
    "other meter": "BOS KEY_F#_minor METER_other NOTE_66 DUR_4 SHIFT_16 SHIFT_4 BAR NOTE_69 "
                   "DUR_4 SHIFT_10 BAR NOTE_66 DUR_2 SHIFT_2 BAR METER_4_4 NOTE_61 DUR_16 EOS",
    "no header": "BOS NOTE_60 DUR_4 SHIFT_16 BAR NOTE_62 DUR_4 EOS",
    "two keys, two meters": "BOS KEY_E_major KEY_F_minor METER_6_8 METER_2_4 NOTE_64 DUR_2 "
                            "SHIFT_8 BAR NOTE_64 DUR_2 EOS",
    "meter not after a bar": "BOS KEY_C_major METER_3_4 BAR NOTE_60 DUR_2 METER_9_8 SHIFT_12 "
                             "BAR NOTE_62 DUR_2 EOS",
    "two bars at one time": "BOS KEY_C_major METER_4_4 NOTE_60 DUR_4 SHIFT_4 BAR METER_3_4 BAR "
                            "NOTE_62 DUR_4 SHIFT_12 BAR BAR METER_2_4 NOTE_64 DUR_4 EOS",
    "bad id between bar and meter": "BOS KEY_B_minor METER_3_4 NOTE_71 DUR_4 SHIFT_12 BAR 9999 "
                                    "METER_2_4 NOTE_74 DUR_4 SHIFT_12 BAR -1 NOTE_71 DUR_2 EOS",
    "NOTE across a BAR": "BOS KEY_C_major METER_4_4 NOTE_60 SHIFT_16 BAR NOTE_62 BAR DUR_4 "
                         "KEY_D_major NOTE_64 METER_3_4 DUR_2 EOS",
    "meta stops at EOS": "BOS KEY_D_major METER_6_8 NOTE_62 DUR_6 EOS KEY_C_major SHIFT_12 BAR",
    "METER before KEY": "BOS METER_12_8 KEY_Bb_minor NOTE_58 DUR_6 SHIFT_6 SHIFT_6 SHIFT_12 BAR",
    "empty": "BOS EOS",
    "nothing": "",
}


def v2_decode() -> list[dict]:
    """decode and decode_meta of v2 sequences: named, encoded songs and random ids."""
    notes, meta, _ = V2.quantise_song(np.asarray(PHRASE, dtype=np.float64) + [2, 2, 0],
                                      meters=[(0, 3, 4), (5, 2, 4)])
    song = V2.encode(notes, meta).tolist()
    default = decode_cases(V2, V2_DECODE, range(200, 212))
    default["cases"].insert(0, decode_case(V2, "phrase with a pickup and a change", song))
    mono = decode_cases(V2_MONO, {
        "header and bars": "BOS KEY_A_minor METER_2_4 NOTE_69 DUR_2 SHIFT_2 BAR NOTE_72 DUR_4 "
                           "NOTE_60 DUR_4 SHIFT_4 BAR METER_3_8 NOTE_71 DUR_3 EOS",
        "chords": "BOS KEY_C_major METER_4_4 NOTE_48 DUR_4 NOTE_60 DUR_6 SHIFT_2 NOTE_55 DUR_1 "
                  "EOS"}, range(300, 306))
    no_bars = decode_cases(V2_NO_BARS, {
        "header": "BOS KEY_G_minor METER_9_8 NOTE_67 DUR_6 SHIFT_8 SHIFT_4 NOTE_70 DUR_6 EOS",
        "no header": "BOS NOTE_60 DUR_2 SHIFT_2 METER_3_4 NOTE_62 DUR_2 EOS"}, range(400, 406))
    for entry, codec in ((default, V2), (mono, V2_MONO), (no_bars, V2_NO_BARS)):
        entry["degree_index"] = degree_table(codec)
    return [default, mono, no_bars]


def degree_table(codec: Codec) -> list[list[int]]:
    """trainer/music/codec.py's ``degree_index`` (25 key rows x vocabulary): the degree
    logit each token's logit gains in a network with degree logits."""
    from trainer.nn import backend

    backend.configure()  # pitch_layers imports keras
    from trainer.music.codec import degree_index

    return degree_index(codec).tolist()


# Raw notes (start, end in beats; MIDI pitch): chords, a rest, a held note, eighths.
PHRASE = [(0, 1, 72), (0, 1, 67), (0, 1, 64), (0, 2, 48), (1, 1.5, 74), (1.5, 2, 76),
          (1, 2, 65), (1, 2, 62), (2, 4, 72), (2, 4, 64), (2, 4, 55), (5, 6, 71),
          (5, 6, 62), (5, 6, 43), (6, 8, 72), (6, 8, 64), (6, 8, 48)]


def random_raw(seed: int, n: int = 24) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    start = np.round(rng.uniform(-0.5, 12, n), 3)
    end = np.round(start + rng.uniform(-0.2, 10, n), 3)
    pitch = rng.integers(15, 115, n) + rng.choice([0, 0, 0, 0.5, 0.4], n)
    return np.stack([start, end, pitch], axis=1).tolist()


def codec_encode() -> dict:
    named = {
        "phrase": PHRASE,
        "off grid, halves": [(0.125, 0.374, 60), (0.375, 0.625, 62), (0.6, 0.61, 64),
                             (1.0, 0.5, 65), (0.124, 0.2, 67)],
        "pitch range, half pitches": [(0, 1, 20), (0, 1, 21), (0, 1, 108), (0, 1, 109),
                                      (1, 2, 60.5), (1, 2, 61.5), (2, 3, 20.5), (2, 3, 108.4)],
        "leading silence": [(3.3, 4, 60), (5.1, 6, 62), (-1, 2, 64)],
        "long notes and gaps": [(0, 40, 60), (0, 3, 60), (20, 20.1, 62), (30.25, 31, 40)],
        "empty": [],
    }
    out = []
    for codec in (DEFAULT, MONO):
        raws = [(name, [list(map(float, r)) for r in raw]) for name, raw in named.items()]
        raws += [(f"random {s}", random_raw(s)) for s in range(8)]
        cases = []
        for name, raw in raws:
            notes = codec.quantise(np.asarray(raw, dtype=np.float64).reshape(-1, 3))
            cases.append({"name": name, "raw": raw, "notes": notes.tolist(),
                          "ids": codec.encode(notes).tolist()})
        out.append({"vocab": codec.to_json(), "cases": cases})
    return {"codecs": out, "songs": [song_cases(V2), song_cases(V2_MONO)]}


# A melody in G major, two bars of 3/4 with a pickup of one beat (as a file pads it).
WALTZ = [(2, 3, 62), (3, 5, 67), (5, 5.5, 71), (5.5, 6, 69), (6, 7, 67), (7, 8, 74),
         (8, 9, 71), (9, 10, 67), (9, 10, 55), (10, 11, 66), (11, 14, 67), (11, 14, 59)]
SONGS = {  # name: (raw notes, time signatures (beat, n, d), file key)
    "no signature": (PHRASE, [], None),
    "phrase in 3/4": (PHRASE, [(0, 3, 4)], None),
    "waltz with a pickup": (WALTZ, [(0, 3, 4)], (7, "major")),
    "pickup, key from the relative minor": (WALTZ, [(0, 3, 4)], (4, "minor")),
    "key signature that disagrees": (WALTZ, [(0, 3, 4)], (3, "major")),
    "meter changes": (WALTZ, [(0, 3, 4), (5, 2, 4), (7, 3, 4)], None),
    "change off a bar line": (PHRASE, [(0, 4, 4), (1, 3, 4)], None),
    "late first signature": (PHRASE, [(6, 6, 8)], None),
    "5/4 is other": (WALTZ, [(0, 5, 4)], None),
    "7/8 then 4/4": (WALTZ, [(0, 7, 8), (7, 4, 4)], (7, "major")),
    "several at one time": (PHRASE, [(0, 3, 4), (0, 2, 4), (0, 6, 8)], None),
    "the same meter again": (PHRASE, [(0, 3, 4), (3, 3, 4)], None),
    "bar not a whole number of steps": (PHRASE, [(0, 5, 16), (4, 1, 32)], None),
    "bar shorter than a beat": (PHRASE, [(0, 3, 4), (2.5, 1, 8), (3, 3, 4), (6, 1, 16)], None),
    "signature after the last note": (PHRASE, [(0, 2, 2), (40, 3, 4)], None),
    "leading silence": ([(a + 5.5, b + 5.5, p) for a, b, p in PHRASE], [(0, 3, 4)], None),
    "onset just below zero": ([(-0.1, 1, 60), (1, 2, 62), (2, 3, 64)], [(0, 3, 4)], None),
    "empty": ([], [(0, 3, 4)], None),
}
RANDOM_METERS = [(4, 4), (3, 4), (2, 4), (6, 8), (5, 4), (7, 8), (12, 8), (2, 2), (3, 16)]


def random_song(seed: int):
    rng = np.random.default_rng(seed)
    meters = [(float(np.round(rng.uniform(0, 12), 2)), *RANDOM_METERS[i])
              for i in rng.integers(0, len(RANDOM_METERS), int(rng.integers(0, 4)))]
    key = None if rng.random() < 0.3 else K.KEYS[int(rng.integers(0, 24))]
    return random_raw(seed), meters, key


def song_cases(codec: Codec) -> dict:
    """quantise_song of raw notes with time and key signatures, then encode and decode_meta;
    and encode with the default meta (notes that come without one)."""
    songs = [(name, *song) for name, song in SONGS.items()]
    songs += [(f"random {s}", *random_song(s)) for s in range(500, 512)]
    cases = []
    for name, raw, meters, file_key in songs:
        raw = [list(map(float, r)) for r in raw]
        meters = [list(m) for m in meters]
        notes, meta, source = codec.quantise_song(np.asarray(raw).reshape(-1, 3), meters,
                                                  file_key)
        check_key_margin(notes, name)
        ids = codec.encode(notes, meta)
        cases.append({"name": name, "raw": raw, "meters": meters,
                      "file_key": None if file_key is None else list(file_key),
                      "notes": notes.tolist(), "meta": meta.to_json(), "source": source,
                      "ids": ids.tolist(), "decoded_meta": codec.decode_meta(ids).to_json()})
    default = []
    for name, raw in (("phrase", PHRASE), ("waltz", WALTZ), ("random", random_raw(520))):
        notes = codec.quantise(np.asarray(raw, dtype=np.float64))
        check_key_margin(notes, name)
        default.append({"name": name, "notes": notes.tolist(),
                        "meta": codec.default_meta(notes).to_json(),
                        "ids": codec.encode(notes).tolist()})
    return {"vocab": codec.to_json(), "cases": cases, "default_meta": default}


def check_key_margin(notes, name: str) -> None:
    """Refuse notes whose key estimate is within MARGIN of a tie (JS sums in another order)."""
    r = np.sort(K.key_correlations(notes))
    if len(notes) and r[-1] - r[-2] < MARGIN:
        raise ValueError(f"key estimate of {name!r} lies on a tie")


def margin(logits, temperature, top_k, top_p, mask, u, keep=None) -> float:
    """How far (in probability) a draw ``u`` and ``top_p`` are from changing the token."""
    order, p = candidates(logits, temperature, top_k, 1.0, mask)
    cum_q = np.cumsum(p / np.cumsum(p)[-1])
    gaps = [np.inf] if top_p >= 1 else np.abs(cum_q - top_p)
    order, p = candidates(logits, temperature, top_k, top_p, mask, keep)
    running = np.cumsum(p)
    return float(min(np.min(gaps), np.min(np.abs(running - u * running[-1]) / running[-1])))


def draws(case: dict, n: int = 20) -> list[int]:
    """``n`` tokens drawn with one fresh rng; refuses draws too close to a boundary."""
    args = (case["logits"], case["temperature"], case["top_k"], case["top_p"], case["mask"])
    order, p = candidates(*args, case.get("keep"))
    if case["temperature"] == 0:
        return [int(order[0])] * n
    rng, out = Mulberry32(case["seed"]), []
    running = np.cumsum(p)
    for _ in range(n):
        u = rng.random()
        if margin(*args, u, case.get("keep")) < MARGIN:
            raise ValueError(f"sampler case {case['name']!r}: a draw lies on a boundary")
        out.append(int(order[np.flatnonzero(running > u * running[-1])[0]]))
    return out


def sampler() -> dict:
    seeds = [0, 1, 42, -1, 2**32 - 1, 2**31, 123456789, 2**40 + 5, -(2**33) - 7]
    rngs = [Mulberry32(s) for s in seeds]
    streams = [{"seed": s, "floats": [r.random() for _ in range(20)]} for s, r in zip(seeds, rngs)]
    g = np.random.default_rng(7)
    small = np.round(g.normal(0, 1.5, 12), 3).tolist()
    big = np.round(g.normal(0, 3, DEFAULT.size), 3).tolist()
    ties = [1.0, 2.0, 2.0, 0.5, 2.0, -1.0, 1.0, 0.0]
    mask = (g.random(DEFAULT.size) < 0.3).tolist()
    base = [dict(name="ties, argmax", logits=ties, temperature=0, top_k=0, top_p=1, mask=None),
            dict(name="ties, top_k 2", logits=ties, temperature=1, top_k=2, top_p=1, mask=None),
            dict(name="top_k 1", logits=big, temperature=1, top_k=1, top_p=1, mask=None),
            dict(name="top_p tiny", logits=big, temperature=2, top_k=0, top_p=1e-9, mask=None),
            dict(name="masked", logits=big, temperature=1, top_k=0, top_p=1, mask=mask),
            dict(name="masked argmax", logits=big, temperature=0, top_k=0, top_p=1, mask=mask),
            dict(name="masked top_k", logits=big, temperature=0.7, top_k=5, top_p=0.9, mask=mask),
            dict(name="underflow", logits=[900.0, 0.0, 899.0, -900.0], temperature=1, top_k=0,
                 top_p=1, mask=None),
            dict(name="one allowed", logits=small, temperature=1, top_k=0, top_p=1,
                 mask=[i == 5 for i in range(12)])]
    for name, logits in (("small", small), ("big", big)):
        for t in (0.5, 1, 1.7):
            for k in (0, 3):
                for top_p in (1, 0.8):
                    base.append(dict(name=f"{name} T{t} k{k} p{top_p}", logits=logits,
                                     temperature=t, top_k=k, top_p=top_p, mask=None))
    cases = []
    for i, case in enumerate(base + keep_cases(g, big, mask)):
        case["seed"] = 1000 + i
        ids_, p = candidates(case["logits"], case["temperature"], case["top_k"],
                             case["top_p"], case["mask"], case.get("keep"))
        cases.append({**case, "candidates": ids_.tolist(), "p": p.tolist(),
                      "draws": draws(case)})
    return {"mulberry32": streams, "cases": cases}


def keep_cases(g, big: list[float], mask: list[bool]) -> list[dict]:
    """Cases with ``keep`` (generation passes EOS): cut by top-k or top-p, or not."""
    eos = DEFAULT.eos_id
    low = list(big)
    low[eos] = min(big) - 1.0  # the least likely token: every cut removes it
    high = list(big)
    high[eos] = max(big) + 1.0  # the most likely: nothing cuts it
    masked = list(mask)
    masked[eos] = False
    tiny = [0.0, 3.0, -800.0, 2.5, 1.0, 0.5]  # keep's p underflows to 0
    small = np.round(g.normal(0, 1.5, 8), 3).tolist()
    cases = [dict(name="keep cut by top_k", logits=low, top_k=5, top_p=1),
             dict(name="keep cut by top_p", logits=low, top_k=0, top_p=0.5),
             dict(name="keep cut by both", logits=low, top_k=20, top_p=0.9, temperature=0.8),
             dict(name="keep kept anyway", logits=high, top_k=3, top_p=0.8),
             dict(name="keep masked", logits=low, top_k=5, top_p=0.9, mask=masked),
             dict(name="keep allowed by the mask", logits=low, top_k=5, top_p=0.9,
                  mask=[m or i == eos for i, m in enumerate(mask)]),
             dict(name="keep underflows", logits=tiny, top_k=2, top_p=1),
             dict(name="keep, argmax", logits=low, top_k=3, top_p=1, temperature=0),
             dict(name="keep, top_p tiny", logits=small, top_k=0, top_p=1e-9, temperature=2,
                  keep=5),
             dict(name="keep out of range", logits=small, top_k=2, top_p=1, keep=99)]
    return [{"temperature": 1, "mask": None, "keep": eos, **c} for c in cases]


def grammar_trace(codec: Codec, names: str | list[int], key: str | None = None,
                  meter: str | None = None) -> dict:
    """After each token: the allowed ids as [start, stop) runs, and the note count.

    ``key`` and ``meter`` are requests (token names, e.g. ``KEY_D_minor``)."""
    request = {"key": key and codec.tokens.index(key), "meter": meter and codec.tokens.index(meter)}
    grammar, steps = Grammar(codec, **request), []
    for token in ids(codec, names) if isinstance(names, str) else names:
        grammar.advance(token)
        steps.append({"token": token, "allowed": runs(grammar.mask()), "notes": grammar.notes})
    return {"vocab": codec.to_json(), **request, "steps": steps}


def runs(mask) -> list[list[int]]:
    edges = np.flatnonzero(np.diff(np.r_[0, np.asarray(mask).astype(np.int8), 0]))
    return edges.reshape(-1, 2).tolist()


def grammar_walk(codec: Codec, seed: int, n: int = 160, key: str | None = None,
                 meter: str | None = None) -> list[int]:
    """A random song the grammar allows: each step a kind, then an id of it, at random
    (EOS only when nothing else is allowed)."""
    rng = np.random.default_rng(seed)
    grammar = Grammar(codec, key and codec.tokens.index(key), meter and codec.tokens.index(meter))
    out = [codec.bos_id]
    grammar.advance(codec.bos_id)
    kind_of = [codec.describe(i).split("_")[0] for i in range(codec.size)]
    for _ in range(n):
        allowed = [i for i in np.flatnonzero(grammar.mask()) if i != codec.eos_id]
        if not allowed:
            break
        kinds = sorted({kind_of[i] for i in allowed})
        kind = kinds[int(rng.integers(len(kinds)))]
        pick = [i for i in allowed if kind_of[i] == kind]
        out.append(int(pick[int(rng.integers(len(pick)))]))
        grammar.advance(out[-1])
    return out


def generate_set(codec: Codec, seed: int, settings: list) -> dict:
    """generate() over small logit tables: {vocab, tables, cases}; each setting is
    (table, prime, max_notes, temperature, top_k, top_p, key name, meter name)."""
    g = np.random.default_rng(seed)
    eos = codec.eos_id
    tables = {"long": np.round(g.normal(0, 2, (7, codec.size)), 3),
              "ends": np.round(g.normal(0, 2, (5, codec.size)), 3),
              "rests": np.round(g.normal(0, 1, (3, codec.size)), 3)}
    tables["long"][:, eos] = -8
    tables["ends"][:, eos] = 3
    tables["rests"][:, eos] = -30
    first, count, _ = codec.ranges["SHIFT"]
    tables["rests"][:, first:first + count] += 12  # SHIFTs nearly always
    tables["cut"] = np.round(g.normal(0, 1, (4, codec.size)), 3)
    tables["cut"][:, eos] = 0.8  # outside the top 2 mostly, but kept (keep=EOS)
    cases = []
    for i, (table, prime, max_notes, t, k, top_p, key, meter) in enumerate(settings):
        rows = tables[table]
        request = {"key": key and codec.tokens.index(key),
                   "meter": meter and codec.tokens.index(meter)}
        out = generate(lambda token, rows=rows: rows[token % len(rows)], codec, prime,
                       max_notes, t, k, top_p, seed=i, **request)
        stop = check_margins(codec, rows, prime, out.tolist(), max_notes, t, k, top_p, i,
                             request)
        cases.append({"table": table, "prime": prime, "max_notes": max_notes,
                      "temperature": t, "top_k": k, "top_p": top_p, "seed": i, **request,
                      "stop": stop, "ids": out.tolist()})
    if {c["stop"] for c in cases} != {"eos", "notes", "tokens"}:
        raise ValueError("generate cases must end at EOS, at max_notes and at the token cap")
    if not all(ends_at_a_kept_eos(codec, tables, c) for c in cases if c["table"] == "cut"):
        raise ValueError("a 'cut' case must end at an EOS that top-k alone would have cut "
                         "(the same run without keep differs)")
    return {"vocab": codec.to_json(), "tables": {k: v.tolist() for k, v in tables.items()},
            "cases": cases}


def ends_at_a_kept_eos(codec: Codec, tables: dict, case: dict) -> bool:
    """Whether the case ended at EOS, and the same run without keep would not have."""
    rows, rng = tables[case["table"]], Mulberry32(case["seed"])
    grammar, out = Grammar(codec, case["key"], case["meter"]), []
    for token in case["prime"]:
        grammar.advance(token)
    fed = case["prime"][-1]
    while grammar.notes < case["max_notes"] and len(out) < TOKENS_PER_NOTE * case["max_notes"]:
        token = sample_token(rows[fed % len(rows)], case["temperature"], case["top_k"],
                             case["top_p"], rng, grammar.mask())  # no keep
        if token == codec.eos_id:
            break
        out.append(fed := token)
        grammar.advance(token)
    return case["stop"] == "eos" and out != case["ids"]


def generate_vectors() -> dict:
    prime = ids(SMALL, "BOS NOTE_64 DUR_2 NOTE_60 DUR_2 SHIFT_2 NOTE_62 DUR_4 SHIFT_4")
    settings = [("long", [1], 40, 1.0, 0, 1.0), ("long", prime, 40, 0.8, 0, 0.9),
                ("long", prime, 30, 0, 0, 1.0), ("long", [1], 50, 1.3, 8, 1.0),
                ("ends", [1], 200, 1.0, 0, 1.0), ("ends", prime, 200, 1.0, 0, 0.95),
                ("rests", [1], 2, 1.0, 0, 1.0), ("long", prime, 3, 1.0, 0, 1.0),
                ("cut", [1], 100, 1.0, 2, 1.0)]
    v1 = generate_set(SMALL, 11, [(*s, None, None) for s in settings])
    prime2 = V2_SMALL.encode(*V2_SMALL.quantise_song(np.asarray(WALTZ, dtype=np.float64),
                                                     [(0, 3, 4)], (7, "major"))[:2])[:14]
    v2 = generate_set(V2_SMALL, 12, [
        ("long", [1], 40, 1.0, 0, 1.0, None, None),
        ("long", [1], 40, 0.8, 0, 0.9, "KEY_D_minor", "METER_6_8"),
        ("long", [1], 30, 0, 0, 1.0, "KEY_A_major", None),
        ("long", [1], 50, 1.3, 8, 1.0, None, "METER_other"),
        ("long", prime2.tolist(), 40, 1.0, 0, 0.95, None, None),
        ("long", prime2.tolist(), 40, 1.0, 0, 1.0, "KEY_C_major", "METER_2_4"),
        ("ends", [1], 200, 1.0, 0, 1.0, "KEY_Eb_major", "METER_3_4"),
        ("ends", [1], 200, 1.0, 0, 0.95, None, None),
        ("rests", [1], 2, 1.0, 0, 1.0, None, "METER_4_4"),
        ("rests", [1], 4, 1.0, 0, 1.0, "KEY_B_minor", "METER_other"),
        ("long", [1], 3, 1.0, 0, 1.0, None, "METER_12_8"),
        ("cut", [1], 100, 1.0, 2, 1.0, "KEY_G_major", None),
        # a prime answered: EOS is likely at every step, held back a bar (Grammar.hold_bar)
        ("ends", prime2.tolist(), 200, 1.0, 0, 1.0, None, None),
        ("ends", prime2.tolist(), 200, 1.0, 0, 1.0, "KEY_C_major", "METER_other")])
    grammar = [grammar_trace(DEFAULT, "BOS NOTE_72 DUR_4 NOTE_67 NOTE_69 DUR_2 SHIFT_4 NOTE_21 "
                                      "DUR_1 DUR_2 PAD NOTE_60 SHIFT_1 NOTE_108 DUR_32 EOS"),
               grammar_trace(MONO, "BOS NOTE_60 DUR_2 NOTE_62 SHIFT_3 NOTE_64 DUR_1 SHIFT_1"),
               *v2_grammar()]
    return {"rule": "logits = tables[table][token % len(tables[table])] for the token fed",
            **v1, "v2": v2, "grammar": grammar}


def v2_grammar() -> list[dict]:
    """Grammar v2 traces: named songs (requests, pickups, meter changes, other, ill-formed
    ones), random songs the grammar allows and random ids."""
    named = [
        (V2, "BOS KEY_D_minor METER_3_4 NOTE_62 DUR_4 SHIFT_4 BAR NOTE_65 DUR_2 NOTE_57 DUR_4 "
             "SHIFT_4 SHIFT_4 SHIFT_4 BAR METER_2_4 NOTE_69 DUR_8 SHIFT_8 BAR NOTE_70 DUR_4 "
             "SHIFT_4 SHIFT_4 BAR METER_other NOTE_60 DUR_4 SHIFT_16 SHIFT_3 BAR BAR NOTE_60 "
             "DUR_1 SHIFT_1 BAR METER_4_4 NOTE_62 DUR_2 EOS", None, None),
        (V2, "BOS KEY_D_minor METER_6_8 NOTE_62 DUR_6 SHIFT_6 NOTE_64 DUR_6 SHIFT_6 BAR "
             "NOTE_65 DUR_12 SHIFT_12 BAR NOTE_62 DUR_2 EOS", "KEY_D_minor", "METER_6_8"),
        (V2, "BOS KEY_G_major METER_other NOTE_67 DUR_4 SHIFT_16 SHIFT_4 BAR NOTE_71 DUR_4 "
             "SHIFT_10 BAR NOTE_74 DUR_2 SHIFT_1 SHIFT_1 BAR EOS", None, "METER_other"),
        (V2, "BOS KEY_C_major METER_4_4 BAR NOTE_60 DUR_4 SHIFT_16 BAR NOTE_64 DUR_4 NOTE_62 "
             "DUR_2", "KEY_C_major", None),
        (V2, "BOS SHIFT_4 NOTE_60 METER_3_4 DUR_4 KEY_A_minor BAR BAR SHIFT_16 NOTE_60 "
             "DUR_2 PAD BOS KEY_E_major METER_2_2 SHIFT_16 SHIFT_16 NOTE_62 BAR DUR_2 EOS "
             "SHIFT_1", None, None),
        (V2_MONO, "BOS KEY_A_minor METER_2_4 NOTE_69 DUR_2 SHIFT_2 BAR NOTE_72 DUR_4 SHIFT_4 "
                  "BAR METER_3_8 NOTE_71 DUR_3 SHIFT_3 BAR EOS", None, None),
        (V2_NO_BARS, "BOS KEY_G_minor METER_3_4 NOTE_67 DUR_6 SHIFT_8 SHIFT_8 NOTE_70 DUR_6 "
                     "SHIFT_4 NOTE_62 DUR_2 EOS", None, None),
    ]
    out = [grammar_trace(codec, names, key, meter) for codec, names, key, meter in named]
    walks = [(V2, 600, None, None), (V2, 601, "KEY_D_minor", "METER_6_8"),
             (V2, 602, None, "METER_other"), (V2, 603, "KEY_F#_major", "METER_12_8"),
             (V2_MONO, 604, None, None), (V2_MONO, 605, "KEY_Bb_minor", "METER_3_8"),
             (V2_NO_BARS, 606, None, None), (V2_SMALL, 607, None, None)]
    out += [grammar_trace(codec, grammar_walk(codec, seed, key=key, meter=meter), key, meter)
            for codec, seed, key, meter in walks]
    out += [grammar_trace(V2, [int(i) for i in np.random.default_rng(608).integers(
        0, V2.size, 120)])]
    return out


def check_margins(codec: Codec, rows, prime, out, max_notes, t, k, top_p, seed,
                  request) -> str:
    """Replay a generate() run: refuse a draw near a boundary; say why it stopped."""
    grammar, rng = Grammar(codec, **request), Mulberry32(seed)
    for token in prime:
        grammar.advance(token)
    for i, token in enumerate([prime[-1], *out]):
        if grammar.notes >= max_notes:
            return "notes"
        if i >= TOKENS_PER_NOTE * max_notes:
            return "tokens"
        if t > 0 and margin(rows[token % len(rows)], t, k, top_p, grammar.mask(),
                            rng.random(), codec.eos_id) < MARGIN:
            raise ValueError(f"generate case seed {seed}: draw {i} lies on a boundary")
        if i < len(out):
            grammar.advance(out[i])
    return "eos"


# Melodies as midifile.js readSong gives them: name -> (notes (start, end in beats, pitch),
# time signatures (beat, n, d), key signature, requested key, requested meter).
MELODIES = {
    "one note": ([(0, 2, 67)], [], None, None, None),
    "one long note in a pickup": ([(3, 11, 72), (3, 5, 60)], [(0, 4, 4)], None, None, None),
    "notes tied over bar lines": ([(0, 3, 72), (3, 7, 74), (7, 9.5, 71), (9.5, 16, 72),
                                   (0, 8, 60), (8, 16, 55)], [(0, 4, 4)], (0, "major"), None,
                                  None),
    "rests": ([(0, 1, 69), (2, 2.5, 71), (4, 5, 72), (7.5, 8, 74), (8, 12, 72)], [(0, 3, 4)],
              None, None, None),
    "outside the piano, folded": ([(0, 1, 12), (1, 2, 118), (2, 3, 127), (3, 4, 20.5),
                                   (4, 6, 108.5), (6, 8, 5)], [(0, 4, 4)], None, None, None),
    "outside the training range": ([(0, 1, 100), (1, 2, 104), (2, 4, 98), (4, 5, 28),
                                    (5, 6, 24), (6, 8, 22)], [(0, 3, 4)], None, None, None),
    "6/8 jig with a pickup": ([(0, 0.5, 62), (0.5, 2, 67), (2, 2.5, 71), (2.5, 3.5, 69),
                               (3.5, 5, 67), (5, 5.5, 74), (5.5, 8, 71)], [(-0.5, 6, 8)],
                              (7, "major"), None, None),
    "meter change 3/4 to 4/4": ([(0, 1, 64), (1, 2, 65), (2, 3, 67), (3, 5, 69), (5, 7, 67),
                                 (7, 11, 72), (11, 12, 71)], [(0, 3, 4), (3, 4, 4)], None,
                                None, None),
    "asked key and 3/4": ([(0.5, 1, 62), (1, 2, 65), (2, 3, 69), (3, 6, 74), (6, 7, 73),
                           (7, 9, 74)], [(0, 4, 4)], None, (2, "minor"), (3, 4)),
    "asked meter other": ([(0, 1, 60), (1, 2, 62), (2, 3, 64), (3, 4, 65), (4, 9, 67)], [],
                          None, None, K.OTHER),
    "held a sixteenth past the bar line": ([(0, 1, 72), (1, 2, 71), (2, 3, 69), (3, 4.25, 67)],
                                           [(0, 4, 4)], (0, "major"), None, None),
    "inner voice above the tune": ([(0, 2, 72), (0, 4, 60), (1, 1.5, 76), (2, 4, 71),
                                    (2, 3, 74), (4, 6, 72), (5, 6, 79)], [(0, 4, 4)], None,
                                   None, None),
}
MELODY_METERS = [(4, 4), (3, 4), (6, 8)]


def random_melody(seed: int):
    """A melody of 2..24 notes as readSong gives it: a line with rests, long notes,
    overlaps and off-grid times, notes under it (and now and then above it), pitches
    now and then outside the training range or the piano, a pickup, a meter change."""
    rng = np.random.default_rng(seed)
    meter = MELODY_METERS[seed % 3]
    beats = meter[0] * 4 / meter[1]
    meters = [] if meter == (4, 4) and seed % 2 else [(0.0, *meter)]
    if seed % 5 == 0:
        meters.append((float(beats * int(rng.integers(1, 3))), *MELODY_METERS[(seed + 1) % 3]))
    t = float(rng.choice([0, 0, 0.5, 1, 2, beats - 1]))
    pitch, notes = int(rng.integers(60, 80)), []
    for _ in range(int(rng.integers(2, 25))):
        dur = float(rng.choice([0.25, 0.5, 0.5, 1, 1, 1, 1.5, 2, 3, 4, 6, 9]))
        pitch = int(np.clip(pitch + rng.integers(-5, 6), 50, 90))
        p = float(pitch)
        if rng.random() < 0.08:
            p = float(rng.choice([3, 10, 17, 20, 111, 115, 121, 127]))  # off the piano
        elif rng.random() < 0.08:
            p = float(rng.choice([23, 27, 33, 96, 101, 105]))  # off the training range
        jitter = float(rng.choice([0, 0, 0, 0.03, -0.04]))
        end = t + dur + float(rng.choice([0, 0, 0, 0.2, -0.1]))  # legato, detached
        notes.append((round(t + jitter, 3), round(end, 3), p))
        if rng.random() < 0.5:  # a note beneath
            notes.append((t, t + float(rng.choice([dur, 2 * dur, 0.5])), p - rng.integers(3, 20)))
        if rng.random() < 0.1:  # an inner voice crossing above for a moment
            notes.append((t + dur / 2, t + dur, p + 2))
        t += dur + (float(rng.choice([0.5, 1, 1.5])) if rng.random() < 0.2 else 0)
    file_key = None if seed % 3 else K.KEYS[int(rng.integers(24))]
    key = K.KEYS[int(rng.integers(24))] if seed % 7 == 3 else None
    asked = {4: (3, 4), 9: (6, 8), 13: (4, 4), 17: K.OTHER}.get(seed % 20)
    return notes, meters, file_key, key, asked


def harmonize_tables(g) -> dict:
    """Logit tables standing in for a model: one-step memories of the token fed."""
    tables = {"dense": np.round(g.normal(0, 2, (7, V2.size)), 3),
              "shifty": np.round(g.normal(0, 1.5, (5, V2.size)), 3)}
    first, count, _ = V2.ranges["SHIFT"]
    tables["shifty"][:, first:first + count] += 2.5  # rests between the notes beneath
    tables["dense"][:, V2.eos_id] = 1.0
    return tables


def harmonize_vectors() -> dict:
    """melody_line of readSong-shaped songs and harmonize() of each under a logit table."""
    tables = harmonize_tables(np.random.default_rng(13))
    songs = [(name, *m) for name, m in MELODIES.items()]
    songs += [(f"random {s}", *random_melody(s)) for s in range(900, 945)]
    settings = [("dense", 1.0, 0, 1.0), ("shifty", 1.0, 0, 0.9), ("dense", 0.8, 8, 1.0),
                ("shifty", 1.2, 0, 1.0), ("dense", 1.0, 0, 0.95), ("shifty", 0, 0, 1.0)]
    cases = []
    for i, (name, raw, meters, file_key, key, meter) in enumerate(songs):
        table, t, k, top_p = settings[i % len(settings)]
        raw = [[float(x) for x in r] for r in raw]
        melody = melody_line(V2, np.asarray(raw), meters, file_key, key, meter)
        if key is None:
            check_key_margin(melody.notes, name)
        rows = tables[table]
        ids, constraint = harmonize(lambda token, rows=rows: rows[token % len(rows)], V2,
                                    melody, t, k, top_p, seed=i)
        check_harmony(rows, melody, ids.tolist(), t, k, top_p, i, constraint.fallbacks)
        song = {"notes": raw, "meters": [list(m) for m in meters],
                "key": file_key and list(file_key)}
        cases.append({"name": name, "song": song, "key": key and list(key),
                      "meter": meter if meter in (None, K.OTHER) else list(meter),
                      "melody": {"notes": melody.notes.tolist(), "meta": melody.meta.to_json(),
                                 "folded": melody.folded},
                      "table": table, "temperature": t, "top_k": k, "top_p": top_p, "seed": i,
                      "ids": ids.tolist(), "fallbacks": constraint.fallbacks})
    voicing = []  # free songs under the VoicingGuard, as a polyphonic model's are composed
    for seed in range(16):
        table = ("dense", "shifty")[seed % 2]
        rows = tables[table]
        ids = generate(lambda token, rows=rows: rows[token % len(rows)], V2, [V2.bos_id], 40,
                       1.0, 0, 0.95, seed, constraint=VoicingGuard(V2)).tolist()
        free = generate(lambda token, rows=rows: rows[token % len(rows)], V2, [V2.bos_id], 40,
                        1.0, 0, 0.95, seed).tolist()
        voicing.append({"table": table, "seed": seed, "max_notes": 40, "temperature": 1.0,
                        "top_p": 0.95, "ids": ids, "unguarded_differs": ids != free})
    if sum(c["unguarded_differs"] for c in voicing) < len(voicing) // 2:
        raise ValueError("the voicing cases barely depend on the guard")
    return {"rule": "logits = tables[table][token % len(tables[table])] for the token fed",
            "vocab": V2.to_json(), "final_voices": FINAL_VOICES, "voicing": voicing,
            "final_triads": list(FINAL_TRIADS), "chord_sets": list(CHORD_SETS),
            "tables": {k: v.tolist() for k, v in tables.items()}, "cases": cases,
            "errors": harmonize_errors()}


def check_harmony(rows, melody, ids, t, k, top_p, seed, fallbacks) -> None:
    """Replay a harmonize() run: each draw gives the next id, and EOS after the last; refuse
    a draw near a boundary and a fallback."""
    grammar, constraint = Grammar(V2), Constraint(V2, melody)
    rng, again = Mulberry32(seed), Mulberry32(seed)
    grammar.advance(ids[0])  # BOS, the prime
    constraint.advance(ids[0])
    for i, fed in enumerate(ids):  # the token fed before each draw
        logits, mask = rows[fed % len(rows)], constraint.mask(grammar.mask())
        drawn = sample_token(logits, t, k, top_p, again, mask, keep=V2.eos_id)
        if t > 0 and margin(logits, t, k, top_p, mask, rng.random(), V2.eos_id) < MARGIN:
            raise ValueError(f"harmonize case seed {seed}: draw {i} lies on a boundary")
        if drawn != (ids[i + 1] if i + 1 < len(ids) else V2.eos_id):
            raise ValueError(f"harmonize case seed {seed}: draw {i} is not the run's")
        if i + 1 < len(ids):
            grammar.advance(ids[i + 1])
            constraint.advance(ids[i + 1])
    if fallbacks or constraint.fallbacks:
        raise ValueError(f"harmonize case seed {seed}: the Constraint fell back")


def harmonize_errors() -> list[dict]:
    """The messages for a melody with no notes and for codecs that cannot harmonize."""
    out = []
    for name, codec, raw in (("no notes", V2, []), ("every note before the start", V2,
                                                     [[-1.0, 1.0, 60.0]]),
                             ("mono codec", V2_MONO, [[0.0, 1.0, 60.0]]),
                             ("no bars", V2_NO_BARS, [[0.0, 1.0, 60.0]])):
        try:
            Constraint(codec, melody_line(codec, np.asarray(raw).reshape(-1, 3)))
        except CadenzaError as e:
            out.append({"name": name, "vocab": codec.to_json(), "song": {
                "notes": raw, "meters": [], "key": None}, "error": str(e)})
        else:
            raise ValueError(f"harmonize error case {name!r} raised nothing")
    return out


KEY_SPELLINGS = ["D:minor", "D minor", "Dm", "dm", "f#:major", "F# maj", "Ador", "Bb", "bbm",
                 "Eb:minor", "C#", "Db:dorian", "G mixolydian", "e_phrygian", "B#:locrian",
                 "Cb lydian", " a  aeolian ", "any", "ANY", "H:major", "D:", "D:majorish", "",
                 "C:major:extra", "Ebm", "E#", "Fb:min", "x", "#m", "b", "B", "ab:min"]
METER_SPELLINGS = ["6/8", " 3/4 ", "other", "OTHER", "any", "5/4", "4/4", "12/8", "3/2", "6/4",
                   "2/2", "9/8", "3/8", "2/4", "04/4", "+3/4", "3 / 4", "7/8", "4/4/4", "/",
                   "", "x/4", "2.0/4"]


def keys_vectors() -> dict:
    """keys.py: names and spellings, key estimates of random notes, choose_key."""
    def parsed(parse, text):
        try:
            value = parse(text)
        except CadenzaError as e:
            return {"text": text, "error": str(e)}
        return {"text": text, "value": value if value is None or isinstance(value, str)
                else list(value)}

    estimates, choices = [], []
    for seed in range(700, 740):
        rng = np.random.default_rng(seed)
        n = int(rng.integers(1, 40))
        tonic, scale = int(rng.integers(12)), K.scale_of(K.KEYS[int(rng.integers(24))])
        pool = [p for p in range(36, 90) if scale[(p - tonic) % 12]] if seed % 4 else \
            list(range(21, 109))  # a key's notes, or any
        notes = np.stack([rng.integers(0, 64, n), rng.integers(1, 17, n) * (seed % 5 > 0),
                          rng.choice(pool, n)], axis=1)
        check_key_margin(notes, f"estimate {seed}")
        estimates.append({"notes": notes.tolist(),
                          "weights": K.pitch_class_weights(notes).tolist(),
                          "correlations": K.key_correlations(notes).tolist(),
                          "key": list(K.estimate_key(notes))})
        file_key = None if seed % 7 == 0 else K.KEYS[int(rng.integers(24))]
        if seed % 3 == 0:  # the estimate's own signature, as files mostly have
            est = K.estimate_key(notes)
            file_key = est if seed % 2 else ((est[0] + (9 if est[1] == "major" else 3)) % 12,
                                             "minor" if est[1] == "major" else "major")
        key, source = K.choose_key(file_key, notes)
        choices.append({"file_key": None if file_key is None else list(file_key),
                        "notes": notes.tolist(), "key": list(key), "source": source})
    if {c["source"] for c in choices} != {"file", "estimate"}:
        raise ValueError("choose_key cases must take the file's key and the estimate")
    return {"keys": [K.key_name(k) for k in K.KEYS],
            "meters": [K.meter_name(m) for m in (*K.METERS, K.OTHER)],
            "parse_key": [parsed(K.parse_key, t) for t in KEY_SPELLINGS],
            "parse_meter": [parsed(K.parse_meter, t) for t in METER_SPELLINGS],
            "flat": list(K.estimate_key(np.zeros((0, 3), dtype=np.int64))),
            "estimates": estimates, "choices": choices}


MIDI_FILES = {  # name: (raw notes in beats, time signatures (beat, n, d), key numbers (beat, k))
    "waltz in G, pickup padded": (WALTZ, [(0, 3, 4)], [(0, 7)]),
    "phrase in A minor, 6/8 then 2/4": (PHRASE, [(0, 6, 8), (6, 2, 4)], [(0, 21)]),
    "no signatures": (PHRASE, [], []),
    "5/4, key of E flat minor": (WALTZ, [(0, 5, 4)], [(0, 15)]),
    "two keys, late meter": ([(a + 1, b + 1, p) for a, b, p in WALTZ], [(4, 3, 4)],
                             [(2, 2), (0, 14)]),
}


def midi_vectors() -> dict:
    """MIDI files (written by pretty_midi) and what trainer/music/midi_io.py's parse_song reads of
    them, then quantise_song: web/src/files/midifile.js's readSong must read the same; and
    damaged files parse_song refuses, with its reason, which readSong must give too."""
    import base64
    import io

    import pretty_midi

    from trainer.music import midi_io

    cases = []
    for name, (raw, meters, keys) in MIDI_FILES.items():
        pm = pretty_midi.PrettyMIDI(initial_tempo=120.0, resolution=480)
        piano = pretty_midi.Instrument(program=0)
        piano.notes = [pretty_midi.Note(80, int(p), a / 2, b / 2) for a, b, p in raw]
        drums = pretty_midi.Instrument(program=0, is_drum=True)  # never read
        drums.notes = [pretty_midi.Note(80, 36, 0, 0.5)]
        pm.instruments += [piano, drums]
        pm.time_signature_changes = [pretty_midi.TimeSignature(n, d, b / 2) for b, n, d in meters]
        pm.key_signature_changes = [pretty_midi.KeySignature(k, b / 2) for b, k in keys]
        out = io.BytesIO()
        pm.write(out)
        data = out.getvalue()
        song = midi_io.parse_song(data)
        notes, meta, source = V2.quantise_song(song.notes, song.meters, song.key)
        cases.append({"name": name, "base64": base64.b64encode(data).decode(),
                      "notes": song.notes.tolist(), "meters": [list(m) for m in song.meters],
                      "key": None if song.key is None else list(song.key),
                      "song": {"notes": notes.tolist(), "meta": meta.to_json(),
                               "source": source}})
    good = base64.b64decode(cases[0]["base64"])
    track = good.index(b"MTrk", 14)  # the first track: its length follows its name
    damaged = {"empty": b"", "not MIDI": b"RIFF" + bytes(40), "truncated": good[:-3],
               "a track claiming 2 GB": good[:track + 4] + (2 ** 31).to_bytes(4, "big")
               + good[track + 8:], "header cut short": good[:10],
               "a track missing": good[:track]}
    refused = []
    for name, data in damaged.items():
        try:
            midi_io.parse_song(data)
        except midi_io.UnusableMidi as e:
            refused.append({"name": name, "base64": base64.b64encode(data).decode(),
                            "reason": str(e)})
        else:
            raise AssertionError(f"{name}: parse_song took it")
    return {"vocab": V2.to_json(), "cases": cases, "refused": refused}


def prepare_vectors() -> dict:
    """MIDI files (written by pretty_midi) and what ``prepare`` makes of each for a
    codec (trainer/music/corpus.py parse_bytes, then the codec's encode): the song's
    tokens, or the reason it is skipped. web/src/adapt/songs.js, which reads a
    visitor's files to adapt a model to, must give the same tokens and reasons; the
    limits are trainer/constants.py's (web/src/files/midifile.js holds them too)."""
    import base64
    import io

    import pretty_midi

    from trainer import constants as C
    from trainer.music.corpus import parse_bytes

    def write(raw, tempo=120.0, meters=(), keys=(), program=0, drum=False, seconds=False):
        """The bytes of a one-instrument file of ``raw`` (start, end, pitch) in beats at
        ``tempo`` (in seconds where ``seconds``), with time and key signatures."""
        pm = pretty_midi.PrettyMIDI(initial_tempo=tempo, resolution=480)
        part = pretty_midi.Instrument(program=program, is_drum=drum)
        scale = 1.0 if seconds else 60.0 / tempo
        part.notes = [pretty_midi.Note(80, int(p), a * scale, b * scale) for a, b, p in raw]
        pm.instruments.append(part)
        pm.time_signature_changes = [pretty_midi.TimeSignature(n, d, b * 60.0 / tempo)
                                     for b, n, d in meters]
        pm.key_signature_changes = [pretty_midi.KeySignature(k, b * 60.0 / tempo)
                                    for b, k in keys]
        out = io.BytesIO()
        pm.write(out)
        return out.getvalue()

    long_beats = [(0, 1, 60), (C.MAX_SONG_BEATS + 10, C.MAX_SONG_BEATS + 11, 62)]
    long_seconds = [(0, 1, 60), (C.MAX_SONG_SECONDS + 100, C.MAX_SONG_SECONDS + 101, 62)]
    files = {
        "phrase in A minor, 6/8 then 2/4": write(PHRASE, 90.0, [(0, 6, 8), (6, 2, 4)], [(0, 21)]),
        "waltz in 3/4, its key signature not the notes' key": write(WALTZ, 140.0, [(0, 3, 4)],
                                                                    [(0, 6)]),
        "no signatures, a pickup's silence first": write([(a + 0.5, b + 0.5, p)
                                                          for a, b, p in WALTZ]),
        "drums only": write(PHRASE, drum=True),
        "no notes": write([]),
        "only notes off the piano": write([(0, 1, 12), (1, 2, 115)]),
        "some notes off the piano": write([(0, 1, 12), (1, 2, 64), (2, 3, 115)]),
        "a tempo too slow": write(PHRASE, tempo=3.7),  # MIDI's slowest is 3.58 BPM
        "a tempo too fast": write(PHRASE, tempo=2000.0),
        "longer than the beats allowed": write(long_beats, tempo=900.0),
        "longer than the hours allowed": write(long_seconds, tempo=60.0, seconds=True),
        "not MIDI": b"RIFF" + bytes(40),
        "empty": b"",
    }
    sets = []
    for codec in (V2, V2_MONO, DEFAULT):
        cases = []
        for name, data in files.items():
            notes, reason, meta, source = parse_bytes(data, codec.config, ())
            case = {"name": name, "base64": base64.b64encode(data).decode()}
            if reason is None:
                case |= {"tokens": codec.encode(notes, meta).tolist(), "notes": len(notes),
                         "source": source}
            else:
                case["reason"] = reason
            cases.append(case)
        sets.append({"vocab": codec.to_json(), "cases": cases})
    limits = {"min_tempo_bpm": C.MIN_TEMPO_BPM, "max_tempo_bpm": C.MAX_TEMPO_BPM,
              "max_song_seconds": C.MAX_SONG_SECONDS, "max_song_beats": C.MAX_SONG_BEATS}
    return {"limits": limits, "sets": sets}


def dumps(obj, depth: int = 0) -> str:
    """JSON that opens long dicts and lists of dicts one item per line; the rest is compact."""
    pad, end = " " * (depth + 1), " " * depth
    if isinstance(obj, dict) and len(json.dumps(obj)) > 80:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        return "[\n" + ",\n".join(pad + dumps(x, depth + 1) for x in obj) + "\n" + end + "]"
    return json.dumps(obj)


def context_vectors_songs() -> list[list[int]]:
    """Songs in several meters (a motif that comes back, moved or not), one with a meter
    change, and token soup (a NOTE without its DUR, a DUR without a NOTE), as V2 ids."""
    from trainer.music.codec import Meta

    rng = np.random.default_rng(26)
    songs = []
    for meter, spb_bar in (((4, 4), 16), ((3, 4), 12), ((6, 8), 12), (K.OTHER, 16)):
        notes, t = [], 0
        motif = [(int(rng.integers(1, 5)), int(rng.integers(55, 80))) for _ in range(4)]
        for bar in range(12):  # a motif that comes back, moved or not
            for dur, pitch in motif:
                notes.append((t, dur, pitch + (2 if bar % 4 == 3 else 0)))
                if rng.random() < 0.4:
                    notes.append((t, dur * 2, pitch - 12))
                t += dur
            t = (bar + 1) * spb_bar
        notes = np.asarray(notes)
        bars = tuple((b, meter) for b in range(0, t, spb_bar))
        songs.append(V2.encode(notes, Meta((0, "major"), meter, bars)).tolist())
    changes = ((0, (3, 4)), (12, (3, 4)), (24, (4, 4)), (40, (4, 4)), (56, (4, 4)))
    notes = np.asarray([(s, 2, 60 + s % 7) for s in range(0, 72, 2)])
    songs.append(V2.encode(notes, Meta((0, "major"), (3, 4), changes)).tolist())
    songs.append([V2.bos_id] + rng.integers(0, V2.size, 300).tolist())
    return songs


def context_vectors() -> dict:
    """The Context's features (trainer/music/context.py) after every token of
    :func:`context_vectors_songs`, for a Context of every part, of each part alone, and
    with the repeating flags."""
    from trainer.music.context import LOOKBACK, Context

    songs = context_vectors_songs()
    cases = []
    for sounding, lookback, repeating in ((True, LOOKBACK, False), (True, (), False),
                                          (False, (1, 4), False), (True, LOOKBACK, True)):
        context = Context(V2, sounding, lookback, repeating)
        for tokens in songs:
            context.reset()
            active = []
            for token in tokens:
                context.advance(token)
                active.append(context.active().tolist())
            cases.append({"sounding": sounding, "lookback": list(lookback),
                          "repeating": repeating, "size": context.size, "tokens": tokens,
                          "active": active})
    return {"vocab": V2.to_json(), "lookback": list(LOOKBACK), "cases": cases}


class _Checked:
    """A FormHead whose every draw is refused within MARGIN of a boundary, and counted."""

    def __init__(self, head):
        self.head, self.draws, self.repeats = head, 0, 0
        self.end = head.end

    def choose(self, bars, rng):
        choice, p = self.head.classes(bars)
        if len(choice) > 1:
            u = Mulberry32(0)
            u.state = rng.state
            u = u.random()
            running = np.cumsum(p)[:-1]
            if len(running) and np.min(np.abs(running - u)) < MARGIN:
                raise ValueError("a form draw within MARGIN of a boundary: change the seed")
            self.draws += 1
        out = self.head.choose(bars, rng)
        self.repeats += bool(out)
        return out


def form_vectors() -> dict:
    """The form head (trainer/compose/form.py): the features and choices at every bar line
    of songs whose motifs come back (moved or not), one with a meter change and token
    soup; and generate() with a head over small logit tables, bars repeated, one
    repeat cut short by the grammar (a requested key), and ends that end songs sooner."""
    from trainer.compose.form import DISTANCES, FEATURES, Bars, FormHead
    from trainer.compose.harmony import voicing_guard

    rng = np.random.default_rng(126)
    head = FormHead(np.round(rng.normal(0, 1, (len(DISTANCES), len(FEATURES))), 3), 0.75)
    songs = context_vectors_songs()
    cases = []
    for tokens in songs:
        bars, at = Bars(V2), []
        for token in tokens:
            bars.advance(token)
            if token == V2.bar_id:
                choice, p = head.classes(bars)
                at.append({"bar": bars.bar, "features": [bars.features(k) for k in DISTANCES],
                           "choice": choice, "p": p})
        cases.append({"tokens": tokens, "bar_lines": at})
    tables = np.round(rng.normal(0, 2, (7, V2_SMALL.size)), 3)
    tables[:, V2_SMALL.eos_id] = -6
    bar_first = V2_SMALL.ranges["SHIFT"][0]
    tables[:, bar_first:bar_first + V2_SMALL.ranges["SHIFT"][1]] += 1.5  # bars go by
    prime = V2_SMALL.encode(*V2_SMALL.quantise_song(np.asarray(WALTZ, dtype=np.float64),
                                                    [(0, 3, 4)], (7, "major"))[:2])[:14]
    runs, draws, repeats = [], 0, 0
    for seed, (start, key, meter, shift, end) in enumerate((
            ([1], None, None, 2.0, 0.0), ([1], None, "METER_3_4", 1.0, 2.5),
            (prime.tolist(), None, None, 2.0, 0.0), ([1], "KEY_D_minor", "METER_4_4", 3.0, 0.0),
            ([1], None, None, -3.0, 0.0), ([1], None, None, 2.0, 4.0))):
        request = {"key": key and V2_SMALL.tokens.index(key),
                   "meter": meter and V2_SMALL.tokens.index(meter)}

        def composed(end, checked=None):
            checked = checked or _Checked(FormHead(head.weights, shift, end=end))
            return generate(lambda token: tables[token % len(tables)], V2_SMALL, start, 120,
                            1.0, 0, 1.0, seed=seed, **request,
                            constraint=voicing_guard(V2_SMALL), form=checked)

        checked = _Checked(FormHead(head.weights, shift, end=end))
        out = composed(end, checked)
        if end and len(out) >= len(composed(0.0)):
            raise ValueError(f"seed {seed}: its end must end the song sooner")
        draws, repeats = draws + checked.draws, repeats + checked.repeats
        runs.append({"prime": start, "shift": shift, "end": end, **request, "seed": seed,
                     "max_notes": 120, "ids": out.tolist()})
    if draws < 20 or repeats < 5:
        raise ValueError(f"the generate cases must draw and repeat: {draws} draws, "
                         f"{repeats} repeats")
    return {"vocab": V2.to_json(), "distances": list(DISTANCES), "features": list(FEATURES),
            "head": head.to_json(), "cases": cases,
            "generate": {"vocab": V2_SMALL.to_json(), "rule": "logits = tables[token % 7]",
                         "tables": tables.tolist(), "guard": True, "runs": runs}}


def limits_vectors() -> dict:
    """The limits the CLI and the browser share: a seed or a tempo one takes, the other
    takes too (web/src/page/settings.js LIMITS); the largest MIDI file either reads
    (web/src/files/midifile.js MAX_MIDI_BYTES); the largest next-token KL from Keras
    either loads a model with (converter/storage.py, web/src/worker/model.js MAX_KL); the
    export format the converter writes and those both read (converter/folder.py,
    web/src/worker/verify.js)."""
    from converter.folder import FORMAT_VERSION, READABLE
    from converter.storage import MAX_KL
    from trainer import constants as C

    return {"seed": [0, C.MAX_SEED], "tempo": list(C.TEMPO_RANGE),
            "midi_bytes": C.MAX_MIDI_BYTES, "max_kl": MAX_KL,
            "format_version": FORMAT_VERSION, "readable": list(READABLE)}


def shipped_weights_vectors() -> dict:
    """Each shipped model's weights as converter/read.py decodes them, by SHA-256 of their
    float32 bytes: tfjs-core's tf.io.decodeWeights must give the same in node
    (tests/js/weights.test.mjs)."""
    from converter.read import weight_digests

    models = VECTOR_DIR.parents[1] / "site" / "models"
    return {"models": {p.name: weight_digests(p) for p in sorted(models.iterdir())
                       if (p / "model.json").is_file()}}


def build() -> dict[str, str]:
    """File name -> the text it must hold."""
    parts = {"codec_decode": codec_decode, "codec_encode": codec_encode,
             "sampler": sampler, "generate": generate_vectors, "keys": keys_vectors,
             "midi": midi_vectors, "weights": weight_vectors,
             "harmonize": harmonize_vectors, "limits": limits_vectors,
             "context": context_vectors, "form": form_vectors,
             "shipped_weights": shipped_weights_vectors,
             "prepare": prepare_vectors}
    return {f"{name}.json": dumps(make()) + "\n" for name, make in parts.items()}


def main() -> None:
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in build().items():
        (VECTOR_DIR / name).write_text(text)
        print(f"wrote {VECTOR_DIR / name} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()

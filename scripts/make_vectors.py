"""Write ``tests/vectors/*.json``: what the JS codec and sampler must reproduce.

Run ``.venv/bin/python scripts/make_vectors.py`` after changing
``trainer/codec.py`` or ``trainer/sampling.py``. ``tests/test_vectors.py``
rebuilds these files in memory and fails while the committed ones differ;
``tests/js/*.test.mjs`` check every case against ``web/src/``.

Sampling cases must not hinge on a float's last bits (numpy's ``exp`` and V8's
``Math.exp`` may differ by an ulp): :func:`margin` refuses any draw within
``MARGIN`` of a boundary.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from trainer.codec import Codec
from trainer.config import CodecConfig
from trainer.sampling import TOKENS_PER_NOTE, Grammar, Mulberry32, candidates, generate

VECTOR_DIR = Path(__file__).resolve().parents[1] / "tests" / "vectors"
MARGIN = 1e-9
DEFAULT = Codec()
MONO = Codec(CodecConfig(steps_per_beat=2, max_duration=6, max_shift=5, mono=True))
SMALL = Codec(CodecConfig(max_duration=4, max_shift=4))  # for generate: a small table


def ids(codec: Codec, names: str) -> list[int]:
    """``"BOS NOTE_60 DUR_4"`` -> ids; integers pass through (for ill-formed input)."""
    return [int(n) if n.lstrip("-").isdigit() else codec.tokens.index(n) for n in names.split()]


def random_ids(codec: Codec, seed: int, n: int = 60) -> list[int]:
    """Mostly NOTE/DUR/SHIFT ids, some specials and ids outside the vocabulary."""
    rng = np.random.default_rng(seed)
    return rng.integers(-3, codec.size + 3, n).tolist()


def decode_cases(codec: Codec, named: dict[str, str], seeds) -> dict:
    seqs = [(name, ids(codec, text)) for name, text in named.items()]
    seqs += [(f"random {s}", random_ids(codec, s)) for s in seeds]
    return {"vocab": codec.to_json(),
            "cases": [{"name": name, "ids": seq, "notes": codec.decode(seq).tolist()}
                      for name, seq in seqs]}


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
    return {"codecs": [default, decode_cases(MONO, mono, range(100, 108))]}


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
    return {"codecs": out}


def margin(logits, temperature, top_k, top_p, mask, u) -> float:
    """How far (in probability) a draw ``u`` and ``top_p`` are from changing the token."""
    order, p = candidates(logits, temperature, top_k, 1.0, mask)
    cum_q = np.cumsum(p / np.cumsum(p)[-1])
    gaps = [np.inf] if top_p >= 1 else np.abs(cum_q - top_p)
    order, p = candidates(logits, temperature, top_k, top_p, mask)
    running = np.cumsum(p)
    return float(min(np.min(gaps), np.min(np.abs(running - u * running[-1]) / running[-1])))


def draws(case: dict, n: int = 20) -> list[int]:
    """``n`` tokens drawn with one fresh rng; refuses draws too close to a boundary."""
    args = (case["logits"], case["temperature"], case["top_k"], case["top_p"], case["mask"])
    order, p = candidates(*args)
    if case["temperature"] == 0:
        return [int(order[0])] * n
    rng, out = Mulberry32(case["seed"]), []
    running = np.cumsum(p)
    for _ in range(n):
        u = rng.random()
        if margin(*args, u) < MARGIN:
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
    for i, case in enumerate(base):
        case["seed"] = 1000 + i
        ids_, p = candidates(case["logits"], case["temperature"], case["top_k"],
                             case["top_p"], case["mask"])
        cases.append({**case, "candidates": ids_.tolist(), "p": p.tolist(),
                      "draws": draws(case)})
    return {"mulberry32": streams, "cases": cases}


def grammar_trace(codec: Codec, names: str) -> dict:
    """After each token: the allowed ids as [start, stop) runs, and the note count."""
    grammar, steps = Grammar(codec), []
    for token in ids(codec, names):
        grammar.advance(token)
        edges = np.flatnonzero(np.diff(np.r_[0, grammar.mask().astype(np.int8), 0]))
        steps.append({"token": token, "allowed": edges.reshape(-1, 2).tolist(),
                      "notes": grammar.notes})
    return {"vocab": codec.to_json(), "steps": steps}


def generate_vectors() -> dict:
    g = np.random.default_rng(11)
    eos = SMALL.eos_id
    tables = {"long": np.round(g.normal(0, 2, (7, SMALL.size)), 3),
              "ends": np.round(g.normal(0, 2, (5, SMALL.size)), 3),
              "rests": np.round(g.normal(0, 1, (3, SMALL.size)), 3)}
    tables["long"][:, eos] = -8
    tables["ends"][:, eos] = 3
    tables["rests"][:, eos] = -30
    tables["rests"][:, SMALL.ranges["SHIFT"][0]:] += 12  # SHIFTs nearly always
    prime = ids(SMALL, "BOS NOTE_64 DUR_2 NOTE_60 DUR_2 SHIFT_2 NOTE_62 DUR_4 SHIFT_4")
    settings = [("long", [1], 40, 1.0, 0, 1.0), ("long", prime, 40, 0.8, 0, 0.9),
                ("long", prime, 30, 0, 0, 1.0), ("long", [1], 50, 1.3, 8, 1.0),
                ("ends", [1], 200, 1.0, 0, 1.0), ("ends", prime, 200, 1.0, 0, 0.95),
                ("rests", [1], 2, 1.0, 0, 1.0), ("long", prime, 3, 1.0, 0, 1.0)]
    cases = []
    for i, (table, prime_, max_notes, t, k, top_p) in enumerate(settings):
        rows = tables[table]
        out = generate(lambda token, rows=rows: rows[token % len(rows)], SMALL, prime_,
                       max_notes, t, k, top_p, seed=i)
        stop = check_margins(rows, prime_, out.tolist(), max_notes, t, k, top_p, seed=i)
        cases.append({"table": table, "prime": prime_, "max_notes": max_notes,
                      "temperature": t, "top_k": k, "top_p": top_p, "seed": i,
                      "stop": stop, "ids": out.tolist()})
    if {c["stop"] for c in cases} != {"eos", "notes", "tokens"}:
        raise ValueError("generate cases must end at EOS, at max_notes and at the token cap")
    grammar = [grammar_trace(DEFAULT, "BOS NOTE_72 DUR_4 NOTE_67 NOTE_69 DUR_2 SHIFT_4 NOTE_21 "
                                      "DUR_1 DUR_2 PAD NOTE_60 SHIFT_1 NOTE_108 DUR_32 EOS"),
               grammar_trace(MONO, "BOS NOTE_60 DUR_2 NOTE_62 SHIFT_3 NOTE_64 DUR_1 SHIFT_1")]
    return {"rule": "logits = tables[table][token % len(tables[table])] for the token fed",
            "vocab": SMALL.to_json(), "tables": {k: v.tolist() for k, v in tables.items()},
            "cases": cases, "grammar": grammar}


def check_margins(rows, prime, out, max_notes, t, k, top_p, seed) -> str:
    """Replay a generate() run: refuse a draw near a boundary; say why it stopped."""
    grammar, rng = Grammar(SMALL), Mulberry32(seed)
    for token in prime:
        grammar.advance(token)
    for i, token in enumerate([prime[-1], *out]):
        if grammar.notes >= max_notes:
            return "notes"
        if i >= TOKENS_PER_NOTE * max_notes:
            return "tokens"
        if t > 0 and margin(rows[token % len(rows)], t, k, top_p, grammar.mask(),
                            rng.random()) < MARGIN:
            raise ValueError(f"generate case seed {seed}: draw {i} lies on a boundary")
        if i < len(out):
            grammar.advance(out[i])
    return "eos"


def dumps(obj, depth: int = 0) -> str:
    """JSON that opens long dicts and lists of dicts one item per line; the rest is compact."""
    pad, end = " " * (depth + 1), " " * depth
    if isinstance(obj, dict) and len(json.dumps(obj)) > 80:
        items = [f"{pad}{json.dumps(k)}: {dumps(v, depth + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(obj, list) and obj and all(isinstance(x, dict) for x in obj):
        return "[\n" + ",\n".join(pad + dumps(x, depth + 1) for x in obj) + "\n" + end + "]"
    return json.dumps(obj)


def build() -> dict[str, str]:
    """File name -> the text it must hold."""
    parts = {"codec_decode": codec_decode, "codec_encode": codec_encode,
             "sampler": sampler, "generate": generate_vectors}
    return {f"{name}.json": dumps(make()) + "\n" for name, make in parts.items()}


def main() -> None:
    VECTOR_DIR.mkdir(parents=True, exist_ok=True)
    for name, text in build().items():
        (VECTOR_DIR / name).write_text(text)
        print(f"wrote {VECTOR_DIR / name} ({len(text):,} bytes)")


if __name__ == "__main__":
    main()

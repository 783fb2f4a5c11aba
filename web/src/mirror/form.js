// The form head: which bars come back. trainer/compose/form.py line for line
// (its docstring says why and how); tests/vectors/form.json, written by
// scripts/make_vectors.py, holds the two to the same features, choices and
// generated tokens.

export const FORMAT = "cadenza-form";
// The names of the head's inputs, in order: form.json must name these.
export const FEATURES = ["bias", "repeating", "a period's last bar", "a whole period repeated",
  "two periods repeated", "bar 1 of 2", "bar 1 of 4", "bar 1 of 8", "bars so far (32 at most)",
  "bar before alike", "two bars before alike", "bar before ends alike"];

/** The bars read so far: spans[i] holds bar i's NOTE, DUR and SHIFT ids (bar 0: before the first BAR). */
export class Bars {
  constructor(codec) {
    this.codec = codec;
    this.reset();
  }

  reset() {
    this.spans = [[]];
    this.noteCache = new Map();
  }

  is(token, kind) {
    const r = this.codec.ranges[kind];
    return r !== undefined && token >= r.first && token < r.first + r.count;
  }

  advance(token) {
    if (token === this.codec.barId) {
      this.spans.push([]);
    } else if (this.is(token, "NOTE") || this.is(token, "DUR") || this.is(token, "SHIFT")) {
      this.spans[this.spans.length - 1].push(token);
      this.noteCache.delete(this.spans.length - 1);
    }
  }

  /** The bar being read (0 before the first BAR). */
  get bar() {
    return this.spans.length - 1;
  }

  /** Bar i's tokens up to its last DUR (empty: no note starts in it). */
  span(i) {
    const seg = this.spans[i];
    for (let j = seg.length - 1; j >= 0; j--) {
      if (this.is(seg[j], "DUR")) return seg.slice(0, j + 1);
    }
    return [];
  }

  /** Bar i's notes as "step,NOTE,DUR" keys, and its last onset (-1: none). */
  notes(i) {
    if (!this.noteCache.has(i)) {
      const out = new Set();
      let t = 0, pitch = null, last = -1;
      const firstShift = this.codec.ranges.SHIFT.first;
      for (const x of this.spans[i]) {
        if (this.is(x, "NOTE")) {
          pitch = x;
        } else if (this.is(x, "DUR") && pitch !== null) {
          out.add(`${t},${pitch},${x}`);
          last = t;
          pitch = null;
        } else if (this.is(x, "SHIFT")) {
          t += x - firstShift + 1;
        }
      }
      this.noteCache.set(i, { set: out, last });
    }
    return this.noteCache.get(i);
  }

  alike(a, b) {
    if (a < 1 || b < 1) return 0;
    const x = this.notes(a).set, y = this.notes(b).set;
    let shared = 0;
    for (const n of x) if (y.has(n)) shared += 1;
    const union = x.size + y.size - shared;
    return union ? shared / union : 0;
  }

  endsAlike(a, b) {
    if (a < 1 || b < 1) return 0;
    const x = this.notes(a), y = this.notes(b);
    if (x.last < 0 || x.last !== y.last) return 0;
    const at = (s, t) => [...s.set].filter((n) => Number(n.split(",")[0]) === t).sort().join(";");
    return at(x, x.last) === at(y, y.last) ? 1 : 0;
  }

  repeated(j, k) {
    if (j - k < 1) return false;
    const a = this.span(j), b = this.span(j - k);
    return a.length > 0 && a.length === b.length && a.every((t, n) => t === b[n]);
  }

  /** FEATURES of repeating the bar k back as the bar now read; null where that bar holds no note. */
  features(k) {
    const i = this.bar;
    if (i - k < 1 || !this.span(i - k).length) return null;
    let run = 0;
    while (run < 2 * k && this.repeated(i - 1 - run, k)) run += 1;
    return [1, +(run >= 1), +(k > 1 && run === k - 1), +(run >= k), +(run >= 2 * k),
      +((i - 1) % 2 === 0),
      +((i - 1) % 4 === 0), +((i - 1) % 8 === 0), Math.min(i, 32) / 32,
      this.alike(i - 1, i - 1 - k), this.alike(i - 2, i - 2 - k),
      this.endsAlike(i - 1, i - 1 - k)];
  }
}

// logits (a copy, float64) with end added to the EOS logit: as the composer samples
// them under a head.
export function ended(logits, eosId, end) {
  const z = Float64Array.from(logits);
  z[eosId] += end;
  return z;
}

export class FormHead {
  /** json: a form.json (as FormHead.to_json writes it); throws a RangeError on a damaged one. */
  constructor(json) {
    const ok = json && json.format === FORMAT && Array.isArray(json.features) &&
      json.features.length === FEATURES.length &&
      json.features.every((f, i) => f === FEATURES[i]) && Array.isArray(json.distances) &&
      json.distances.every((k) => Number.isInteger(k) && k >= 1) &&
      Array.isArray(json.weights) && json.weights.length === json.distances.length &&
      json.weights.every((row) => Array.isArray(row) && row.length === FEATURES.length &&
        row.every((w) => typeof w === "number" && Number.isFinite(w))) &&
      typeof (json.shift ?? 0) === "number" && Number.isFinite(json.shift ?? 0) &&
      typeof (json.end ?? 0) === "number" && Number.isFinite(json.end ?? 0);
    if (!ok) throw new RangeError("form.json is damaged (not a form head of these features)");
    this.distances = json.distances;
    this.weights = json.weights;
    this.shift = json.shift ?? 0;
    this.end = json.end ?? 0; // added to the EOS logit wherever the composer samples
  }

  /** The choices open at the bar being read (0, a new bar, first) and their probabilities. */
  classes(bars) {
    const choice = [0], z = [0];
    this.distances.forEach((k, j) => {
      const x = bars.features(k);
      if (x === null) return;
      let s = this.shift;
      this.weights[j].forEach((w, f) => { s += w * x[f]; });
      choice.push(k);
      z.push(s);
    });
    const top = Math.max(...z);
    const p = z.map((v) => Math.exp(v - top));
    let total = 0;
    for (const v of p) total += v;
    return { choice, p: p.map((v) => v / total) };
  }

  /** At a BAR just read: the tokens to feed again ([]: a new bar); one rng() draw where a distance is open. */
  choose(bars, rng) {
    const { choice, p } = this.classes(bars);
    if (choice.length === 1) return [];
    const u = rng();
    let running = 0, picked = choice[choice.length - 1];
    for (let c = 0; c < choice.length; c++) {
      running += p[c];
      if (running > u) {
        picked = choice[c];
        break;
      }
    }
    return picked === 0 ? [] : bars.span(bars.bar - picked);
  }
}

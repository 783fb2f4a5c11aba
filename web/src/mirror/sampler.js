// Sampling: logits -> next token, and the generation loop.
//
// A line-for-line mirror of trainer/compose/sampling.py (read its docstrings for the
// contracts); tests/vectors/sampler.json and generate.json hold the two to the
// same tokens for the same seed.

import { Grammar } from "./codec.js";
import { Bars, ended } from "./form.js";

/** generate() gives up after maxNotes * this many new tokens (as Python). */
export const TOKENS_PER_NOTE = 16;

/** The mulberry32 PRNG: a function returning floats in [0, 1), multiples of 2**-32. */
export function mulberry32(seed) {
  let a = seed | 0;
  return function () {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Steps 1-7 of sampleToken: {ids, p}, the kept token ids (most likely first,
 * then `keep` if top-k/top-p cut it) and their unnormalised probabilities.
 * Throws RangeError on bad settings or when no allowed token has a finite logit.
 */
export function candidates(logits, { temperature = 1, topK = 0, topP = 1 } = {}, mask = null,
  keep = null) {
  if (!(temperature >= 0 && topK >= 0 && topP > 0 && topP <= 1)) {
    throw new RangeError(`need temperature >= 0, topK >= 0, 0 < topP <= 1; ` +
      `got ${temperature}, ${topK}, ${topP}`);
  }
  if (mask && mask.length !== logits.length) {
    throw new RangeError(`mask has ${mask.length} entries for ${logits.length} logits`);
  }
  const z = Float64Array.from(logits, (x, i) => (mask && !mask[i] ? -Infinity : x));
  let best = 0; // the first largest logit
  for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
  if (z.some((x) => Number.isNaN(x) || x === Infinity) || !(z[best] > -Infinity)) {
    throw new RangeError("no allowed token has a finite logit");
  }
  if (temperature === 0) return { ids: [best], p: [1] };
  for (let i = 0; i < z.length; i++) z[i] /= temperature;
  const max = z[best];
  const p = z.map((x) => Math.exp(x - max));
  const sum = p.reduce((s, x) => s + x, 0);
  for (let i = 0; i < p.length; i++) p[i] /= sum;
  let ids = [...p.keys()].filter((i) => p[i] > 0).sort((a, b) => p[b] - p[a] || a - b);
  if (topK > 0) ids = ids.slice(0, topK);
  if (topP < 1) {
    const total = ids.reduce((s, i) => s + p[i], 0);
    let cum = 0;
    const cut = ids.findIndex((i) => (cum += p[i] / total) >= topP);
    if (cut >= 0) ids = ids.slice(0, cut + 1);
  }
  // where a song ends is the model's choice at its own probability, never a cut tail
  if (Number.isInteger(keep) && keep >= 0 && keep < p.length && p[keep] > 0 &&
      !ids.includes(keep)) ids.push(keep);
  return { ids, p: ids.map((i) => p[i]) };
}

/**
 * Draw the next token id from logits (length V) with options {temperature,
 * topK, topP}, rng() a mulberry32 generator, mask (1/true = allowed, or
 * null) and keep (an id top-k/top-p never cut, or null; generate passes
 * EOS). Same eight steps as Python's sample_token; exactly one rng() call
 * unless temperature is 0 (then the first largest allowed logit, no call).
 */
export function sampleToken(logits, options, rng, mask = null, keep = null) {
  const { ids, p } = candidates(logits, options, mask, keep);
  if (options.temperature === 0) return ids[0];
  const total = p.reduce((s, x) => s + x, 0);
  const target = rng() * total;
  let running = 0;
  for (let i = 0; i < ids.length; i++) {
    running += p[i];
    if (running > target) return ids[i];
  }
  return ids[ids.length - 1];
}

/**
 * New token ids continuing prime, as Python's generate(). step(id) feeds one
 * token to the (already reset) model and returns the next-token logits; every
 * prime token (BOS first, no EOS) is fed and given to a Grammar (options.key
 * and options.meter: the requested KEY and METER ids, or null). Then with
 * rng = mulberry32(seed): sample with the grammar's mask and keep = EOS; stop
 * at EOS (not returned); else append, advance the grammar and call
 * onToken(id); stop once the grammar counts maxNotes notes (the prime's
 * included) or maxTokens new tokens (default TOKENS_PER_NOTE * maxNotes);
 * else feed the token to step. options.constraint (a harmony.js Constraint,
 * or null) is fed every token the grammar is, and its mask(grammar mask)
 * replaces the grammar's mask. A prime that holds notes is answered with at
 * least a phrase: no EOS until the rest of its last bar and one bar more have
 * passed (Grammar.holdBar). options.form (a form.js FormHead, or null) chooses at
 * each new BAR whether the bar repeats one before (one draw of the same rng where a
 * distance is open); a repeat's tokens are taken in turn, with no draw, until one is
 * masked (that step samples and the repeat ends there). Where it samples, form.end is
 * added to the EOS logit first (form.js ended).
 */
export function generate(step, codec, prime, options) {
  const { maxNotes, temperature = 1, topK = 0, topP = 1, seed = 0, onToken,
    key = null, meter = null, constraint = null, form = null } = options;
  const maxTokens = options.maxTokens ?? TOKENS_PER_NOTE * maxNotes;
  if (!Number.isInteger(maxNotes) || !Number.isInteger(maxTokens)) {
    throw new RangeError("maxNotes and maxTokens must be integers");
  }
  if (!prime.length || prime[0] !== codec.bosId || prime.includes(codec.eosId)) {
    throw new RangeError("prime must start with BOS and must not contain EOS");
  }
  const rng = mulberry32(seed), grammar = new Grammar(codec, { key, meter }), out = [];
  const sampling = { temperature, topK, topP };
  const bars = form ? new Bars(codec) : null;
  let logits, again = [];
  for (const id of prime) {
    grammar.advance(id);
    constraint?.advance(id);
    bars?.advance(id);
    logits = step(id);
  }
  if (grammar.notes) grammar.holdBar(); // an answer to a prime: at least a bar more
  while (grammar.notes < maxNotes && out.length < maxTokens) {
    if (out.length) logits = step(out[out.length - 1]); // never fed after the last token
    const mask = constraint ? constraint.mask(grammar.mask()) : grammar.mask();
    let id;
    if (again.length && mask[again[0]]) {
      id = again.shift();
    } else {
      again = [];
      if (form?.end) logits = ended(logits, codec.eosId, form.end);
      id = sampleToken(logits, sampling, rng, mask, codec.eosId);
      if (id === codec.eosId) break;
    }
    out.push(id);
    grammar.advance(id);
    constraint?.advance(id);
    if (bars) {
      bars.advance(id);
      if (id === codec.barId) again = form.choose(bars, rng);
    }
    onToken?.(id);
  }
  return out;
}

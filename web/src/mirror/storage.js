// How far an export's next-token probabilities may drift from its reference:
// converter/storage.py's MAX_KL, softmax and kl. The loader holds a model to its
// parity.json by them (web/src/worker/model.js), and an adapted model's export
// chooses its weights' storage by them (web/src/adapt/export.js).

/** The largest next-token KL an export may have from Keras (converter/storage.py MAX_KL). */
export const MAX_KL = 0.01;

/** Softmax of logits in float64, as Python's parity file computes it. */
export function softmax(logits) {
  let max = -Infinity;
  for (const x of logits) max = Math.max(max, x);
  const p = Float64Array.from(logits, (x) => Math.exp(x - max));
  let sum = 0;
  for (const x of p) sum += x;
  return p.map((x) => x / sum);
}

/**
 * {maxAbs, maxKl}: the largest |p - q| and KL(p || q) over every step of two runs'
 * next-token probabilities, `reference` (p) and `got` (q), one row per step.
 */
export function drift(reference, got) {
  let maxAbs = 0, maxKl = 0;
  got.forEach((q, i) => {
    const p = reference[i];
    for (let j = 0; j < p.length; j++) maxAbs = Math.max(maxAbs, Math.abs(p[j] - q[j]));
    maxKl = Math.max(maxKl, klDivergence(p, q));
  });
  return { maxAbs, maxKl };
}

/** KL(p || q), probabilities clipped at 1e-12 in the logs (converter/storage.py kl). */
export function klDivergence(p, q) {
  let kl = 0;
  for (let j = 0; j < p.length; j++) {
    kl += p[j] * (Math.log(Math.max(p[j], 1e-12)) - Math.log(Math.max(q[j], 1e-12)));
  }
  return kl;
}

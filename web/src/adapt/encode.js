// Encode float32 weights into TensorFlow.js shards, as the converter writes them.
//
// The inverse of web/src/mirror/weights.js, byte for byte what converter/weights.py
// encode() writes with the tensorflowjs package (tests/vectors/weights.json holds
// both to it): float32 as it is; float16 by IEEE round to nearest even (numpy's
// astype); uint8 by tensorflowjs's quantize_weights: min and max of the tensor in
// float64, the range nudged so that 0 is a code when it lies inside, codes
// round-half-even((clip(x) - min) / scale); uint8-column as converter/weights.py
// _affine chooses a min and scale per column (both rounded to float32), its codes
// then written as a uint8 entry by the same tensorflowjs rule.
// No DOM: this runs in a Web Worker and in node.

import { concat } from "../common/bytes.js";
import { roundHalfEven } from "../mirror/codec.js";
import { COLUMN_PARTS, storageOf } from "../mirror/weights.js";

const LEVELS = 255;

/**
 * The storage of every weight in `manifest` (model.json's weightsManifest), by
 * weight name: "float32", "float16", "uint8" or "uint8-column" (a weight whose
 * entries are W/codes, W/column_min and W/column_scale).
 */
export function storages(manifest) {
  const out = {};
  for (const entry of manifest.flatMap((g) => g.weights)) {
    const [weight, part] = splitName(entry.name);
    if (part) out[weight] = "uint8-column";
    else out[weight] = storageOf(entry);
  }
  return out;
}

/** [weight name, column part or null] of a manifest entry's name. */
export function splitName(entryName) {
  const cut = entryName.lastIndexOf("/");
  const part = entryName.slice(cut + 1);
  return cut > 0 && COLUMN_PARTS.includes(part) ? [entryName.slice(0, cut), part]
    : [entryName, null];
}

/**
 * {entries, bytes}: the manifest entries (TF.js's fields only) and the bytes that
 * store weight `name` ({shape, values: Float32Array}) as `storage`.
 */
export function encodeWeight(name, { shape, values }, storage) {
  if (storage === "uint8-column") {
    const columns = shape.length ? shape.at(-1) : 1;
    const { codes, min, scale } = columnAffine(values, columns);
    const coded = encodeWeight(`${name}/codes`, { shape, values: codes }, "uint8");
    const lo = encodeWeight(`${name}/column_min`, { shape: [columns], values: min }, "float32");
    const sc = encodeWeight(`${name}/column_scale`, { shape: [columns], values: scale },
      "float32");
    return { entries: [...coded.entries, ...lo.entries, ...sc.entries],
      bytes: concat([coded.bytes, lo.bytes, sc.bytes]) };
  }
  const entry = { name, shape: shape.slice(), dtype: "float32" };
  if (storage === "float32") {
    return { entries: [entry], bytes: new Uint8Array(Float32Array.from(values).buffer) };
  }
  if (storage === "float16") {
    entry.quantization = { dtype: "float16", original_dtype: "float32" };
    return { entries: [entry], bytes: new Uint8Array(Uint16Array.from(values, halfBits).buffer) };
  }
  if (storage === "uint8") {
    const { codes, min, scale } = quantizeUint8(values);
    entry.quantization = { dtype: "uint8", min, scale, original_dtype: "float32" };
    return { entries: [entry], bytes: codes };
  }
  throw new Error(`weight ${name}: unknown storage ${JSON.stringify(storage)}`);
}

/** tensorflowjs quantization.quantize_weights for uint8: {codes, min, scale}. */
export function quantizeUint8(values) {
  let lo = Infinity, hi = -Infinity;
  for (const x of values) {
    lo = Math.min(lo, x);
    hi = Math.max(hi, x);
  }
  const codes = new Uint8Array(values.length);
  if (lo === hi) return { codes, min: lo, scale: 1.0 }; // one value: every code 0
  const scale = (hi - lo) / LEVELS;
  let min = lo, max = hi;
  if (lo <= 0 && 0 <= hi) { // TF-Lite's nudge: 0 becomes exactly a code
    min = -roundHalfEven((0 - lo) / scale) * scale;
    max = LEVELS * scale + min;
  }
  for (let i = 0; i < values.length; i++) {
    codes[i] = roundHalfEven((Math.min(Math.max(values[i], min), max) - min) / scale);
  }
  return { codes, min, scale };
}

/** converter/weights.py _affine over the rows of a (-1, columns) table. */
function columnAffine(values, columns) {
  const lo = new Float64Array(columns).fill(Infinity);
  const hi = new Float64Array(columns).fill(-Infinity);
  values.forEach((x, i) => {
    const c = i % columns;
    lo[c] = Math.min(lo[c], x);
    hi[c] = Math.max(hi[c], x);
  });
  const min = Float32Array.from(lo);
  const scale = Float32Array.from(lo, (l, c) => (hi[c] - l > 0 ? (hi[c] - l) / LEVELS : 1.0));
  const codes = Float32Array.from(values, (x, i) => Math.min(Math.max(
    roundHalfEven((x - min[i % columns]) / scale[i % columns]), 0), LEVELS));
  return { codes, min, scale };
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The IEEE half bits of float32 x, rounded to nearest even (numpy's astype(float16)). */
export function halfBits(x) {
  f32[0] = x;
  const b = u32[0];
  const sign = (b >>> 16) & 0x8000, exp = (b >>> 23) & 0xff, mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // infinity, NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // beyond 65504 once rounded: infinity
  if (e <= 0) { // a subnormal half (units of 2^-24), or 0
    if (e < -10) return sign;
    const m = mant | 0x800000, shift = 14 - e;
    const h = m >>> shift, rem = m & ((1 << shift) - 1), half = 1 << (shift - 1);
    return sign | (rem > half || (rem === half && h & 1) ? h + 1 : h);
  }
  const h = (e << 10) | (mant >>> 13), rem = mant & 0x1fff;
  // a carry out of the mantissa steps the exponent, up to infinity: still the right bits
  return sign | (rem > 0x1000 || (rem === 0x1000 && h & 1) ? h + 1 : h);
}

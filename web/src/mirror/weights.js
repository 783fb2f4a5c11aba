// Turn an export's weight shards into float32 weights, exactly as converter/weights.py does.
//
// Each entry of model.json's weightsManifest names a weight, its shape and its
// storage; its bytes follow the previous weight's (little-endian, C order;
// C = the last dimension, the columns):
//   float32       no quantization                               4 bytes a value
//   float16       {dtype: "float16"}                            2 bytes a value
//   uint8         {dtype: "uint8", min, scale}                  1 code a value
//   uint8-column  {dtype: "uint8", per: "column"}               min: float32 x C, scale:
//                                                               float32 x C, 1 code a value
// A code q reads as float32(q * scale + min), computed in float64 (tfjs's own
// rule for uint8). The Stepper (web/src/mirror/stepper.js) runs the float32 result,
// so every storage loads the same way; the shared cases in
// tests/vectors/weights.json hold Python and JS to the same bits.

const QUANTIZED = { float16: 2, uint8: 1 };

/** The storage an entry describes ("float32", "float16", "uint8", "uint8-column"), or throw. */
export function storageOf(entry) {
  const q = entry?.quantization;
  if (entry?.dtype === "float32") {
    if (q === undefined || q === null) return "float32";
    const number = (x) => typeof x === "number";
    if (q.dtype === "float16" && q.per === undefined) return "float16";
    if (q.dtype === "uint8" && q.per === undefined && number(q.min) && number(q.scale)) {
      return "uint8";
    }
    if (q.dtype === "uint8" && q.per === "column") return "uint8-column";
  }
  const said = {};
  for (const k of ["dtype", "quantization"]) if (entry && k in entry) said[k] = entry[k];
  throw new Error(`weight ${entry?.name} has an unsupported storage ${sortedJson(said)}`);
}

/** JSON with keys sorted at every level and ", " / ": " separators, as Python's json.dumps. */
export function sortedJson(value) {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(", ")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort()
      .map((k) => `${JSON.stringify(k)}: ${sortedJson(value[k])}`).join(", ")}}`;
  }
  return JSON.stringify(value);
}

const count = (shape) => shape.reduce((n, d) => n * d, 1);
const columns = (shape) => (shape.length ? shape.at(-1) : 1);

/** Bytes a weight of `shape` takes in the shards as `storage`. */
export function byteSize(shape, storage) {
  if (storage === "uint8-column") return 8 * columns(shape) + count(shape);
  return count(shape) * (storage === "float32" ? 4 : QUANTIZED[storage]);
}

/** float16 bits -> the number (exact: every half is a float32). */
function half(bits) {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * (1024 + fraction) * 2 ** (exponent - 25);
}

/**
 * The float32 values of manifest `entry` read from `bytes` (a Uint8Array) at
 * byte `at`: {values: Float32Array, end}. Throws when the bytes are too few.
 */
export function dequantise(entry, bytes, at = 0) {
  const storage = storageOf(entry);
  const shape = entry.shape.map(Number);
  const n = count(shape), c = columns(shape);
  const end = at + byteSize(shape, storage);
  if (end > bytes.length) {
    throw new Error(`weight shards hold ${bytes.length} bytes, too few for ${entry.name}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = new Float32Array(n);
  if (storage === "float32") {
    for (let i = 0; i < n; i++) values[i] = view.getFloat32(at + 4 * i, true);
  } else if (storage === "float16") {
    for (let i = 0; i < n; i++) values[i] = half(view.getUint16(at + 2 * i, true));
  } else if (storage === "uint8") {
    const { min, scale } = entry.quantization;
    for (let i = 0; i < n; i++) values[i] = bytes[at + i] * scale + min;
  } else {
    const min = Float64Array.from({ length: c }, (_, j) => view.getFloat32(at + 4 * j, true));
    const scale = Float64Array.from({ length: c },
      (_, j) => view.getFloat32(at + 4 * (c + j), true));
    const codes = at + 8 * c;
    for (let i = 0; i < n; i++) values[i] = bytes[codes + i] * scale[i % c] + min[i % c];
  }
  return { values, end };
}

/**
 * Every weight of the manifest groups by name, in manifest order:
 * {name: {shape, values: Float32Array}}. `groups` is [{weights: manifest
 * entries, bytes: that group's shards back to back}]. Throws unless each
 * group's weights fill its bytes exactly and are finite.
 */
export function decodeWeights(groups) {
  const out = {};
  for (const { weights, bytes } of groups) {
    let at = 0;
    for (const entry of weights) {
      const { values, end } = dequantise(entry, bytes, at);
      at = end;
      if (!values.every(Number.isFinite)) {
        throw new Error(`weight ${entry.name} decodes to NaN or infinite values: the shard ` +
          "does not hold what model.json describes (damaged, or its entries swapped)");
      }
      out[entry.name] = { shape: entry.shape.map(Number), values };
    }
    if (at !== bytes.length) {
      throw new Error(`weight shards hold ${bytes.length} bytes, the manifest describes ${at}`);
    }
  }
  return out;
}

// Turn an export's weight shards into float32 weights by name, as converter/weights.py does.
//
// The shards and model.json's weightsManifest are TensorFlow.js's own weights
// format, written by the tensorflowjs package; tfjs-core's tf.io.decodeWeights
// decodes every entry (float32, float16, or uint8 with min and scale: a code q
// reads as float32(q * scale + min), computed in float64). A weight stored per
// column has three entries, W/codes, W/column_min and W/column_scale, joined
// here as converter/weights.py assemble() joins them:
// W[..., j] = float32(codes[..., j] * column_scale[j] + column_min[j]), in
// float64. The Stepper (web/src/mirror/stepper.js) runs the float32 result;
// the shared cases in tests/vectors/weights.json hold Python and JS to the
// same bits. Before decoding, each entry must be one TF.js defines, with only
// TF.js's fields, and the entries must fill their group's bytes exactly;
// after it, every weight must be finite.

import { decodeWeights as tfDecodeWeights } from "./tfjs-io.js";

/** Bytes per value of each storage of a manifest entry. */
export const BYTES = { float32: 4, float16: 2, uint8: 1 };
const ENTRY_FIELDS = new Set(["name", "shape", "dtype", "quantization"]);
const QUANTIZATION_FIELDS = new Set(["dtype", "min", "scale", "original_dtype"]);
export const COLUMN_PARTS = ["codes", "column_min", "column_scale"];

/** The TF.js storage of one manifest entry ("float32", "float16", "uint8"), or throw. */
export function storageOf(entry) {
  const q = entry?.quantization;
  const number = (x) => typeof x === "number";
  const fieldsOk = entry && typeof entry === "object" &&
    Object.keys(entry).every((k) => ENTRY_FIELDS.has(k)) &&
    (q === undefined || (q && typeof q === "object" &&
      Object.keys(q).every((k) => QUANTIZATION_FIELDS.has(k))));
  if (fieldsOk && entry.dtype === "float32") {
    if (q === undefined) return "float32";
    if (q.dtype === "float16" && !("min" in q) && !("scale" in q)) return "float16";
    if (q.dtype === "uint8" && number(q.min) && number(q.scale)) return "uint8";
  }
  const said = {};
  for (const k of Object.keys(entry ?? {})) if (k !== "name" && k !== "shape") said[k] = entry[k];
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

/**
 * Every weight of the manifest groups by name, in manifest order:
 * {name: {shape, values: Float32Array}}. `groups` is [{weights: manifest
 * entries, bytes: that group's shards back to back}]. Throws unless each
 * group's entries fill its bytes exactly, every per-column weight has its
 * three entries, and every weight is finite. A backend must be registered.
 */
export function decodeWeights(groups) {
  const decoded = [];
  for (const { weights, bytes } of groups) {
    let at = 0;
    for (const entry of weights) {
      at += count(entry.shape.map(Number)) * BYTES[storageOf(entry)];
      if (at > bytes.length) {
        throw new Error(`weight shards hold ${bytes.length} bytes, too few for ${entry.name}`);
      }
    }
    if (at !== bytes.length) {
      throw new Error(`weight shards hold ${bytes.length} bytes, the manifest describes ${at}`);
    }
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    const tensors = tfDecodeWeights(buffer, weights);
    for (const entry of weights) {
      const t = tensors[entry.name];
      decoded.push([entry.name, { shape: entry.shape.map(Number), values: t.dataSync() }]);
      t.dispose();
    }
  }
  const out = assemble(decoded);
  for (const [name, { values }] of Object.entries(out)) {
    if (!values.every(Number.isFinite)) {
      throw new Error(`weight ${name} decodes to NaN or infinite values: the shard does not ` +
        "hold what model.json describes (damaged, or its entries swapped)");
    }
  }
  return out;
}

/**
 * The weights by name from the decoded entries ([[name, {shape, values}]] in
 * manifest order): each W/codes, W/column_min, W/column_scale joined into W.
 */
export function assemble(decoded) {
  const out = {};
  const parts = new Map();
  for (const [name, weight] of decoded) {
    const cut = name.lastIndexOf("/");
    const base = name.slice(0, Math.max(cut, 0)), part = name.slice(cut + 1);
    if (base && COLUMN_PARTS.includes(part)) {
      const got = parts.get(base) ?? {};
      got[part] = weight;
      parts.set(base, got);
      if (Object.keys(got).length === COLUMN_PARTS.length) {
        out[base] = join(base, got);
        parts.delete(base);
      }
    } else {
      out[name] = weight;
    }
  }
  for (const [base, got] of parts) {
    const missing = COLUMN_PARTS.filter((p) => !(p in got)).map((p) => `'${base}/${p}'`);
    throw new Error(`weight ${base} is stored per column but the manifest lacks ` +
      `[${missing.sort().join(", ")}]`);
  }
  return out;
}

function join(name, { codes, column_min: min, column_scale: scale }) {
  const c = codes.shape.length ? codes.shape.at(-1) : 1;
  if (min.shape.join() !== String(c) || scale.shape.join() !== String(c)) {
    throw new Error(`weight ${name}: its column_min and column_scale have shapes ` +
      `[${min.shape.join(", ")}] and [${scale.shape.join(", ")}], its codes ${c} columns`);
  }
  const values = new Float32Array(codes.values.length);
  for (let i = 0; i < values.length; i++) {
    values[i] = codes.values[i] * scale.values[i % c] + min.values[i % c];
  }
  return { shape: codes.shape, values };
}

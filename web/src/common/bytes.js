// Byte arrays joined: a weight group's shards read as one (web/src/worker/verify.js),
// an adapted model's shard written from its entries (web/src/adapt/encode.js).

/** The parts back to back in one Uint8Array. */
export function concat(parts) {
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}

// The SHA-256 that config.json lists for each weight shard (converter/folder.py):
// the loader checks a shard by it (web/src/worker/verify.js), an adapted model's
// export writes it (web/src/adapt/export.js).

/** Lower-case hex SHA-256 of bytes (Web Crypto: https pages, localhost and Node 20). */
export async function sha256(bytes) {
  if (!globalThis.crypto?.subtle) {
    throw new Error("this browser cannot check the model's weights: Web Crypto needs " +
      "a secure page (https or localhost)");
  }
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A visitor's MIDI files -> the token songs a model adapts to, as `python -m trainer
// prepare` makes them for that model's codec (trainer/music/corpus.py parse_bytes):
// the file read as trainer/music/midi_io.py's parse_song reads it (files/midifile.js
// readTrainingSong), quantised with the key and meter the file gives (codec.js
// quantiseSong: the key signature where the notes agree with it, else their estimate),
// encoded from BOS to EOS. Every unusable file is listed with its reason and none
// stops the rest. tests/vectors/prepare.json holds this to Python's prepare.
// No DOM: this runs in a Web Worker and in node.

import { readTrainingSong } from "../files/midifile.js";
import { mulberry32 } from "../mirror/sampler.js";
import { reason } from "../common/reason.js";

/** prepare's reason for a file whose notes all fall off the codec's piano. */
export const NO_PIANO_NOTES = "no notes in the piano range";
/** The share of the files held out to measure the adapted model: one in ten, at least one. */
export const HELD_OUT_SHARE = 0.1;

/**
 * One file's song for `codec` (web/src/mirror/codec.js), or throw prepare's reason:
 * {tokens: int ids from BOS to EOS, notes: how many, meta (v2; null for v1), source
 * ("file" | "estimate": where a v2 song's key came from; null for v1)}.
 * @param bytes the file's ArrayBuffer or Uint8Array
 */
export function fileSong(bytes, codec) {
  const raw = readTrainingSong(bytes);
  let notes, meta = null, source = null;
  if (codec.version >= 2) {
    ({ notes, meta, source } = codec.quantiseSong(raw.notes, raw.meters, raw.key));
  } else {
    notes = codec.quantise(raw.notes);
  }
  if (!notes.length) throw new Error(NO_PIANO_NOTES);
  return { tokens: codec.encode(notes, meta), notes: notes.length, meta, source };
}

/**
 * Every file's song, as prepare makes a corpus: {songs: [{name, tokens, notes, meta,
 * source}], skipped: [{name, reason}]}, both in the order of `files`. A file that
 * cannot be used (not MIDI, damaged, drums only, no notes on the piano, an absurd
 * tempo or length) is skipped with its reason; a fault of the reader itself costs
 * that one file too, never the others.
 * @param files [{name, bytes}]
 * @param codec the model's Codec
 * @param onFile optional (done, total, name) after each file, for a progress bar
 */
export function readSongs(files, codec, onFile = null) {
  const songs = [], skipped = [];
  files.forEach(({ name, bytes }, i) => {
    try {
      songs.push({ name, ...fileSong(bytes, codec) });
    } catch (e) {
      skipped.push({ name, reason: reason(e) });
    }
    onFile?.(i + 1, files.length, name);
  });
  return { songs, skipped };
}

/**
 * Split songs ({name, ...}) into {train, heldOut}: round(n / 10) of them held out, at
 * least one, chosen by a shuffle seeded with `seed` over the songs sorted by name, so
 * the same files give the same split in whatever order they came; each part keeps
 * name order. Throws for fewer than two songs: one must be left to learn from.
 */
export function splitSongs(songs, seed = 0) {
  if (songs.length < 2) {
    throw new Error(`${songs.length === 1 ? "only one usable file" : "no usable file"}: ` +
      "adapting needs at least two, one to learn from and one held out to measure it");
  }
  const sorted = songs.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const order = shuffled(sorted.length, mulberry32(seed));
  const held = Math.max(1, Math.round(HELD_OUT_SHARE * songs.length));
  const out = new Set(order.slice(0, held));
  return { train: sorted.filter((_, i) => !out.has(i)),
    heldOut: sorted.filter((_, i) => out.has(i)) };
}

/** 0..n-1 (an Int32Array) in an order drawn from random, a () -> [0, 1) (Fisher-Yates). */
export function shuffled(n, random) {
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

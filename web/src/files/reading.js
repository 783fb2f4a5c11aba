// Reading a MIDI file the visitor brings, on the reader's worker (worker/reader.js):
// the page's thread only sends the bytes (transferred, not copied) and takes back
// the song, cut to the notes it can use: a prime its first 16 (of NOTE_LIMIT, from
// which its key is estimated, where Python's `sample --prime-file` reads all of a
// file's notes: only a file of more notes differs), a melody's top line at most
// Length notes (of four times as many, melodyin.js).

import { siteUrl } from "../common/paths.js";

export const NOTE_LIMIT = 20_000;
let reader = null;
let next = 0;
const waiting = new Map(); // id -> {resolve, reject}

/**
 * readSong (files/midifile.js) of bytes (an ArrayBuffer, transferred), its notes cut to
 * the first `limit` by onset: resolves {song, count} (count: all the file's notes),
 * rejects with readSong's reason.
 */
export function readOffThread(bytes, limit = NOTE_LIMIT) {
  reader ??= start();
  const id = ++next;
  return new Promise((resolve, reject) => {
    waiting.set(id, { resolve, reject });
    reader.postMessage({ id, bytes, limit }, [bytes]);
  });
}

function start() {
  const worker = new Worker(siteUrl("assets/bundle/reader.js"));
  worker.onmessage = ({ data }) => {
    const job = waiting.get(data.id);
    waiting.delete(data.id);
    if (data.error) job?.reject(new Error(data.error));
    else job?.resolve({ song: data.song, count: data.count });
  };
  worker.onerror = (event) => { // the script itself failed: every reading waiting fails
    for (const job of waiting.values()) {
      job.reject(new Error(`the MIDI reader did not start (${event.message ?? "no reason given"})`));
    }
    waiting.clear();
    reader = null;
  };
  return worker;
}

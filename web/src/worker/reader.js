// The MIDI reader's worker: an uploaded file is parsed here (files/midifile.js
// readSong), off the page's thread, so that a file of 100,000 notes cannot freeze
// the page. Only the notes a song can use come back: the first `limit` by onset
// (files/reading.js says how many), with the count of all.

import { firstNotes, readSong } from "../files/midifile.js";
import { reason } from "../common/reason.js";

self.onmessage = ({ data: { id, bytes, limit } }) => {
  try {
    const song = readSong(bytes);
    self.postMessage({ id, count: song.notes.length,
      song: { ...song, notes: firstNotes(song.notes, limit) } });
  } catch (e) {
    self.postMessage({ id, error: reason(e) });
  }
};

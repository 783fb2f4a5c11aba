// A song as ABC notation (abcnotation.com, v2.1), for the sheet-music view
// and the .abc download. A melody is one staff; a polyphonic song a grand
// staff (treble from middle C up, bass below). Each staff is cut into slices
// at every onset, note end and bar line; a slice is a note, chord or rest,
// tied to the next where a note goes on, and split into lengths that a plain
// or dotted note can show. Sharps are written explicitly (the key is unknown
// in codec v1, so the signature is C) and cancelled with naturals in the bar.

import { barSteps, songEnd, songFrame } from "./music.js";

const SPELLING = [["C", ""], ["C", "^"], ["D", ""], ["D", "^"], ["E", ""], ["F", ""],
  ["F", "^"], ["G", ""], ["G", "^"], ["A", ""], ["A", "^"], ["B", ""]];
const BARS_PER_LINE = 4;
const SPLIT_PITCH = 60; // middle C and up on the treble staff

/** ABC text of song {notes, stepsPerBeat, ...} titled title, at bpm. */
export function toAbc(song, { title = "Cadenza song", bpm = 100, mono = false } = {}) {
  const { notes, stepsPerBeat } = song;
  const { meter, meterAssumed, key } = songFrame(song);
  const bar = barSteps(meter, stepsPerBeat);
  const end = Math.max(1, Math.ceil(songEnd(notes) / bar)) * bar;
  const staves = mono ? [notes] : [notes.filter((n) => n.pitch >= SPLIT_PITCH),
    notes.filter((n) => n.pitch < SPLIT_PITCH)];
  const head = ["X:1", `T:${title.replace(/\n/g, " ")}`,
    `% key: ${key ?? "unknown"}; meter ${meterAssumed ? "assumed" : "given"}`,
    `M:${meter.beats}/${meter.unit}`, `L:1/${4 * stepsPerBeat}`, `Q:1/4=${Math.round(bpm)}`];
  const lines = staves.map((staff) => staffBars(staff, bar, end));
  if (mono) {
    return [...head, "K:C", ...chunks(lines[0]).map((l) => `${l.join(" ")} |`)].join("\n") + "\n";
  }
  const body = [];
  chunks(lines[0]).forEach((treble, i) => {
    body.push(`[V:1] ${treble.join(" ")} |`, `[V:2] ${chunks(lines[1])[i].join(" ")} |`);
  });
  return [...head, "%%score {1 2}", "K:C", "V:1 clef=treble", "V:2 clef=bass", ...body]
    .join("\n") + "\n";
}

function chunks(bars) {
  const out = [];
  for (let i = 0; i < bars.length; i += BARS_PER_LINE) out.push(bars.slice(i, i + BARS_PER_LINE));
  return out.map((line) => [line.join(" | ")]);
}

/** ABC of each bar of one staff's notes, from 0 to end (a multiple of bar). */
function staffBars(notes, bar, end) {
  const cuts = new Set([0, end]);
  for (let t = bar; t < end; t += bar) cuts.add(t);
  for (const n of notes) {
    cuts.add(n.start);
    cuts.add(Math.min(end, n.start + n.duration));
  }
  const times = [...cuts].filter((t) => t <= end).sort((a, b) => a - b);
  const bars = [];
  let sharps = new Set(); // letters+octave sharpened so far in this bar
  let current = [];
  for (let i = 0; i + 1 < times.length; i++) {
    const [t0, t1] = [times[i], times[i + 1]];
    const sounding = notes.filter((n) => n.start <= t0 && t0 < n.start + n.duration)
      .sort((a, b) => a.pitch - b.pitch);
    const pieces = lengths(t1 - t0);
    pieces.forEach((len, k) => {
      if (!sounding.length) return current.push(`z${len}`);
      const last = k === pieces.length - 1;
      const names = sounding.map((n) => {
        const tie = !last || n.start + n.duration > t1 ? "-" : "";
        return noteName(n.pitch, sharps) + tie;
      });
      current.push(names.length === 1 ? withLength(names[0], len) : `[${names.join("")}]${len}`);
    });
    if (t1 % bar === 0) {
      bars.push(current.join(" "));
      current = [];
      sharps = new Set();
    }
  }
  return bars;
}

/** "C2-" from "C-" and 2: the length goes before a tie. */
function withLength(name, len) {
  return name.endsWith("-") ? `${name.slice(0, -1)}${len}-` : `${name}${len}`;
}

/** steps as plain or dotted note lengths (powers of two and 1.5 times them), longest first. */
export function lengths(steps) {
  const out = [];
  let left = steps;
  while (left > 0) {
    let best = 1;
    for (let p = 1; p <= left; p *= 2) {
      best = Math.max(best, p);
      if (p * 1.5 <= left && p > 1) best = Math.max(best, p * 1.5);
    }
    out.push(best);
    left -= best;
  }
  return out;
}

/** ABC pitch of a MIDI pitch, with the accidental the bar so far needs. */
function noteName(pitch, sharps) {
  const [letter, sharp] = SPELLING[pitch % 12];
  const octave = Math.floor(pitch / 12) - 1;
  const where = `${letter}${octave}`;
  let accidental = "";
  if (sharp && !sharps.has(where)) {
    accidental = "^";
    sharps.add(where);
  } else if (!sharp && sharps.has(where)) {
    accidental = "=";
    sharps.delete(where);
  }
  const name = octave >= 5 ? letter.toLowerCase() + "'".repeat(octave - 5)
    : letter + ",".repeat(Math.max(0, 4 - octave));
  return accidental + name;
}

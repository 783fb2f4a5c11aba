// A song as ABC notation (abcnotation.com, v2.1), for the sheet-music view
// and the .abc download. A melody is one staff; a polyphonic song a grand
// staff (treble from middle C up, bass below). Each staff is cut into slices
// at every onset, note end and bar line; a slice is a note, chord or rest,
// tied to the next where a note goes on, and split into lengths that a plain
// or dotted note can show.
//
// The bars are the song's (music.js barLines): a codec v2 song's M: and K:
// are its meter and key, with a short first bar for a pickup, [M:...] where
// the meter changes and M:none for a meter without a token of its own; its
// notes are spelled in the key (sharps in sharp keys, flats in flat keys)
// and an accidental is written where the bar so far and the signature differ.
// A codec v1 song is 4/4 in C: sharps written out, cancelled with naturals.
// Notes shorter than a beat are beamed (written without a space between them)
// within a beat, or within a dotted-quarter group in 3/8, 6/8, 9/8 and 12/8.

import { barLines, songEnd, songFrame } from "./music.js";
import { LETTERS, speller } from "./spelling.js";

const MARK = { "-2": "__", "-1": "_", 0: "=", 1: "^", 2: "^^" };
const BARS_PER_LINE = 4;
const SPLIT_PITCH = 60; // middle C and up on the treble staff

/** ABC text of song {notes, stepsPerBeat, meta?, ...} titled title, at bpm. */
export function toAbc(song, { title = "Cadenza song", bpm = 100, mono = false } = {}) {
  const { notes, stepsPerBeat } = song;
  const { meter, meterAssumed, key } = songFrame(song);
  const bars = barLines(song, stepsPerBeat, Math.max(1, songEnd(notes)));
  const spelling = speller(song.meta ? song.meta.key : [0, "major"]);
  const staves = mono ? [notes] : [notes.filter((n) => n.pitch >= SPLIT_PITCH),
    notes.filter((n) => n.pitch < SPLIT_PITCH)];
  const head = ["X:1", `T:${title.replace(/\n/g, " ")}`,
    `% key: ${key ?? "unknown"}; meter ${meterAssumed ? "assumed" : "given"}`,
    `M:${meterField(meter)}`, `L:1/${4 * stepsPerBeat}`, `Q:1/4=${Math.round(bpm)}`];
  const lines = staves.map((staff) => withMeters(staffBars(staff, bars, spelling, stepsPerBeat),
    bars, meter));
  const keyField = `K:${spelling.name}`;
  if (mono) {
    return [...head, keyField, ...chunks(lines[0]).map((l) => `${l.join(" ")} |`)].join("\n") +
      "\n";
  }
  const body = [];
  chunks(lines[0]).forEach((treble, i) => {
    body.push(`[V:1] ${treble.join(" ")} |`, `[V:2] ${chunks(lines[1])[i].join(" ")} |`);
  });
  return [...head, "%%score {1 2}", keyField, "V:1 clef=treble", "V:2 clef=bass", ...body]
    .join("\n") + "\n";
}

const meterField = (meter) => (meter ? `${meter.beats}/${meter.unit}` : "none");

/** Each bar's ABC, with an inline [M:...] where the meter differs from the bar before. */
function withMeters(texts, bars, first) {
  let current = meterField(first);
  return texts.map((text, i) => {
    const field = meterField(bars[i].meter);
    const change = field !== current ? `[M:${field}] ` : "";
    current = field;
    return change + text;
  });
}

function chunks(bars) {
  const out = [];
  for (let i = 0; i < bars.length; i += BARS_PER_LINE) out.push(bars.slice(i, i + BARS_PER_LINE));
  return out.map((line) => [line.join(" | ")]);
}

/** ABC of each bar of one staff's notes; bars [{start, end, meter}] cover the song. */
function staffBars(notes, bars, spelling, stepsPerBeat) {
  const end = bars.at(-1).end;
  const cuts = new Set([0, end]);
  const barEnds = new Set(bars.map((b) => b.end));
  for (const bar of bars) cuts.add(bar.start);
  for (const n of notes) {
    cuts.add(n.start);
    cuts.add(Math.min(end, n.start + n.duration));
  }
  const times = [...cuts].filter((t) => t <= end).sort((a, b) => a - b);
  const out = [];
  let written = new Map(); // letter+octave -> accidental in force in this bar
  let current = []; // {text, at, len, rest} of the bar so far
  let bar = 0;
  for (let i = 0; i + 1 < times.length; i++) {
    const [t0, t1] = [times[i], times[i + 1]];
    const sounding = notes.filter((n) => n.start <= t0 && t0 < n.start + n.duration)
      .sort((a, b) => a.pitch - b.pitch);
    const pieces = lengths(t1 - t0);
    let at = t0;
    pieces.forEach((len, k) => {
      if (!sounding.length) {
        current.push({ text: `z${len}`, at, len, rest: true });
      } else {
        const last = k === pieces.length - 1;
        const names = sounding.map((n) => {
          const tie = !last || n.start + n.duration > t1 ? "-" : "";
          return noteName(n.pitch, spelling, written) + tie;
        });
        current.push({ at, len, rest: false, text: names.length === 1
          ? withLength(names[0], len) : `[${names.join("")}]${len}` });
      }
      at += len;
    });
    if (barEnds.has(t1)) {
      out.push(beamed(current, bars[bar], stepsPerBeat));
      current = [];
      written = new Map();
      bar += 1;
    }
  }
  return out;
}

/**
 * A bar's pieces as ABC: notes shorter than a beat are beamed (no space between
 * them) within their group, a beat or a dotted quarter in 3/8, 6/8, 9/8 and
 * 12/8, counted back from the bar's end so that a pickup's groups end on the
 * downbeat; rests and longer notes stand apart.
 */
function beamed(pieces, bar, stepsPerBeat) {
  const compound = bar.meter?.unit === 8 && bar.meter.beats % 3 === 0;
  const group = compound ? 1.5 * stepsPerBeat : stepsPerBeat;
  const groupOf = (p) => Math.floor((bar.end - 1 - p.at) / group);
  const short = (p) => !p.rest && p.len < stepsPerBeat;
  return pieces.map((p, i) => {
    const q = pieces[i - 1];
    const together = q && short(p) && short(q) && groupOf(p) === groupOf(q);
    return (i === 0 || together ? "" : " ") + p.text;
  }).join("");
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

/** ABC pitch of a MIDI pitch, with the accidental the bar so far (written) needs. */
function noteName(pitch, spelling, written) {
  const { letter, accidental, octave } = spelling.spell(pitch);
  const where = `${letter}${octave}`;
  const now = written.get(where) ?? spelling.signature.get(letter);
  const mark = now === accidental ? "" : MARK[accidental];
  written.set(where, accidental);
  const name = octave >= 5 ? letter.toLowerCase() + "'".repeat(octave - 5)
    : letter + ",".repeat(Math.max(0, 4 - octave));
  return mark + name;
}

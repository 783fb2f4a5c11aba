// How a key spells pitches, for the sheet music (abc.js) and the text
// alternative (music.js): the key's scale with its letters, other pitch
// classes as naturals where they can be, else sharps or flats by the key.

import { spelledKey } from "../mirror/keys.js";

export const LETTERS = ["C", "D", "E", "F", "G", "A", "B"];
const NATURAL = [0, 2, 4, 5, 7, 9, 11]; // pitch class of each letter
const SHARPS = "FCGDAEB"; // the order a signature adds them; flats the reverse
const SIGNS = { "-2": "𝄫", "-1": "♭", 0: "", 1: "♯", 2: "𝄪" };

/**
 * How a key spells notes: {name (the K: field), signature (letter ->
 * accidental), spell(pitch) -> {letter, accidental, octave}}: the key's
 * scale as written (in minor also its raised seventh), other pitch classes
 * as naturals where they can be, else sharpened (sharp keys, C) or
 * flattened (flat keys).
 */
export function speller(key) {
  const { letter, accidental, fifths } = spelledKey(key);
  const signature = new Map(LETTERS.map((l) => [l, 0]));
  const marked = fifths > 0 ? SHARPS.slice(0, fifths) : [...SHARPS].reverse().join("")
    .slice(0, -fifths);
  for (const l of marked) signature.set(l, Math.sign(fifths));
  const table = new Map(); // pitch class -> [letter index, accidental]
  const first = LETTERS.indexOf(letter);
  for (let d = 0; d < 7; d++) { // the scale, from the tonic's letter up
    const l = (first + d) % 7;
    table.set((NATURAL[l] + signature.get(LETTERS[l]) + 12) % 12, [l, signature.get(LETTERS[l])]);
  }
  if (key[1] === "minor") { // the raised seventh, the leading tone: C♯ in D minor
    const seventh = (first + 6) % 7;
    table.set((key[0] + 11) % 12, [seventh, signature.get(LETTERS[seventh]) + 1]);
  }
  for (let pc = 0; pc < 12; pc++) {
    if (table.has(pc)) continue;
    const natural = NATURAL.indexOf(pc);
    if (natural >= 0) table.set(pc, [natural, 0]);
    else if (fifths < 0) table.set(pc, [NATURAL.indexOf(pc + 1), -1]);
    else table.set(pc, [NATURAL.indexOf(pc - 1), 1]);
  }
  const mode = key[1] === "minor" ? "m" : "";
  const name = `${letter}${accidental > 0 ? "#" : accidental < 0 ? "b" : ""}${mode}`;
  const spell = (pitch) => {
    const [l, accidental] = table.get(pitch % 12);
    // the octave of the written letter: C♭5 is B4, B♯3 is C4
    return { letter: LETTERS[l], accidental, octave: Math.floor((pitch - accidental) / 12) - 1 };
  };
  return { name, signature, spell };
}

/** pitch -> its scientific name as key [tonic, mode] spells it: 70 in D minor -> "B♭4". */
export function pitchNamer(key) {
  const { spell } = speller(key);
  return (pitch) => {
    const { letter, accidental, octave } = spell(pitch);
    return `${letter}${SIGNS[accidental]}${octave}`;
  };
}

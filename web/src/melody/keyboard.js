// Playing notes: the computer keyboard's key map and the on-screen piano.
//
// The key map is the usual two-row piano layout, by physical key (event.code,
// so it is the same place on AZERTY or QWERTZ): the home row A S D F G H J K
// L ; ' is the white keys from C, the row above (W E, T Y U, O P) the black
// keys; Z and X shift the octave down and up. Keys typed into a text or
// number field, a menu or with Ctrl, Alt or Cmd held are never taken.
// site/compose.md documents the map; tests/js/melody.test.mjs pins it.

import { pitchName } from "../notation/music.js";

/** event.code -> semitones above the octave's C. */
export const KEY_MAP = {
  KeyA: 0, KeyW: 1, KeyS: 2, KeyE: 3, KeyD: 4, KeyF: 5, KeyT: 6, KeyG: 7, KeyY: 8,
  KeyH: 9, KeyU: 10, KeyJ: 11, KeyK: 12, KeyO: 13, KeyL: 14, KeyP: 15, Semicolon: 16,
  Quote: 17,
};
export const OCTAVE_DOWN = "KeyZ";
export const OCTAVE_UP = "KeyX";
export const LOWEST_C = 24; // C1: the on-screen keyboard spans two octaves up from its C...
export const HIGHEST_C = 84; // ...C6, so its top C is C8 (108), the piano's top
export const SPAN = 24; // semitones from the lowest key of the on-screen keyboard to its top C
const BLACK = new Set([1, 3, 6, 8, 10]);
const NOT_TYPED = new Set(["checkbox", "radio", "button", "submit", "reset", "range", "color",
  "file", "image"]);
const LETTERS = Object.fromEntries(Object.entries(KEY_MAP).map(([code, offset]) =>
  [offset, code === "Semicolon" ? ";" : code === "Quote" ? "'" : code.slice(3)]));

/** Whether keys pressed in el (a focused element) are typed into it: a text field or a menu. */
export function isTyping(el) {
  if (!el || !el.tagName) return false;
  if (el.isContentEditable) return true;
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select") return true;
  return tag === "input" && !NOT_TYPED.has((el.type || "text").toLowerCase());
}

/** The C an octave shift leads to from c (+1 up, -1 down), kept in LOWEST_C..HIGHEST_C. */
export function shiftOctave(c, by) {
  return Math.min(HIGHEST_C, Math.max(LOWEST_C, c + 12 * by));
}

/**
 * What a key event means on a keyboard whose lowest C is `c`: {pitch} for a
 * mapped key, {octave: +1 | -1} for Z / X, or null (not ours: typing, a
 * modifier held, another key).
 */
export function keyAction(event, c) {
  if (event.ctrlKey || event.altKey || event.metaKey || isTyping(event.target)) return null;
  if (event.code in KEY_MAP) return { pitch: c + KEY_MAP[event.code] };
  if (event.code === OCTAVE_DOWN) return { octave: -1 };
  if (event.code === OCTAVE_UP) return { octave: 1 };
  return null;
}

/**
 * Listen for the key map on target (the document) while mounted: noteOn(pitch)
 * and noteOff(pitch) per key (a held key's repeats ignored), octave(by) for
 * Z / X; getC() is the lowest C now. A key taken is kept from the theme's own
 * shortcuts (F and S open search, P and N turn the page). Returns a function
 * that stops listening and ends the notes still held.
 */
export function bindComputerKeys(target, { getC, noteOn, noteOff, octave }) {
  const held = new Map(); // event.code -> pitch sounding
  const down = (event) => {
    const action = keyAction(event, getC());
    if (!action) return;
    event.preventDefault();
    event.stopPropagation();
    if (event.repeat || held.has(event.code)) return;
    if (action.octave) return octave(action.octave);
    held.set(event.code, action.pitch);
    noteOn(action.pitch);
  };
  const up = (event) => {
    if (!held.has(event.code)) return;
    const pitch = held.get(event.code);
    held.delete(event.code);
    noteOff(pitch);
  };
  const release = () => {
    for (const pitch of held.values()) noteOff(pitch);
    held.clear();
  };
  target.addEventListener("keydown", down);
  target.addEventListener("keyup", up);
  window.addEventListener("blur", release); // a key let go in another window
  return () => {
    target.removeEventListener("keydown", down);
    target.removeEventListener("keyup", up);
    window.removeEventListener("blur", release);
    release();
  };
}

/**
 * The on-screen piano in box: two octaves and a top C from c, one button per
 * key (one tab stop; the arrow keys move between keys, Space or Enter plays
 * one), played by mouse, pen or touch; noteOn(pitch) / noteOff(pitch).
 * Returns {show(c), lit(pitch, on), remove()}.
 */
export function pianoKeys(box, { noteOn, noteOff }) {
  const keys = [];
  let focus = 0;
  const held = new Map(); // pointerId or "key" -> button
  const press = (id, button) => {
    if (held.has(id)) return;
    held.set(id, button);
    noteOn(Number(button.dataset.pitch));
  };
  const release = (id) => {
    const button = held.get(id);
    if (!button) return;
    held.delete(id);
    noteOff(Number(button.dataset.pitch));
  };
  for (let i = 0; i <= SPAN; i++) {
    const button = Object.assign(document.createElement("button"), { type: "button",
      tabIndex: i === 0 ? 0 : -1 });
    button.className = `cz-key ${BLACK.has(i % 12) ? "cz-key--black" : "cz-key--white"}`;
    button.addEventListener("pointerdown", (e) => {
      if (e.button !== 0) return;
      e.preventDefault(); // no text selection, no focus ring on a tap
      press(e.pointerId, button);
    });
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) {
      button.addEventListener(type, (e) => release(e.pointerId));
    }
    button.addEventListener("contextmenu", (e) => e.preventDefault()); // a long press on a phone
    button.addEventListener("keydown", (e) => {
      if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
        e.preventDefault();
        focus = Math.min(SPAN, Math.max(0, i + (e.key === "ArrowLeft" ? -1 : 1)));
        keys.forEach((k, j) => { k.tabIndex = j === focus ? 0 : -1; });
        keys[focus].focus();
      } else if ((e.key === " " || e.key === "Enter") && !e.repeat) {
        e.preventDefault();
        press("key", button);
      }
    });
    button.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") release("key");
    });
    button.addEventListener("blur", () => release("key"));
    keys.push(button);
  }
  box.replaceChildren(...keys);
  const whites = keys.filter((k) => k.classList.contains("cz-key--white")).length;
  box.style.setProperty("--cz-whites", String(whites));
  const show = (c) => {
    let white = 0;
    keys.forEach((button, i) => {
      const pitch = c + i;
      const black = BLACK.has(i % 12);
      button.dataset.pitch = String(pitch);
      button.setAttribute("aria-label", pitchName(pitch));
      button.style.setProperty("--cz-at", String(black ? white : white++));
      // drawn by CSS (::before, ::after), so that the name is the pitch's alone
      button.dataset.letter = LETTERS[i] ?? "";
      button.dataset.name = i % 12 === 0 ? pitchName(pitch) : "";
    });
  };
  return {
    show,
    lit(pitch, on) {
      const button = keys.find((k) => Number(k.dataset.pitch) === pitch);
      if (button) button.dataset.down = on ? "true" : "";
    },
    remove() {
      for (const id of [...held.keys()]) release(id);
      box.replaceChildren();
    },
  };
}

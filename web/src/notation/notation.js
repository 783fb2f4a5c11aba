// Sheet music with abcjs (npm, bundled as its own chunk and imported only when
// the sheet-music view opens): a melody on one staff, a polyphonic song on a
// grand staff, both from the ABC text of abc.js.

import abcjs from "abcjs";

/** Draw abc into box (an element), wrapping lines to its width. */
export function render(box, abc, { mono }) {
  box.replaceChildren();
  // the title (T:) stays in the .abc file; on the page it would overflow a phone's width
  const shown = abc.replace(/^T:.*\n/m, "");
  const [tune] = abcjs.renderAbc(box, shown, { responsive: "resize", add_classes: true,
    paddingleft: 0, paddingright: 0, staffwidth: Math.max(300, box.clientWidth - 20),
    wrap: { minSpacing: 1.5, maxSpacing: 2.7, preferredMeasuresPerLine: mono ? 4 : 3 } });
  const svg = box.querySelector("svg");
  svg?.setAttribute("role", "img");
  svg?.setAttribute("aria-label", `Sheet music: ${mono ? "the melody" : "the song on a grand " +
    "staff"}, ${tune?.lines?.length ?? 0} systems. The song as text is in the section above.`);
  return tune;
}

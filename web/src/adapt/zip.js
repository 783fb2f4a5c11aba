// An export folder as the .zip a visitor downloads, made with fflate (no DOM, no tfjs:
// the page imports this alone). Unzipped, it is a folder that `python -m trainer sample
// --run-dir` and the converter's reader accept (tests/test_adapted_export.py).

import { zipSync } from "fflate";

/**
 * The .zip of an export folder's files {name: Uint8Array}, inside a folder named
 * `folder`; every entry dated `date` (the model's making: the same model zips to
 * the same bytes).
 */
export function zipExport(files, folder, date) {
  return zipSync({ [folder]: files }, { level: 6, mtime: date });
}

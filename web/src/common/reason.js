// One wording for whatever was thrown: an Error's message, else its text.

/** The readable reason of a thrown value (never "undefined"). */
export function reason(e) {
  if (e instanceof Error && e.message) return e.message;
  if (typeof e === "string" && e) return e;
  if (e?.message) return String(e.message);
  if (e?.type) return `${e.type} event`; // e.g. a failed fetch's ErrorEvent
  return "no reason given";
}

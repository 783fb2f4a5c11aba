"""The model card's harmonizing section, from ``harmony.json`` in the export folder.

``python -m trainer evaluate-harmony`` writes it (``trainer/evaluation/harmonizing.py``):
the top line of each test song harmonized by the model, measured beside the
song's own harmony at the same melody onsets. A model without the file (a
melody model, or one never measured) has no such section.
"""

from __future__ import annotations

from cadenza_models import number, table

ROWS = (  # (figure, what it is)
    ("voices_per_onset", "sounding voices per melody onset (the melody's included)"),
    ("outer_parallels_per_100", "parallel fifths and octaves between melody and bass, "
                                "per 100 onsets"),
    ("melody_on_top", "share of melody onsets with the melody on top"),
    ("added_notes_per_onset", "added notes per melody onset"),
    ("added_between_onsets", "share of added notes that start between melody onsets"),
    ("added_scale_consistency", "share of added notes in the song's key's scale (mean over "
                                "songs)"),
    ("chordal_share", "share of onsets (2 or more notes sounding) that are a triad or a "
                      "seventh chord"),
    ("seconds", "share of onsets with adjacent voices a 2nd apart"),
    ("onset_pair_parallels_per_100", "parallel fifths and octaves between the lowest and "
                                     "highest voice, per 100 pairs of onsets"),
)
CHECKS = {"voices_per_onset": "sounding voices per melody onset",
          "melody_on_top": "melody on top at every onset",
          "top_line_is_melody": "top line equal to the melody, songs",
          "fallbacks": "fallback steps (the mask and the grammar shared no token)"}


def section(name: str, harmony: dict | None) -> str:
    """``### Harmonizing with <name>``, or nothing without a harmony.json."""
    if not harmony:
        return ""
    ours, human, s = harmony["ours"], harmony["human"], harmony["sampling"]
    intro = (f"`python -m trainer evaluate-harmony` gave this model the top line of each of "
             f"the {ours['songs']} test songs, in the song's own key and meter, to harmonize "
             f"(T = {s['temperature']:g}, top-p {s['top_p']:g}): the melody stays the top "
             "voice, the model writes beneath it. Beside it, the song's own harmony of the "
             f"same line (for the chorales, Bach's), measured at the same "
             f"{number(ours['onsets'])} melody onsets.")
    rows = [[label, number(ours.get(key)), number(human.get(key))] for key, label in ROWS]
    speed = (f"Top line equal to the melody in {ours['top_line_is_melody']} of "
             f"{ours['songs']} songs; {ours['fallbacks']} fallback steps; "
             f"{ours['seconds_per_song']:.2f} s per song in Python (at most "
             f"{ours['max_seconds']:.2f} s).")
    checks = [[CHECKS.get(k, k), number(c["value"]),
               f"at least {c['at_least']:g}" if "at_least" in c else f"= {c['equals']:g}",
               "pass" if c["ok"] else "**fail**"] for k, c in harmony["checks"].items()]
    parts = [f"### Harmonizing with {name}", intro,
             table(["figure", "this model", "the songs' own"], rows), speed,
             table(["check", "value", "target", "result"], checks)]
    if harmony.get("command"):
        parts.append(f"To measure it again:\n\n```sh\n{harmony['command']}\n```")
    return "\n\n".join(parts)

"""How names from the file system appear in what Cadenza prints.

A file name may hold bytes that are not UTF-8 (Python keeps them as
surrogates, which a UTF-8 stream refuses) and characters a terminal acts on
(escape sequences, carriage returns, bidi overrides). :func:`shown` turns
either into visible backslash escapes, so printing a name can neither crash
nor repaint the user's terminal; a plain name is returned as it is.
"""

from __future__ import annotations

import os
import unicodedata

_HIDDEN = ("Cc", "Cf", "Zl", "Zp", "Cs")  # controls, format (bidi), separators, surrogates


def shown(name) -> str:
    """``name`` (a str or path) with undecodable bytes and control characters escaped."""
    text = os.fspath(name)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not any(unicodedata.category(ch) in _HIDDEN for ch in text):
        return text
    try:
        text = os.fsencode(text).decode("utf-8", "backslashreplace")  # stray bytes -> \xNN
    except UnicodeEncodeError:  # a surrogate that stands for no byte
        text = text.encode("utf-8", "backslashreplace").decode("ascii")
    return "".join(_escape(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(
        ch, f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")

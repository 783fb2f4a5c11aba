"""The one exception type that reaches the user.

Anything raised as ``CadenzaError`` is printed by ``__main__`` as a single line
``error: <message>`` and the process exits with status 2. Its message must make
sense on its own: name the file, flag or folder at fault and what to do.
An ``OSError`` nobody anticipated (a full disk, a read-only folder) becomes
one too, through :func:`from_os_error`.

Every settings or data file the CLI reads (JSON: a run's or export's files,
``--split``, ``--previous``) goes through :func:`read_text`, which refuses a
FIFO, a device or a huge file with one line before reading it.

How names from the file system appear in what Cadenza prints (:func:`shown`):
A file name may hold bytes that are not UTF-8 (Python keeps them as
surrogates, which a UTF-8 stream refuses) and characters a terminal acts on
(escape sequences, carriage returns, bidi overrides). :func:`shown` turns
either into visible backslash escapes, so printing a name can neither crash
nor repaint the user's terminal; a plain name is returned as it is.
"""

from __future__ import annotations

import errno
import os
import re
import stat
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


class CadenzaError(Exception):
    """A user-facing failure: bad flag, bad folder, unusable data."""


class ConfigError(CadenzaError):
    """A setting is out of range or inconsistent with another setting."""


def disk_full(e: BaseException) -> bool:
    """Whether ``e`` (or what it wraps) is a full disk or an exceeded quota."""
    while e is not None:
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(e) or "errno = 28" in str(e):  # h5py's wording
            return True
        e = e.__cause__ or e.__context__
    return False


def from_os_error(e: Exception, what: str = "") -> CadenzaError:
    """One line for an I/O failure (an ``OSError``, or a library's error that wraps a
    full disk): the file, the reason, and for a full disk what to do."""
    text = str(e).strip()
    named = re.search(r"((?:/[^\s;:,'/]+){2,})", text)  # libraries name the file in their text
    where = shown(e.filename) if getattr(e, "filename", None) \
        else shown(named[1]) if named else what
    reason = getattr(e, "strerror", None) or (text.splitlines()[0] if text else type(e).__name__)
    if disk_full(e):
        return CadenzaError(f"no space left on the device writing {where or 'a file'}; free some "
                            "space and run the command again (a run continues with --resume)")
    return CadenzaError(f"{where}: {reason}" if where else reason)


MAX_TEXT_BYTES = 64 * 1024 * 1024  # the largest JSON file read: a run's or export's are KB


def kind(mode: int) -> str:
    """What a ``stat`` mode that is not a regular file's names: "a FIFO", "a folder", ..."""
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode)
            else "a folder" if stat.S_ISDIR(mode) else "not a file")


class Unreadable(Exception):
    """A file :func:`read_checked` refused unread: ``str(e)`` says what it is ("not a
    regular file (a FIFO)"); ``size`` is its byte count where it is too large, else None."""

    def __init__(self, reason: str, size: int | None = None):
        super().__init__(reason)
        self.size = size


def read_checked(path, limit: int) -> bytes:
    """The bytes of ``path``, checked before they are read: :class:`Unreadable` for
    something that is not a regular file (a FIFO or a device would block, or never end)
    or holds more than ``limit`` bytes; OSError where it cannot be read (a missing file
    among them). The MIDI reader and :func:`read_text` give it their own words."""
    mode = os.stat(path).st_mode  # follows a link, as reading does
    if not stat.S_ISREG(mode):
        raise Unreadable(f"not a regular file ({kind(mode)})")
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1)  # it may have grown since
    if max(size, len(data)) > limit:
        raise Unreadable(f"more than {limit:,} bytes", max(size, len(data)))
    return data


def read_text(path, flag: str = "", limit: int = MAX_TEXT_BYTES) -> str:
    """The text of a file the CLI reads, checked before it is read: CadenzaError naming it
    (after ``flag``, the option that named it, if any) for something that is not a regular
    file or holds more than ``limit`` bytes (:func:`read_checked`); OSError where it
    cannot be read, UnicodeDecodeError (a ValueError) for text that is not UTF-8."""
    named = f"{flag} {shown(path)}" if flag else shown(path)
    try:
        return read_checked(path, limit).decode("utf-8")
    except Unreadable as e:
        if e.size is None:
            raise CadenzaError(f"{named} is {e}") from None
        raise CadenzaError(f"{named} holds more than {limit:,} bytes: not a file Cadenza "
                           "wrote") from None

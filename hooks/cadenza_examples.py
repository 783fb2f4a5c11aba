"""The example songs: ``site/examples/index.json`` rendered as the Examples page.

The index (written by ``scripts/make_examples.py``, see converter/examples.py)
has this shape; paths are relative to ``site/examples/``, and every key but
title, model and midi is optional::

    {"examples": [{"title": "chorales · T=1 · seed 7", "model": "chorales",
                   "temperature": 1.0, "top_p": 0.95, "seed": 7, "tempo": 84.0,
                   "seconds": 41.5, "midi": "chorales/x.mid",
                   "audio": "chorales/x.mp3", "image": "chorales/x.png"}]}

An entry naming a missing file is dropped with a warning. Without an index
the page says so, and the build still writes an empty ``examples/index.json``
so that the Compose page's example menu reads the same file either way.
"""

from __future__ import annotations

import json
import logging
from html import escape
from pathlib import Path

REQUIRED = ("title", "model", "midi")
FILES = ("midi", "audio", "image")
log = logging.getLogger("mkdocs.hooks.content")


def load(examples_dir: Path) -> list[dict] | None:
    """The usable entries of examples_dir/index.json, or None when there is no index."""
    path = examples_dir / "index.json"
    if not path.exists():
        return None
    try:
        entries = json.loads(path.read_text())["examples"]
    except (ValueError, KeyError, TypeError) as e:
        log.warning(f"{path} is not an examples index ({e!r}); no examples shown")
        return []
    usable = []
    for entry in entries:
        missing = [k for k in REQUIRED if not entry.get(k)]
        missing += [entry[k] for k in FILES
                    if entry.get(k) and not (examples_dir / entry[k]).is_file()]
        if missing:
            log.warning(f"{path}: example {entry.get('title')!r} lacks "
                        f"{', '.join(missing)}; skipped")
        else:
            usable.append(entry)
    return usable


def figure(entry: dict, base: str) -> str:
    """HTML of one example; base is the examples folder's URL relative to the page."""
    def url(key):
        return escape(f"{base}{entry[key]}", quote=True)

    shown = {"temperature": "temperature {:g}", "top_p": "top-p {:g}", "seed": "seed {}",
             "tempo": "{:g} BPM", "seconds": "{:g} s"}
    settings = ", ".join(f.format(entry[k]) for k, f in shown.items() if entry.get(k) is not None)
    parts = ['<figure class="cz-example">',
             f"<figcaption><strong>{escape(entry['title'])}</strong> · model "
             f"<code>{escape(entry['model'])}</code>{' · ' + settings if settings else ''}"
             f"</figcaption>"]
    if entry.get("audio"):
        parts.append(f'<audio controls preload="none" src="{url("audio")}"></audio>')
    if entry.get("image"):
        parts.append(f'<img src="{url("image")}" alt="piano roll of {escape(entry["title"])}" '
                     f'loading="lazy">')
    parts.append(f'<a href="{url("midi")}" download>Download .mid</a></figure>')
    return "\n".join(parts)


def page(entries: list[dict] | None, base: str) -> str:
    if entries is None:
        return ("!!! note \"No examples yet\"\n    This build ships no `examples/index.json`, "
                "so there is nothing to list. [Compose](compose.md) a song instead.")
    if not entries:
        return "_The examples index lists no usable example._"
    return "\n\n".join(figure(e, base) for e in entries)

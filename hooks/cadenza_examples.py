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
import struct
from html import escape
from pathlib import Path
from urllib.parse import urlencode

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
            if entry.get("image"):
                entry = {**entry, **png_size(examples_dir / entry["image"])}
            usable.append(entry)
    return usable


def png_size(path: Path) -> dict:
    """{"width", "height"} of a PNG file (its IHDR chunk), or {} for anything else."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return {}
    width, height = struct.unpack(">II", head[16:24])
    return {"width": width, "height": height}


# The Compose page's share-link keys (web/src/page/settings.js HASH_KEYS) for an entry's settings.
LINK_KEYS = (("model", "model"), ("temperature", "t"), ("top_p", "p"), ("notes", "n"),
             ("tempo", "bpm"), ("seed", "seed"), ("key", "key"), ("meter", "meter"))


def compose_link(entry: dict, compose: str) -> str | None:
    """The Compose page's link that composes with this example's settings (needs a seed)."""
    if entry.get("seed") is None:
        return None
    params = {key: (f"{entry[k]:g}" if isinstance(entry[k], float) else entry[k])
              for k, key in LINK_KEYS if entry.get(k) is not None}
    return f"{compose}#{urlencode(params)}"


def mentioned(entry: dict, key: str) -> bool:
    """Whether the title already says this setting (so the caption need not repeat it)."""
    title, value = entry["title"], entry.get(key)
    if key == "model":
        return value in title
    if key == "temperature":
        return f"T={value:g}" in title
    return key == "seed" and f"seed {value}" in title


def figure(entry: dict, base: str, compose: str | None = None) -> str:
    """HTML of one example; base is the examples folder's URL relative to the page,
    compose the Compose page's (an "Open in Compose" link, when given)."""
    def url(key):
        return escape(f"{base}{entry[key]}", quote=True)

    shown = {"model": "model {}", "temperature": "temperature {:g}", "top_p": "top-p {:g}",
             "seed": "seed {}", "tempo": "{:g} BPM", "seconds": "{:g} s"}
    settings = ", ".join(escape(f.format(entry[k])) for k, f in shown.items()
                         if entry.get(k) is not None and not mentioned(entry, k))
    parts = ['<figure class="cz-example">',
             f"<figcaption><strong>{escape(entry['title'])}</strong>"
             f"{' · ' + settings if settings else ''}</figcaption>"]
    if entry.get("audio"):
        parts.append(f'<audio controls preload="none" src="{url("audio")}" '
                     f'aria-label="{escape(entry["title"], quote=True)}"></audio>')
    if entry.get("image"):
        size = (f' width="{entry["width"]}" height="{entry["height"]}"'
                if entry.get("width") else "")
        parts.append(f'<img src="{url("image")}" alt="piano roll"{size} loading="lazy">')
    links = [f'<a href="{url("midi")}" download>Download .mid</a>']
    if compose and (link := compose_link(entry, compose)):
        links.append(f'<a href="{escape(link, quote=True)}">Open in Compose</a>')
    parts.append(f'<p class="cz-example-links">{" · ".join(links)}</p></figure>')
    return "\n".join(parts)


def page(entries: list[dict] | None, base: str, compose: str | None = None) -> str:
    if entries is None:
        return ("!!! note \"No examples yet\"\n    This build ships no `examples/index.json`, "
                "so there is nothing to list. [Compose](compose.md) a song instead.")
    if not entries:
        return "_The examples index lists no usable example._"
    return "\n\n".join(figure(e, base, compose) for e in entries)

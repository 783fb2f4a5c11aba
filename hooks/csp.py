"""mkdocs hook: a Content-Security-Policy on every page, as defence in depth.

After the build, each HTML page gets a ``<meta http-equiv="Content-Security-Policy">``
first in its ``<head>`` (a static site sets no headers; GitHub Pages cannot):

* scripts from the site itself, and the theme's inline scripts by their SHA-256:
  the union over every page, since instant navigation runs a later page's inline
  scripts under the first page's policy; ``'wasm-unsafe-eval'`` for the model's
  WebAssembly backend;
* workers from the site and ``blob:`` (Tone.js runs its clock in one);
* ``connect-src 'self'``, ``object-src 'none'``, ``base-uri 'self'``.

Styles, images and media are left to the browser's defaults: the theme sets
inline styles, and sheet music and audio are ``blob:`` and ``data:`` URLs.
tests/test_page_trust.py composes, plays, shows and downloads under it and
checks that no violation is reported.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

INLINE = re.compile(r"<script(?![^>]*\bsrc=)(?P<attrs>[^>]*)>(?P<body>.*?)</script>", re.S)
DATA = re.compile(r'type="application/(?:ld\+)?json"')  # data, not run: CSP does not apply
META = '<meta http-equiv="Content-Security-Policy" content="{}">'


def inline_hashes(html: str) -> set[str]:
    """``'sha256-…'`` of each inline script that a browser would run."""
    return {"'sha256-" + base64.b64encode(hashlib.sha256(m["body"].encode()).digest()).decode()
            + "'" for m in INLINE.finditer(html) if not DATA.search(m["attrs"])}


def policy(hashes: set[str]) -> str:
    return "; ".join([
        "script-src 'self' 'wasm-unsafe-eval' " + " ".join(sorted(hashes)),
        "worker-src 'self' blob:", "connect-src 'self'", "object-src 'none'",
        "base-uri 'self'"])


def on_post_build(config, **kwargs) -> None:
    pages = sorted(Path(config["site_dir"]).rglob("*.html"))
    texts = {p: p.read_text(encoding="utf-8") for p in pages}
    meta = META.format(policy(set().union(*map(inline_hashes, texts.values()))))
    for path, html in texts.items():
        if "<head>" in html:
            path.write_text(html.replace("<head>", "<head>" + meta, 1), encoding="utf-8")

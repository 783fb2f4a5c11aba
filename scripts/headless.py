"""Headless Chromium and a silent local web server, for the browser tests and bench.

``CHROMIUM`` is /usr/bin/chromium unless ``$CADENZA_CHROMIUM`` names another;
``FLAGS`` are the flags it is launched with here (no GPU, no network of its own).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

CHROMIUM = Path(os.environ.get("CADENZA_CHROMIUM", "/usr/bin/chromium"))
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class _Silent(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``folder`` on 127.0.0.1 at a free port from a daemon thread.

    Returns the server (``shutdown()`` stops it) and its base URL, ending in "/".
    """
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Silent, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"

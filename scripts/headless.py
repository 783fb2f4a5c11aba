"""Headless Chromium and a silent local web server, for the browser tests and bench.

``find_browser()`` returns the Chromium or Chrome executable to drive, the first
that exists of:

1. ``$CADENZA_CHROMIUM`` (an error when it names nothing runnable);
2. ``chromium``, ``chromium-browser``, ``google-chrome``, ``google-chrome-stable``
   on PATH, skipping Ubuntu's snap stubs (they do not run in containers);
3. the macOS Chrome or Chromium app bundle (in /Applications or ~/Applications);
4. the Chromium of ``python -m playwright install chromium``, if installed.

With none it raises :class:`BrowserNotFound`, whose message names what to
install on Debian, Ubuntu and macOS. ``FLAGS`` are the flags it is launched
with here (no GPU, no network of its own). ``python scripts/headless.py``
prints the browser found, or the message and exits 2.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

ENV = "CADENZA_CHROMIUM"
NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
APP_BUNDLES = ("Google Chrome.app/Contents/MacOS/Google Chrome",
               "Chromium.app/Contents/MacOS/Chromium")
APP_FOLDERS = (Path("/Applications"), Path.home() / "Applications")
PLAYWRIGHT_INSTALL = ".venv/bin/python -m playwright install"
INSTALL_HINT = (
    f"no Chromium or Chrome found (looked at ${ENV}, {', '.join(NAMES)} on PATH, the macOS "
    f"app bundles and Playwright's browsers); install one: Debian `sudo apt-get install "
    f"chromium`; Ubuntu `{PLAYWRIGHT_INSTALL} --with-deps chromium` (apt's chromium there is a "
    f"snap stub that does not run in containers); macOS `{PLAYWRIGHT_INSTALL} chromium` or "
    f"Google Chrome; or run scripts/system-deps.sh, or set ${ENV} to a Chromium or Chrome")
STUB_BYTES = 64 * 1024  # a launcher script is smaller than this; a browser is not
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class BrowserNotFound(RuntimeError):
    """No Chromium or Chrome to drive; the message says what to install."""


def runnable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


def is_snap_stub(exe: Path) -> bool:
    """True for a snap launcher: a link to /usr/bin/snap or into /snap/, or a
    small script that mentions snap (Ubuntu's transitional chromium-browser)."""
    real = exe.resolve()
    if real.name == "snap" or real.parts[:2] == ("/", "snap"):
        return True
    if real.stat().st_size > STUB_BYTES:
        return False
    head = real.read_bytes()
    return head.startswith(b"#!") and b"snap" in head


def playwright_chromium() -> Path | None:
    """The Chromium Playwright installed for this Python, or None (none, or no Playwright)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    with sync_playwright() as p:
        path = Path(p.chromium.executable_path)
    return path if runnable(path) else None


def find_browser() -> Path:
    """The Chromium or Chrome to drive (see the module docstring for the order).

    Raises :class:`BrowserNotFound` when there is none, or when ``$CADENZA_CHROMIUM``
    is set to something that is not an executable file.
    """
    named = os.environ.get(ENV)
    if named:
        if not runnable(Path(named)):
            raise BrowserNotFound(f"${ENV} is {named}, which is not an executable file")
        return Path(named)
    for name in NAMES:
        found = shutil.which(name)
        if found and not is_snap_stub(Path(found)):
            return Path(found)
    for bundle in (folder / app for folder in APP_FOLDERS for app in APP_BUNDLES):
        if runnable(bundle):
            return bundle
    found = playwright_chromium()
    if found is None:
        raise BrowserNotFound(INSTALL_HINT)
    return found


def __getattr__(name: str):
    # ``headless.CHROMIUM`` (bench/browser.py) is looked up when used, not at import.
    if name == "CHROMIUM":
        return find_browser()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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


def main() -> int:
    try:
        print(find_browser())
    except BrowserNotFound as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

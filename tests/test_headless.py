"""Browser discovery (scripts/headless.py) on a PATH the tests make: fake executables
in temporary folders, no real browser needed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import headless  # noqa: E402

SNAP_STUB = """#! /bin/sh
# Ubuntu's transitional chromium-browser: the browser is a snap.
if [ -x /snap/bin/chromium ]; then exec /snap/bin/chromium "$@"; fi
echo "Command '$0' requires the chromium snap to be installed." >&2
exit 1
"""


def fake(folder: Path, name: str, text: str = "#!/bin/sh\nexit 0\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text(text)
    exe.chmod(0o755)
    return exe


@pytest.fixture
def nothing_else(monkeypatch, tmp_path):
    """No $CADENZA_CHROMIUM, an empty PATH, no app bundles and no Playwright browser."""
    monkeypatch.delenv(headless.ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(headless, "APP_FOLDERS", ())
    monkeypatch.setattr(headless, "playwright_chromium", lambda: None)
    return tmp_path


def test_only_google_chrome_on_path_is_found(nothing_else, monkeypatch):
    chrome = fake(nothing_else / "bin", "google-chrome")
    monkeypatch.setenv("PATH", str(chrome.parent))
    assert headless.find_browser() == chrome


def test_path_order_is_chromium_first(nothing_else, monkeypatch):
    bin_ = nothing_else / "bin"
    for name in ("google-chrome-stable", "google-chrome", "chromium-browser", "chromium"):
        fake(bin_, name)
    monkeypatch.setenv("PATH", str(bin_))
    assert headless.find_browser() == bin_ / "chromium"


def test_the_environment_variable_wins(nothing_else, monkeypatch):
    fake(nothing_else / "bin", "chromium")
    mine = fake(nothing_else / "mine", "my-chrome")
    monkeypatch.setenv("PATH", str(nothing_else / "bin"))
    monkeypatch.setenv(headless.ENV, str(mine))
    assert headless.find_browser() == mine


def test_an_environment_variable_naming_nothing_is_an_error(nothing_else, monkeypatch):
    monkeypatch.setenv(headless.ENV, str(nothing_else / "absent"))
    with pytest.raises(headless.BrowserNotFound, match=r"CADENZA_CHROMIUM is .*absent"):
        headless.find_browser()


def test_snap_stubs_are_skipped(nothing_else, monkeypatch):
    bin_ = nothing_else / "bin"
    fake(bin_, "chromium-browser", SNAP_STUB)
    snap = fake(nothing_else / "usr-bin", "snap", "\x7fELF" + "\0" * headless.STUB_BYTES)
    (bin_ / "chromium").symlink_to(snap)  # /snap/bin/chromium -> /usr/bin/snap
    chrome = fake(bin_, "google-chrome-stable")
    monkeypatch.setenv("PATH", str(bin_))
    assert headless.find_browser() == chrome
    assert headless.is_snap_stub(bin_ / "chromium-browser")
    assert not headless.is_snap_stub(chrome)


def test_a_macos_app_bundle_comes_after_path(nothing_else, monkeypatch):
    apps = nothing_else / "Applications"
    bundle = fake(apps / "Chromium.app/Contents/MacOS", "Chromium")
    monkeypatch.setattr(headless, "APP_FOLDERS", (apps,))
    assert headless.find_browser() == bundle
    chrome = fake(nothing_else / "bin", "google-chrome")
    monkeypatch.setenv("PATH", str(chrome.parent))
    assert headless.find_browser() == chrome


def test_playwright_browser_comes_last(nothing_else, monkeypatch):
    managed = fake(nothing_else / "ms-playwright/chromium-1/chrome-linux", "chrome")
    monkeypatch.setattr(headless, "playwright_chromium", lambda: managed)
    assert headless.find_browser() == managed


def test_none_found_names_what_to_install(nothing_else, capsys):
    with pytest.raises(headless.BrowserNotFound) as error:
        headless.find_browser()
    message = str(error.value)
    assert "Debian `sudo apt-get install chromium`" in message
    assert "Ubuntu `.venv/bin/python -m playwright install --with-deps chromium`" in message
    assert "macOS `.venv/bin/python -m playwright install chromium`" in message
    assert headless.main() == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no Chromium or Chrome found") and "\n" not in err

#!/usr/bin/env bash
# Install the system packages `make test` and `make examples` need, when missing
# (`make run` and `make site` need none):
#   a browser   Chromium or Chrome, found as scripts/headless.py finds it (browser tests)
#   fluidsynth  and the FluidR3 GM soundfont (example audio, the piano-sample test)
# Debian: apt-get install chromium fluidsynth fluid-soundfont-gm (sudo when not root).
# Ubuntu: apt-get for fluidsynth and the soundfont; the browser is Playwright's
#   Chromium (apt's chromium there is a snap stub that does not run in containers).
# macOS: Homebrew's fluid-synth, Playwright's Chromium; Homebrew has no FluidR3 GM,
#   so the tests that render audio skip until $CADENZA_SOUNDFONT names one.
# Anywhere else: one line saying what to install, and exit 1.
# Uses $PY (the Makefile passes .venv/bin/python) for the browser search and Playwright.
set -euo pipefail
cd "$(dirname "$0")/.."
py=${PY:-.venv/bin/python}
[ -x "$py" ] || py=python3
soundfont=${CADENZA_SOUNDFONT:-/usr/share/sounds/sf2/FluidR3_GM.sf2}
playwright="$py -m playwright install"

browser=1 fluidsynth=1 sf=1
"$py" scripts/headless.py >/dev/null 2>&1 || browser=0
command -v fluidsynth >/dev/null || fluidsynth=0
[ -f "$soundfont" ] || sf=0
[ "$browser$fluidsynth$sf" = 111 ] && exit 0

fail() { echo "error: $*" >&2; exit 1; }
missing() {  # what to install by hand, for the error line
  local what=() out="" item
  [ $browser = 1 ] || what+=("Chromium or Chrome (or: $playwright chromium)")
  [ $fluidsynth = 1 ] || what+=("fluidsynth")
  [ $sf = 1 ] || what+=("the FluidR3 GM soundfont (set CADENZA_SOUNDFONT to its FluidR3_GM.sf2)")
  for item in "${what[@]}"; do out+="${out:+, }$item"; done
  echo "$out"
}
has_playwright() { "$py" -c "import playwright" 2>/dev/null; }

if [ "$(uname -s)" = Darwin ]; then
  command -v brew >/dev/null ||
    fail "no Homebrew (https://brew.sh) to install with; install it, or install yourself: $(missing)"
  [ $fluidsynth = 1 ] || { echo "installing fluid-synth with brew"; brew install fluid-synth; }
  if [ $browser = 0 ]; then
    has_playwright || fail "no Playwright in $py (run make setup), or install Google Chrome"
    echo "installing Playwright's Chromium"; $playwright chromium
  fi
  [ $sf = 1 ] || echo "note: Homebrew has no FluidR3 GM soundfont; the tests that render" \
    "audio skip until CADENZA_SOUNDFONT names its FluidR3_GM.sf2 (in Debian's fluid-soundfont-gm)"
  exit 0
fi

command -v apt-get >/dev/null ||
  fail "no apt-get or Homebrew here to install with; install yourself: $(missing)"
ubuntu=0  # Ubuntu or a derivative (ID or ID_LIKE in /etc/os-release)
# shellcheck disable=SC1091
case $( (. /etc/os-release && echo " ${ID:-} ${ID_LIKE:-} ") 2>/dev/null) in
  *" ubuntu "*) ubuntu=1 ;;
esac
need=()
[ $browser = 1 ] || [ $ubuntu = 1 ] || need+=(chromium)  # Ubuntu's is a snap stub
[ $fluidsynth = 1 ] || need+=(fluidsynth)
[ $sf = 1 ] || need+=(fluid-soundfont-gm)
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || fail "not root and no sudo to install with; install: $(missing)"
  sudo=sudo
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} with apt-get"
  $sudo apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
if [ $browser = 0 ] && [ $ubuntu = 1 ]; then
  has_playwright || fail "no Playwright in $py (run make setup) to install Chromium with"
  echo "installing Playwright's Chromium and the libraries it needs (apt's is a snap stub)"
  $playwright --with-deps chromium
fi

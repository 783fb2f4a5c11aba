#!/usr/bin/env bash
# Install the Debian packages the tests and the site build need, when missing:
# Chromium (browser tests), fluidsynth + the FluidR3 GM soundfont (piano
# samples and example audio). Uses sudo when not root.
set -euo pipefail
need=()
if ! command -v chromium >/dev/null && ! command -v google-chrome >/dev/null; then
  need+=(chromium)
fi
command -v fluidsynth >/dev/null || need+=(fluidsynth)
[ -f /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || need+=(fluid-soundfont-gm)
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "installing ${need[*]} with apt-get"
$sudo apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"

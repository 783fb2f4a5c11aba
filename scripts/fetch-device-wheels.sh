#!/usr/bin/env bash
# Fill .whl/ (git-ignored) with the wheels `python -m trainer train` needs under
# KERAS_BACKEND=jax and a lent GPU machine lacks; scripts/device-train.sh
# installs them there offline. Run it here, where pip reaches the registry:
#
#   scripts/fetch-device-wheels.sh            # for the device's Python 3.12, x86-64
#   PY_VERSION=3.11 WHEELS=/tmp/whl scripts/fetch-device-wheels.sh   # to try it here
#
# The machine has Python 3.12 with JAX, numpy, h5py, absl-py, rich, ml-dtypes,
# packaging, six, tqdm, joblib, matplotlib, requests and zipp, but no Keras and
# no TensorFlow (KINDS.md of the device tool). Training needs, beyond those:
#   keras (+ namex, optree)                           the model
#   mido, pretty_midi (+ importlib_resources)         MIDI reading
#   music21 (+ chardet, jsonpickle, more-itertools, webcolors)   the built-in chorales
# Versions are the ones installed in .venv (from requirements.lock), so the
# device trains with the code tested here. TensorFlow is not needed: the run
# folder gets no TensorBoard logs there, everything else is the same.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
WHEELS=${WHEELS:-.whl}
PY_VERSION=${PY_VERSION:-3.12}
PACKAGES=(keras namex optree mido pretty_midi importlib_resources
          music21 chardet jsonpickle more-itertools webcolors)

pins=()
for name in "${PACKAGES[@]}"; do
  pins+=("$name==$("$PY" -c 'import sys, importlib.metadata as m; print(m.version(sys.argv[1]))' "$name")")
done
mkdir -p "$WHEELS"
rm -f "$WHEELS"/*.whl  # one version of each: two would stop the install there
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 \
         manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
"$PY" -m pip download -q --no-deps --only-binary=:all: --python-version "$PY_VERSION" \
  --implementation cp "${platforms[@]}" -d "$WHEELS" "${pins[@]}"
echo "$WHEELS: $(ls "$WHEELS" | wc -l) wheels, $(du -sh "$WHEELS" | cut -f1) (the device tool carries 64 MiB in all):"
ls "$WHEELS"

#!/usr/bin/env bash
# Train the default recipe under KERAS_BACKEND=jax on a lent GPU machine, offline.
#
# On that machine (no TensorFlow, no network) it installs the wheels that
# scripts/fetch-device-wheels.sh put in .whl/ into a venv that also sees the
# machine's own Python packages (JAX with CUDA among them), trains into a run
# folder, packs that folder into $OUT/run.tar.gz and prints seconds per epoch
# and tokens per second. With the device tool, from this machine:
#
#   scripts/fetch-device-wheels.sh                  # once: fills .whl/
#   run(command="scripts/device-train.sh", carry=[".whl"], timeout_s=600)
#
# Arguments go to `python -m trainer train` (e.g. --epochs 2, --devices 2).
# PYTHON (default python3) is the interpreter whose packages the venv sees;
# WHEELS (default .whl), LIMIT_S (training time limit, default 480 s) and
# OUT (default build/device) can be set too.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS:-.whl}
OUT=${OUT:-build/device}
LIMIT_S=${LIMIT_S:-480}
VENV=${VENV:-/tmp/cadenza-venv}
RUN=${RUN:-/tmp/cadenza-run}
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 CADENZA_CACHE=${CADENZA_CACHE:-/tmp/cadenza-cache}
mkdir -p "$OUT"
exec > >(tee "$OUT/device-train.log") 2>&1

echo "== machine"
if command -v nvidia-smi >/dev/null; then nvidia-smi -L; else echo "no nvidia-smi"; fi
"$PYTHON" -c 'import sys, jax; print(f"python {sys.version.split()[0]}, jax {jax.__version__}:", jax.devices())'

echo "== install from $WHEELS (offline)"
ls "$WHEELS"/*.whl >/dev/null || { echo "no wheels in $WHEELS: run scripts/fetch-device-wheels.sh here and carry .whl"; exit 1; }
rm -rf "$VENV"
"$PYTHON" -m venv --without-pip --system-site-packages "$VENV"
# PYTHON may itself be a venv (the device's python3 is /opt/torch/.venv): a venv
# made from it sees the base installation, not its packages, so name them here.
# addsitedir also runs the .pth files there, as that interpreter's start-up does.
"$PYTHON" -c 'import site; print("".join(f"import site; site.addsitedir({d!r})\n"
                                        for d in site.getsitepackages()))' \
  > "$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/_base.pth"
# --no-deps: pip would re-resolve the machine's own packages too; instead each
# carried package's requirements are checked against what the venv sees.
"$VENV/bin/python" -m pip install -q --no-index --no-deps --no-compile \
  --disable-pip-version-check "$WHEELS"/*.whl
"$VENV/bin/python" - "$WHEELS"/*.whl <<'PY'
import importlib.metadata as md, sys
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import parse_wheel_filename

missing = []
for wheel in sys.argv[1:]:
    name = parse_wheel_filename(Path(wheel).name)[0]
    for req in map(Requirement, md.requires(name) or []):
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        try:
            found = md.version(req.name)
        except md.PackageNotFoundError:
            found = None
        if found is None or not req.specifier.contains(found, prereleases=True):
            missing.append(f"{name} needs {req} (found {found})")
if missing:
    sys.exit("missing here; add to scripts/fetch-device-wheels.sh:\n  " + "\n  ".join(missing))
import keras, mido, music21, pretty_midi  # noqa: E401,F401
print(f"keras {keras.__version__}, music21 {music21.__version__}: every requirement met")
PY

echo "== train"
rm -rf "$RUN"
status=0
timeout "$LIMIT_S" "$VENV/bin/python" -m trainer train --run-dir "$RUN" "$@" || status=$?
[ "$status" = 124 ] && echo "stopped at the ${LIMIT_S} s limit; the run folder keeps its finished epochs"

echo "== figures"
"$VENV/bin/python" - "$RUN" <<'EOF' | tee "$OUT/summary.txt"
import csv, json, statistics, sys
from pathlib import Path

run = Path(sys.argv[1])
rows = list(csv.DictReader(open(run / "log.csv"))) if (run / "log.csv").exists() else []
if not rows:
    sys.exit("no epoch finished")
state = json.loads((run / "state.json").read_text())
seconds = [float(r["seconds"]) for r in rows]
rates = [float(r["tokens_per_second"]) for r in rows]
steady = slice(1, None) if len(rows) > 1 else slice(None)  # epoch 1 includes compiling
print(f"epochs {len(rows)}, best val_loss {state['best_val_loss']:.4f} at epoch {state['best_epoch']}")
print(f"seconds per epoch: first {seconds[0]:.1f} (compiling), then median "
      f"{statistics.median(seconds[steady]):.2f}")
print(f"tokens per second (training targets): median {statistics.median(rates[steady]):,.0f}, "
      f"whole run {state['targets'] / state['seconds']:,.0f}")
EOF

tar -czf "$OUT/run.tar.gz" -C "$(dirname "$RUN")" "$(basename "$RUN")"
if [ "$(stat -c %s "$OUT/run.tar.gz")" -gt $((15 * 1024 * 1024)) ]; then  # the tool returns files up to 16 MiB
  tar -czf "$OUT/run.tar.gz" -C "$(dirname "$RUN")" --exclude checkpoints "$(basename "$RUN")"
  echo "run.tar.gz without checkpoints/ (over 15 MiB with them): it cannot be resumed"
fi
echo "run folder: $OUT/run.tar.gz ($(du -h "$OUT/run.tar.gz" | cut -f1))"
exit "$status"

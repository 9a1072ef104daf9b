#!/usr/bin/env bash
# One command for a short GPU loan (issue 18, item 5): installs what is missing, then runs
# benchmarks/gpu_check.py (CUDA tests, eager vs compiled bench, 60 s of training) and prints one table.
#
#   bash benchmarks/gpu_check.sh                 # on the GPU machine, under 8 minutes
#   bash benchmarks/gpu_check.sh --device cpu    # here: the same steps, shrunk to about a minute
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICE=cuda
BUDGET=420
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE="$2"; shift 2 ;;
    --budget) BUDGET="$2"; shift 2 ;;
    *) echo "unknown argument $1 (use --device cuda|cpu, --budget SECONDS)" >&2; exit 2 ;;
  esac
done
if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=$(command -v python3 || command -v python); fi
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install -q torch || { echo "torch is missing and could not be installed" >&2; exit 1; }
fi
for module in numpy einops safetensors av PIL pytest; do
  if ! "$PY" -c "import $module" 2>/dev/null; then
    package=$module; [ "$module" = PIL ] && package=pillow
    "$PY" -m pip install -q "$package" || echo "could not install $package" >&2
  fi
done
if ! "$PY" -c "import tempo_core" 2>/dev/null; then
  "$PY" -m pip install -q --no-deps -e . 2>/dev/null || export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
exec "$PY" benchmarks/gpu_check.py --device "$DEVICE" --budget "$BUDGET"

#!/usr/bin/env bash
# A GPU loan's one prepared call (issue 31): runs benchmarks/gpu_check.py and writes one table.
# Works from any working directory, on a bare image: a Python with torch, numpy, pillow,
# safetensors and einops (OpenCV and pytest used when present; PyAV and PySide6 not needed).
# Nothing is installed: a missing package is named and the check stops before any work.
#
#   python benchmarks/gpu_check.py --prepare      # here, once: datasets/gpu_check (~31 MB)
#   bash benchmarks/gpu_check.sh                  # on the GPU machine (carry datasets/gpu_check), < 9 min
#   bash benchmarks/gpu_check.sh --device cpu     # the rehearsal, here
# Options (passed on): --device cuda|cpu, --budget S, --train_seconds S, --data DIR, --out DIR.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# the script runs with benchmarks/ first on its path: the repository must be on it too
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
if [ -n "${PYTHON:-}" ]; then PY="$PYTHON"
elif [ -x .venv/bin/python ]; then PY=.venv/bin/python
else PY=$(command -v python3 || command -v python || true); fi
if [ -z "$PY" ]; then echo "gpu_check: no python3 on PATH" >&2; exit 1; fi
missing=$("$PY" - <<'PYEOF'
import importlib.util
need = {"torch": "torch", "numpy": "numpy", "PIL": "pillow", "safetensors": "safetensors", "einops": "einops"}
print(" ".join(name for module, name in need.items() if importlib.util.find_spec(module) is None))
PYEOF
)
if [ -n "$missing" ]; then
  echo "gpu_check: $PY lacks $missing; this check installs nothing" >&2
  exit 1
fi
exec "$PY" benchmarks/gpu_check.py "$@"

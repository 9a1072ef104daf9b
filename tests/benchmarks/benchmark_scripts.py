"""The scripts of ``benchmarks/`` as modules, for their smoke tests.

The scripts import only the package; their tests make tiny inputs with the core tests' clip
helpers (``tests/core/tempo_test_clips.py``), put on the path here.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "core"))


def load_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` as a module, registered (its dataclasses look their module up)."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]

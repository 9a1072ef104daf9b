"""``benchmarks/`` imports only the package; every study in ``benchmarks/studies/`` still loads.

The studies are not smoke-run (they read the training data), but a product change that moves a
name they import must not leave them broken: each is loaded and asked for its ``--help``.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from benchmark_scripts import ROOT

BENCHMARKS = ROOT / "benchmarks"
STUDIES = sorted((BENCHMARKS / "studies").glob("*.py"))
GPU_CHECK = BENCHMARKS / "gpu_check.py"  # runs on a bare image: puts the repository on the path itself


def test_no_script_reaches_into_the_tests_or_edits_the_import_path() -> None:
    scripts = [path for path in sorted(BENCHMARKS.rglob("*.py")) if path != GPU_CHECK]
    assert len(scripts) >= 10 and STUDIES
    for path in scripts:
        source = path.read_text(encoding="utf-8")
        assert "sys.path" not in source, path
        for helper in ("tempo_test_clips", "tempo_colour_clips", "tests/core", '"tests"'):
            assert helper not in source, (path, helper)


@pytest.mark.parametrize("path", STUDIES, ids=[path.stem for path in STUDIES])
def test_each_study_loads_and_prints_its_help(path: Path, monkeypatch, capsys) -> None:
    # as `python benchmarks/studies/NAME.py` runs it: its own folder first on the path (siblings)
    monkeypatch.syspath_prepend(str(path.parent))
    monkeypatch.setattr(sys, "argv", [str(path), "--help"])
    spec = importlib.util.spec_from_file_location(f"study_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(SystemExit) as exit_:
        module.main()
    assert exit_.value.code == 0
    assert "usage:" in capsys.readouterr().out

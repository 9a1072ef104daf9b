"""A built wheel carries the default model, the style and the icons.

``pip wheel`` of a copy of the sources, installed with ``--no-deps`` into a fresh virtual
environment that borrows this environment's dependencies (torch, PyAV, Qt) through a ``.pth``
file. The commands then run from an empty folder, so nothing can come from the source tree.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from tempo_test_clips import make_clip

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("pyproject.toml", "README.md", "resources", "tempo_core", "tempo_app")


def test_every_package_is_listed_in_pyproject():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for package in ("tempo_core", "tempo_app")
        for init in (ROOT / package).rglob("__init__.py")
    }
    assert on_disk | {"tempo_core.resources"} == listed


def _build_wheel(workdir: Path) -> Path:
    source = workdir / "src"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", str(source),
         "-w", str(workdir / "dist")],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    (wheel,) = (workdir / "dist").glob("tempo_vfi-*.whl")
    return wheel


def _fresh_env(workdir: Path, wheel: Path) -> Path:
    env_dir = workdir / "venv"
    venv.create(env_dir, with_pip=False)
    (lib,) = (env_dir / "lib").glob("python3*")
    # the dependencies come from this environment; tempo itself only from the wheel
    (lib / "site-packages" / "borrowed_deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "-q", "--no-deps",
         str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    return env_dir


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    import setuptools

    if int(setuptools.__version__.split(".")[0]) < 68:
        pytest.skip("building the wheel needs setuptools>=68 in this environment")
    workdir = tmp_path_factory.mktemp("wheel")
    return _fresh_env(workdir, _build_wheel(workdir))


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEMPO_") and k != "PYTHONPATH"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


@pytest.mark.slow
def test_installed_wheel_finds_its_model_style_and_icons(installed, tmp_path):
    code = (
        "import tempo_core, tempo_app.resources as r\n"
        "from tempo_core.checkpoint import default_model_path\n"
        "print(tempo_core.__file__); print(default_model_path()); print(r.STYLE_SHEET)\n"
        "assert default_model_path().is_file() and r.STYLE_SHEET.is_file()\n"
        "assert (r.ICONS / 'play.svg').is_file()\n"
    )
    result = subprocess.run(
        [str(installed / "bin" / "python"), "-c", code], cwd=tmp_path, env=_clean_env(),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for line in result.stdout.split():
        assert str(installed) in line and str(ROOT) not in line


@pytest.mark.slow
def test_installed_commands_use_the_bundled_model(installed, tmp_path):
    clip = make_clip(tmp_path / "clip.mkv", count=4, width=64, height=48)
    interpolate = subprocess.run(
        [str(installed / "bin" / "tempo"), "interpolate", str(clip), "-o", str(tmp_path / "out.mkv"),
         "--factor", "2", "--codec", "ffv1"],
        cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert interpolate.returncode == 0, interpolate.stderr
    assert (tmp_path / "out.mkv").stat().st_size > 0
    shot = tmp_path / "shot.png"
    app = subprocess.run(
        [str(installed / "bin" / "tempo-app"), str(clip), "--at", "0.06", "--screenshot", str(shot)],
        cwd=tmp_path, env=_clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert app.returncode == 0, app.stderr
    assert shot.stat().st_size > 1000

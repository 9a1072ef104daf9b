"""The memory a process may use counts its cgroup limits (issue 28, item 7), on fake cgroup trees."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tempo_test_clips import write_8k_gray_clip

from tempo_core import memory_budget
from tempo_core.checkpoint import save_weights
from tempo_core.commands.cli import main
from tempo_core.memory_budget import available_memory
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny

GB = 2**30


def fake_meminfo(tmp_path: Path, available: int) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal:       {2 * available // 1024} kB\nMemAvailable:   {available // 1024} kB\n")
    return path


def fake_v2(root: Path, limits: dict[str, tuple[str, int, int]]) -> Path:
    """A cgroup v2 tree: ``{relative folder: (memory.max, memory.current, inactive_file)}``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    for relative, (limit, current, inactive) in limits.items():
        folder = root / relative
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "memory.max").write_text(f"{limit}\n")
        (folder / "memory.current").write_text(f"{current}\n")
        (folder / "memory.stat").write_text(f"anon {current - inactive}\ninactive_file {inactive}\nactive_file 0\n")
    return root


def fake_self(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "self_cgroup"
    path.write_text(text)
    return path


@pytest.fixture(autouse=True)
def _no_override(monkeypatch):
    monkeypatch.delenv("TEMPO_MEMORY_BYTES", raising=False)


def test_a_cgroup_v2_limit_lowers_memavailable(tmp_path):
    meminfo = fake_meminfo(tmp_path, 64 * GB)
    root = fake_v2(
        tmp_path / "cg",
        {
            "jobs": (str(4 * GB), 2 * GB, 0),  # the parent leaves 2 GB
            "jobs/tempo": (str(3 * GB), GB, GB // 2),  # the own cgroup leaves 3 - (1 - 0.5) = 2.5 GB
            "other": (str(GB), GB, 0),  # not ours
        },
    )
    own = fake_self(tmp_path, "0::/jobs/tempo\n")
    assert available_memory(meminfo, root, own) == 2 * GB
    (root / "jobs" / "memory.max").write_text("max\n")
    assert available_memory(meminfo, root, own) == 3 * GB - GB // 2
    (root / "jobs" / "tempo" / "memory.max").write_text("max\n")
    assert available_memory(meminfo, root, own) == 64 * GB  # no limit: MemAvailable
    assert available_memory(fake_meminfo(tmp_path, GB), root, own) == GB  # the least of both


def test_a_container_sees_its_own_cgroup_as_the_root(tmp_path):
    """Inside a container /proc/self/cgroup names a path its /sys/fs/cgroup does not show."""
    root = fake_v2(tmp_path / "cg", {".": (str(3 * GB), GB, 0)})
    own = fake_self(tmp_path, "0::/kubepods/pod1234/abcdef\n")
    assert available_memory(fake_meminfo(tmp_path, 64 * GB), root, own) == 2 * GB


def test_a_cgroup_v1_limit_lowers_memavailable(tmp_path):
    root = tmp_path / "cg"
    folder = root / "memory" / "docker" / "c1"
    folder.mkdir(parents=True)
    (root / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    (root / "memory" / "memory.usage_in_bytes").write_text(f"{10 * GB}\n")
    (folder / "memory.limit_in_bytes").write_text(f"{2 * GB}\n")
    (folder / "memory.usage_in_bytes").write_text(f"{GB}\n")
    (folder / "memory.stat").write_text(f"cache {GB // 2}\ntotal_inactive_file {GB // 4}\n")
    own = fake_self(tmp_path, "12:pids:/docker/c1\n4:memory:/docker/c1\n0::/\n")
    assert available_memory(fake_meminfo(tmp_path, 64 * GB), root, own) == GB + GB // 4


def test_no_cgroups_and_damaged_files_leave_memavailable(tmp_path):
    meminfo = fake_meminfo(tmp_path, 5 * GB)
    assert available_memory(meminfo, tmp_path / "absent", tmp_path / "absent_self") == 5 * GB
    root = fake_v2(tmp_path / "cg", {"a": ("garbage", 0, 0)})
    assert available_memory(meminfo, root, fake_self(tmp_path, "0::/a\n")) == 5 * GB


def test_an_8k_export_in_a_3_gb_cgroup_is_refused_with_a_sentence_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """The issue's case: MemAvailable is large, the container allows 3 GB; the export needs
    about 5 GB, so it is refused before the output is created (it was OOM-killed, leaving a
    0-byte partial)."""
    source = write_8k_gray_clip(tmp_path / "8k.mkv")
    monkeypatch.setattr(memory_budget, "MEMINFO", fake_meminfo(tmp_path, 64 * GB))
    monkeypatch.setattr(memory_budget, "CGROUP_ROOT", fake_v2(tmp_path / "cg", {"job": (str(3 * GB), 0, 0)}))
    monkeypatch.setattr(memory_budget, "SELF_CGROUP", fake_self(tmp_path, "0::/job\n"))
    torch.manual_seed(0)
    model = save_weights(build_tempo(tempo_tiny()), tmp_path / "model" / "tiny.safetensors")
    out = tmp_path / "out"
    out.mkdir()
    argv = [str(source), "-o", str(out / "8k_x2.mp4"), "--factor", "2", "--checkpoint", str(model), "--device", "cpu"]
    code = main(["interpolate", *argv, "--quiet"])
    stderr = capsys.readouterr().err
    assert code == 1
    assert stderr.strip().splitlines() == [
        "tempo interpolate: 8k.mkv has frames of 7680 x 4320 pixels, which need about 4.9 GB of memory; "
        "3.0 GB is available."
    ]
    assert list(out.iterdir()) == []  # no output, no 0-byte partial

"""How much memory this process may still use: the system's and its cgroups' limits, the least.

``MemAvailable`` (``/proc/meminfo``) is what the whole machine could still give; a container, a
systemd slice or a job scheduler can allow a process far less, and then a job that fits in
``MemAvailable`` is killed by the kernel without a word (an 8K export in a 3 GB container).
:func:`available_memory` is therefore the least of:

* ``MemAvailable`` (half the RAM where there is no ``/proc/meminfo``);
* for each cgroup the process is in, and each of its ancestors with a limit, that limit less what
  the cgroup uses now, not counting the file cache the kernel drops before it kills anything
  (``inactive_file``): cgroup v2 ``memory.max`` - (``memory.current`` - ``inactive_file``), cgroup
  v1 ``memory.limit_in_bytes`` - (``memory.usage_in_bytes`` - ``total_inactive_file``).

The files read are module constants (:data:`MEMINFO`, :data:`CGROUP_ROOT`, :data:`SELF_CGROUP`)
and arguments of :func:`available_memory`, so tests point them at a fake tree.
``TEMPO_MEMORY_BYTES`` overrides the result (tests, shared machines).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CGROUP_ROOT", "MEMINFO", "SELF_CGROUP", "available_memory", "cgroup_headroom"]

MEMINFO = Path("/proc/meminfo")
CGROUP_ROOT = Path("/sys/fs/cgroup")
SELF_CGROUP = Path("/proc/self/cgroup")
FALLBACK_MEMORY = 8 * 2**30
_UNLIMITED = 2**60  # cgroup v1 writes "no limit" as 2^63 rounded down to a page


def available_memory(
    meminfo: Path | None = None, cgroup_root: Path | None = None, self_cgroup: Path | None = None
) -> int:
    """Bytes this process may still allocate (see the module docstring); None arguments take the
    module constants."""
    override = os.environ.get("TEMPO_MEMORY_BYTES")
    if override:
        return int(override)
    system = _system_available(meminfo or MEMINFO)
    headroom = cgroup_headroom(cgroup_root or CGROUP_ROOT, self_cgroup or SELF_CGROUP)
    return system if headroom is None else min(system, headroom)


def _system_available(meminfo: Path) -> int:
    try:
        with open(meminfo, encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (AttributeError, ValueError, OSError):
        return FALLBACK_MEMORY


def cgroup_headroom(root: Path, self_cgroup: Path) -> int | None:
    """The least headroom of the memory-limited cgroups holding this process, None if none is
    limited (or there are no cgroups)."""
    found = [*_v2_headrooms(root, self_cgroup), *_v1_headrooms(root, self_cgroup)]
    return min(found) if found else None


def _memberships(self_cgroup: Path) -> list[tuple[str, str]]:
    """``(controllers, path)`` per line of ``/proc/self/cgroup`` (``""`` controllers: v2)."""
    try:
        lines = self_cgroup.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    parts = [line.split(":", 2) for line in lines]
    return [(p[1], p[2]) for p in parts if len(p) == 3]


def _chain(mount: Path, relative: str) -> list[Path]:
    """The cgroup folder of ``relative`` under ``mount`` and its ancestors up to ``mount``; just
    ``mount`` when that folder is not visible (a container sees its own cgroup as the root)."""
    leaf = mount / relative.strip("/")
    if not leaf.is_dir():
        return [mount]
    chain = [leaf]
    while chain[-1] != mount and mount in chain[-1].parents:
        chain.append(chain[-1].parent)
    return chain


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None  # "max" (v2: no limit) and damage alike


def _stat_value(folder: Path, key: str) -> int:
    try:
        for line in (folder / "memory.stat").read_text(encoding="ascii").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value)
    except (OSError, UnicodeDecodeError):
        pass
    return 0


def _headroom(folder: Path, limit_file: str, usage_file: str, cache_key: str) -> int | None:
    limit = _read_int(folder / limit_file)
    if limit is None or limit >= _UNLIMITED:
        return None
    usage = _read_int(folder / usage_file) or 0
    used = max(0, usage - _stat_value(folder, cache_key))
    return max(0, limit - used)


def _v2_headrooms(root: Path, self_cgroup: Path) -> list[int]:
    paths = [path for controllers, path in _memberships(self_cgroup) if controllers == ""] or ["/"]
    mounts = [m for m in (root, root / "unified") if (m / "cgroup.controllers").exists()]
    folders = [f for mount in mounts for path in paths for f in _chain(mount, path)]
    found = (_headroom(f, "memory.max", "memory.current", "inactive_file") for f in folders)
    return [h for h in found if h is not None]


def _v1_headrooms(root: Path, self_cgroup: Path) -> list[int]:
    mount = root / "memory"
    if not (mount / "memory.limit_in_bytes").exists():
        return []
    paths = [path for controllers, path in _memberships(self_cgroup) if "memory" in controllers.split(",")]
    folders = [f for path in paths or ["/"] for f in _chain(mount, path)]
    found = (_headroom(f, "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file") for f in folders)
    return [h for h in found if h is not None]

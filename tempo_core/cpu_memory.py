"""Keep freed tensor memory inside the process (Linux, glibc): a CPU synthesis then stops paying
the kernel for fresh pages on every large tensor.

One 720p synthesis allocates and frees several hundred tensors of 1-30 MB. glibc's ``malloc``
serves a block above its mmap threshold (128 KiB at start, raised only as such blocks are freed)
with a new mapping, and gives freed memory at the top of its heap back to the system once more
than the trim threshold (128 KiB) is free. Either way most of those tensors land on untouched
pages, which the kernel faults in and zeroes one by one: a tenth to a fifth of a 720p frame's CPU
time, nothing measurable at 256p (same-session A/Bs with ``benchmarks/cpu_ab.py``,
docs/benchmarks.md). :func:`keep_freed_memory` raises the mmap
threshold to glibc's largest (32 MiB) and the trim threshold to 1 GiB, so freed blocks are reused
and the next frame finds its pages already mapped. The price is memory kept by the process after
a peak (up to the peak, at most about 1 GiB more than it holds in tensors), the trade that
jemalloc and tcmalloc, which PyTorch's CPU performance guide suggests preloading, make too.

Other platforms and C libraries are left as they are.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import sys

M_TRIM_THRESHOLD = -1  # mallopt parameters, from glibc's malloc.h
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 1024 * 1024  # glibc refuses more (half its 64 MiB heap size on 64-bit)
TRIM_THRESHOLD = 1024 * 1024 * 1024


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's mmap and trim thresholds as the module docstring says, once per process.

    Returns True when both were set, False elsewhere (not Linux, not glibc, or refused)."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl and others have no mallopt
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))

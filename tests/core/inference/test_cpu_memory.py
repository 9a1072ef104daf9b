"""tempo_core.cpu_memory: glibc's thresholds are set once, where they exist, and the CPU paths ask for it."""

import ctypes
import platform
import sys

import numpy as np
import pytest

import tempo_core.cpu_memory as cpu_memory
import tempo_core.inference.interpolator as interpolator_module
from tempo_core.inference import Interpolator
from tempo_core.network import build_tempo
from tempo_core.network.config import tempo_tiny

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_thresholds_are_set_on_glibc_and_then_hold():
    assert cpu_memory.keep_freed_memory()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = libc.malloc(16 * 1024 * 1024)  # under the 32 MiB threshold: from the heap, not a new mapping
    try:
        with open("/proc/self/maps") as maps:
            mapped_alone = any(
                int(start, 16) == block - 16 for start in (line.split("-")[0] for line in maps)
            )  # an mmapped chunk starts 16 bytes before the pointer, at a mapping's first byte
    finally:
        libc.free(block)
    assert not mapped_alone


def test_elsewhere_nothing_is_set(monkeypatch):
    cpu_memory.keep_freed_memory.cache_clear()
    monkeypatch.setattr(cpu_memory.sys, "platform", "darwin")
    try:
        assert cpu_memory.keep_freed_memory() is False
    finally:
        cpu_memory.keep_freed_memory.cache_clear()


def test_a_cpu_interpolator_keeps_freed_memory(monkeypatch):
    calls = []
    monkeypatch.setattr(interpolator_module, "keep_freed_memory", lambda: calls.append(True))
    interpolator = Interpolator(build_tempo(tempo_tiny()), device="cpu")
    frames = [np.zeros((64, 64, 3), np.uint8)] * 2
    assert interpolator.interpolate(frames, [0.0, 1.0], 0.5).image.shape == (64, 64, 3)
    assert calls == [True]

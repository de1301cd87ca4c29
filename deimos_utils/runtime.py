"""Seeds, devices, progress bars and the memory allocator: one helper for each, used everywhere."""
from __future__ import annotations

import ctypes
import os
import platform
import zlib

import numpy as np
import torch


def derive_seed(seed: int, *keys) -> int:
    """A 31-bit seed derived from ``seed`` and any labels (strings or ints), stable across runs.

    ``derive_seed(0, "masks", 3)`` and ``derive_seed(0, "init")`` give independent streams.
    """
    text = "/".join([str(int(seed))] + [str(k) for k in keys])
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def make_rng(seed: int, *keys) -> np.random.Generator:
    """A numpy Generator for the stream named by ``keys`` under ``seed``."""
    return np.random.default_rng(derive_seed(seed, *keys))


def default_device() -> torch.device:
    """CUDA when it is available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def progress_bar(*args, **kwargs):
    """``tqdm.auto.tqdm`` (a widget in Jupyter, text elsewhere) that honours ``TQDM_DISABLE=1``.

    Under papermill or CI set ``TQDM_DISABLE=1`` so that executed notebooks hold no bars.
    """
    import os

    from tqdm.auto import tqdm

    if os.environ.get("TQDM_DISABLE", "").lower() in ("1", "true", "yes"):
        kwargs["disable"] = True
    return tqdm(*args, **kwargs)


_M_TRIM_THRESHOLD, _M_MMAP_MAX, _M_ARENA_MAX = -1, -4, -8  # mallopt parameters (glibc malloc.h)
_KEEP = {_M_ARENA_MAX: 1, _M_MMAP_MAX: 0, _M_TRIM_THRESHOLD: 2**31 - 1}
_allocator_tuned: bool | None = None


def _keeping() -> bool:
    return os.environ.get("DEIMOS_KEEP_FREED_MEMORY", "1") != "0"


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep the memory that a training step frees, for the next step.

    By default glibc serves every block above 32 MiB (a conv activation of a batch: 128 faces x
    64 channels x 64 x 64 px is 134 MB) with a fresh ``mmap`` and unmaps it when freed, so each
    step faults its activations in again, page by page; dask's workers also set
    ``MALLOC_TRIM_THRESHOLD_=65536``. Here that kernel work took half of a UTKFace training's time
    (``benchmarks/bench_training_threads.py``). This sets one arena (``M_ARENA_MAX = 1``: a
    thread's own arena cannot hold such blocks and maps them anyway), ``M_MMAP_MAX = 0`` (large
    blocks come from the heap) and ``M_TRIM_THRESHOLD = 2 GiB`` (freed memory stays with the
    process): the process keeps its peak memory until it ends. Numbers are unchanged.

    A thread that allocated before this call keeps its own arena (and a thread started later may
    be handed it): a process that trains in a thread of its own (a dask worker) needs
    :func:`allocator_environ` in its environment from the start.
    Once per process; ``DEIMOS_KEEP_FREED_MEMORY=0`` leaves malloc alone. Returns whether the
    setting is in force (False off glibc, e.g. macOS, Windows, musl).
    """
    global _allocator_tuned
    if _allocator_tuned is None:
        _allocator_tuned = False
        if _keeping() and platform.libc_ver()[0] == "glibc":
            try:
                libc = ctypes.CDLL("libc.so.6")
            except OSError:
                return False
            _allocator_tuned = all([bool(libc.mallopt(param, value)) for param, value in _KEEP.items()])
    return _allocator_tuned


def allocator_environ() -> dict[str, str]:
    """The environment that gives a new process :func:`keep_freed_memory`'s setting from its
    first allocation (glibc reads it at start; other C libraries ignore it); empty when
    ``DEIMOS_KEEP_FREED_MEMORY=0``."""
    if not _keeping():
        return {}
    return {"MALLOC_ARENA_MAX": str(_KEEP[_M_ARENA_MAX]), "MALLOC_MMAP_MAX_": str(_KEEP[_M_MMAP_MAX]),
            "MALLOC_TRIM_THRESHOLD_": str(_KEEP[_M_TRIM_THRESHOLD])}

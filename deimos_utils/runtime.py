"""Seeds, devices and progress bars: one helper for each, used everywhere."""
from __future__ import annotations

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

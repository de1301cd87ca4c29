"""Input validation shared by every public function: one place, one wording.

Every check raises ``ValueError`` with a message that names the argument and the problem.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch


def as_float_array(x, name: str, ndims: Sequence[int], dtype=np.float64) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested list) as a finite numpy array of ``dtype``.

    Raises ``ValueError`` when the number of dimensions is not one of ``ndims`` or when
    ``x`` holds NaN or inf.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim not in tuple(ndims):
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def as_float_tensor(x, name: str, ndims: Sequence[int], dtype=torch.float64) -> torch.Tensor:
    """``x`` as a finite torch tensor of ``dtype``, kept on its device if it already is a tensor."""
    if isinstance(x, torch.Tensor):
        t = x.detach().to(dtype)
    else:
        t = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)
    if t.ndim not in tuple(ndims):
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    return t


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")


def check_n_masks(n_masks: int, name: str = "preds") -> None:
    if n_masks < 2:
        raise ValueError(
            f"{name} needs at least 2 MC-dropout masks (last axis) to estimate a covariance, "
            f"got J = {n_masks}"
        )


def check_candidates(candidates, n_points: int, name: str = "candidates") -> np.ndarray:
    """Candidate indices as an int64 array; default all ``n_points``.

    Raises when an index is out of range, repeated, or not an integer.
    """
    if candidates is None:
        return np.arange(n_points, dtype=np.int64)
    if isinstance(candidates, torch.Tensor):
        candidates = candidates.detach().cpu().numpy()
    cand = np.asarray(candidates)
    if cand.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of indices, got shape {cand.shape}")
    if cand.size and not np.issubdtype(cand.dtype, np.integer):
        if np.issubdtype(cand.dtype, np.bool_):
            raise ValueError(f"{name} must be integer indices, not a boolean mask")
        if not np.all(np.mod(cand, 1) == 0):
            raise ValueError(f"{name} must be integer indices, got non-integer values")
    cand = cand.astype(np.int64)
    if cand.size and (cand.min() < 0 or cand.max() >= n_points):
        bad = cand[(cand < 0) | (cand >= n_points)]
        raise ValueError(
            f"{name} holds indices out of range [0, {n_points}): {bad[:5].tolist()}"
        )
    uniq, counts = np.unique(cand, return_counts=True)
    if np.any(counts > 1):
        raise ValueError(f"{name} holds repeated indices: {uniq[counts > 1][:5].tolist()}")
    return cand


def check_batch_size(batch_size, n_available: int, what: str = "candidates") -> int:
    if isinstance(batch_size, bool) or int(batch_size) != batch_size:
        raise ValueError(f"batch_size must be an integer, got {batch_size!r}")
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if batch_size > n_available:
        raise ValueError(
            f"batch_size = {batch_size} is larger than the number of {what} ({n_available})"
        )
    return batch_size


def check_nonnegative(value, name: str) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    return value

"""Input validation shared by every public function: one place, one wording.

Every check raises ``ValueError`` with a message that names the argument and the problem.
:func:`warn_if_no_variance` warns (:class:`NoVarianceWarning`) where an input is valid but
would make every acquisition score zero.
"""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import torch

#: the two tasks of every model, dataset and acquisition method
TASKS = ("classification", "regression")

PROB_SUM_ATOL = 1e-4  # float32 softmax outputs sum to 1 within ~1e-6; 1e-4 leaves ample room


class NoVarianceWarning(UserWarning):
    """MC-dropout predictions that do not vary across the masks: every uncertainty is 0."""


def check_float_dtype(dtype, name: str = "dtype") -> None:
    """``dtype`` must be a floating-point torch dtype (e.g. ``torch.float64``)."""
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(
            f"{name} must be a floating-point torch dtype such as torch.float64 or torch.float32, "
            f"got {dtype!r}"
        )


def as_float_array(x, name: str, ndims: Sequence[int], dtype=np.float64) -> np.ndarray:
    """``x`` (numpy array, torch tensor or nested list) as a finite numpy array of ``dtype``.

    Raises ``ValueError`` when the number of dimensions is not one of ``ndims`` or when
    ``x`` holds NaN or inf.
    """
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    check_real_dtype(x.dtype, name)
    arr = np.asarray(x, dtype=dtype)
    if arr.ndim not in tuple(ndims):
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {arr.shape}")
    check_finite(arr, name)
    return arr


def as_float_tensor(x, name: str, ndims: Sequence[int], dtype=torch.float64) -> torch.Tensor:
    """``x`` as a finite torch tensor of ``dtype``, kept on its device if it already is a tensor."""
    check_float_dtype(dtype)
    if isinstance(x, torch.Tensor):
        check_real_dtype(x.dtype, name)
        t = x.detach().to(dtype)
    else:
        x = np.asarray(x)
        check_real_dtype(x.dtype, name)
        t = torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)
    if t.ndim not in tuple(ndims):
        want = " or ".join(str(d) for d in ndims)
        raise ValueError(f"{name} must have {want} dimensions, got shape {tuple(t.shape)}")
    # a finite sum proves every entry finite (NaN and inf propagate); one pass, no temporary
    if t.numel() and not np.isfinite(float(t.sum())) and not bool(torch.isfinite(t).all()):
        n_bad = int((~torch.isfinite(t)).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")
    return t


def check_real_dtype(dtype, name: str) -> None:
    """Refuse inputs that are not real numbers (bool, complex, strings, dates): converting them
    to float would silently give nonsense (True -> 1.0, dropped imaginary parts, parsed text)."""
    if isinstance(dtype, torch.dtype):
        bad = dtype == torch.bool or dtype.is_complex
    else:
        bad = np.dtype(dtype).kind not in "fiuO"  # object arrays: converted element by element
    if bad:
        raise ValueError(
            f"{name} must hold real numbers (a float or integer array), got dtype {dtype}"
        )


def check_finite(arr: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(arr)):
        n_bad = int(np.size(arr) - np.isfinite(arr).sum())
        raise ValueError(f"{name} contains {n_bad} NaN or infinite values")


def check_mask_count(n_masks, minimum: int = 1, name: str = "n_masks") -> int:
    """``n_masks`` as an int >= ``minimum``: one mask is a prediction (:func:`mc_predict`), a
    covariance of the predictions needs two (:func:`check_n_masks`, the config's ``n_masks``)."""
    if isinstance(n_masks, bool) or int(n_masks) != n_masks:
        raise ValueError(f"{name} must be an integer, got {n_masks!r}")
    if int(n_masks) < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {n_masks}")
    return int(n_masks)


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


def check_probabilities(t: torch.Tensor, name: str = "probs", atol: float = PROB_SUM_ATOL) -> None:
    """(N, C, J) class probabilities: C >= 2, no negative value, sums over C within ``atol`` of 1.

    Catches logits (or log-probabilities) passed where softmax outputs belong, and regression
    predictions given a class axis of 1.
    """
    n, c, j = t.shape
    if c < 2:
        raise ValueError(
            f"{name} must hold the probabilities of C >= 2 classes on axis 1, got shape "
            f"{tuple(t.shape)} (C = {c}); regression predictions are (N, J)"
        )
    if j < 1:
        raise ValueError(f"{name} must have at least 1 MC-dropout mask (last axis), got shape {tuple(t.shape)}")
    if n == 0:
        return
    if float(t.min()) < 0:
        raise ValueError(
            f"{name} holds negative values (min {float(t.min()):.3g}): class probabilities are "
            "softmax outputs; were logits passed? apply torch.softmax over the class axis (1)"
        )
    worst = float((t.sum(dim=1) - 1.0).abs().max())
    if worst > atol:
        raise ValueError(
            f"{name} must sum to 1 over the classes (axis 1); the worst (point, mask) is off by "
            f"{worst:.3g} (tolerance {atol:g}): were logits passed? apply torch.softmax over axis 1"
        )


def warn_if_no_variance(t: torch.Tensor, name: str, cause: str = "", stacklevel: int = 3) -> bool:
    """Warn when predictions ``(N, ..., J)`` are identical across the J masks for every point
    (up to 64 ulps of their dtype, relative to the largest magnitude).

    Then every MC-dropout uncertainty is 0: DEIMOS's gains, BALD, maximum variance all score 0
    and the batch is simply the first candidates. Returns whether it warned.
    """
    if t.ndim < 2 or t.shape[-1] < 2 or t.numel() == 0:
        return False
    # the same network on identical rows may differ in the last bits (batched kernels)
    eps = torch.finfo(t.dtype).eps if t.is_floating_point() else 0.0
    top, bottom = t.amax(dim=-1), t.amin(dim=-1)  # two passes (aminmax is slower on the CPU)
    tol = 64 * eps * max(1.0, abs(float(top.max())), abs(float(bottom.min())))
    if float((top - bottom).abs().max()) > tol:
        return False
    why = cause or "dropout is off, p = 0, or the dropout layers do not reach the output"
    warnings.warn(
        f"{name}: the predictions are the same under all {t.shape[-1]} MC-dropout masks ({why}); "
        "every uncertainty and acquisition gain is 0, so the picks are arbitrary. Use dropout "
        "with p > 0 before the output layer.",
        NoVarianceWarning, stacklevel=stacklevel,
    )
    return True


def check_mc_predictions(t: torch.Tensor, name: str = "preds") -> None:
    """MC predictions ``(N, J)`` (regression) or ``(N, C, J)`` (class probabilities): the
    probabilities are checked (:func:`check_probabilities`) and predictions without any
    variance across the masks warned about (:func:`warn_if_no_variance`)."""
    if t.ndim == 3:
        check_probabilities(t, name)
    warn_if_no_variance(t, name, stacklevel=4)

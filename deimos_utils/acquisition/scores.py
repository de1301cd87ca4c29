"""Single-point acquisition scores over J MC-dropout masks, and the top-k selection they use.

Shapes: class probabilities ``probs`` are (N, C, J) (points, classes, masks); regression
predictions ``preds`` are (N, J). Entropies are in nats (natural log), with 0 log 0 = 0.

- :func:`entropy_scores`: maximum entropy (Gal et al. 2017), H[ mean_j p(y | x, w_j) ].
- :func:`bald_scores`: BALD (Houlsby et al. 2011), the mutual information between the label and
  the weights, H[ mean_j p_j ] - mean_j H[ p_j ].
- :func:`variance_scores`: maximum variance (regression), the sample variance over the J masks.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.special import xlogy

from .._checks import as_float_array, as_float_tensor, check_batch_size, check_n_masks

__all__ = ["check_probs", "entropy_scores", "bald_scores", "variance_scores", "top_k"]

PROB_SUM_ATOL = 1e-4  # float32 softmax outputs sum to 1 within ~1e-6; 1e-4 leaves ample room


def _probs_tensor(probs, name: str = "probs", *, atol: float = PROB_SUM_ATOL) -> torch.Tensor:
    """Validated (N, C, J) class probabilities as a float64 tensor (device kept for tensors)."""
    t = as_float_tensor(probs, name, (3,))
    n, c, j = t.shape
    if c < 1:
        raise ValueError(f"{name} must have at least 1 class (axis 1), got shape {tuple(t.shape)}")
    if j < 1:
        raise ValueError(
            f"{name} must have at least 1 MC-dropout mask (last axis), got shape {tuple(t.shape)}"
        )
    if n and bool((t < 0).any()):
        raise ValueError(f"{name} holds negative values (min {float(t.min()):.3g})")
    if n:
        err = (t.sum(dim=1) - 1.0).abs()
        worst = float(err.max())
        if worst > atol:
            raise ValueError(
                f"{name} must sum to 1 over the classes (axis 1); the worst (point, mask) "
                f"is off by {worst:.3g} (tolerance {atol:g})"
            )
    return t


def check_probs(probs, name: str = "probs", *, atol: float = PROB_SUM_ATOL) -> np.ndarray:
    """Validate MC-dropout class probabilities and return them as a float64 numpy array.

    Parameters
    ----------
    probs : array-like or torch.Tensor, shape (N, C, J)
        Softmax outputs of N points under J dropout masks.
    atol : float
        Largest allowed ``|sum_c probs[n, c, j] - 1|``.

    Raises
    ------
    ValueError
        Wrong number of dimensions, NaN or inf, negative values, sums over C not 1, C < 1 or
        J < 1.
    """
    return _probs_tensor(probs, name, atol=atol).cpu().numpy()


def _entropy(p: np.ndarray, axis: int) -> np.ndarray:
    return -xlogy(p, p).sum(axis=axis)


def entropy_scores(probs) -> np.ndarray:
    """Predictive entropy H[p_bar], p_bar = mean over masks: (N, C, J) -> (N,) nats."""
    p = check_probs(probs)
    return _entropy(p.mean(axis=2), axis=1)


def bald_scores(probs) -> np.ndarray:
    """BALD mutual information H[p_bar] - mean_j H[p_j]: (N, C, J) -> (N,) nats, >= 0.

    Rounding can make the difference of the two entropies a few ulps below 0; such values are
    set to 0 (the mutual information is never negative).
    """
    p = check_probs(probs)
    total = _entropy(p.mean(axis=2), axis=1)
    expected = _entropy(p, axis=1).mean(axis=1)
    return np.maximum(total - expected, 0.0)


def variance_scores(preds) -> np.ndarray:
    """Sample variance (ddof=1) over the J masks of (N, J) regression predictions -> (N,)."""
    y = as_float_array(preds, "preds", (2,))
    check_n_masks(y.shape[1], "preds")
    return y.var(axis=1, ddof=1)


def top_k(scores, k: int) -> np.ndarray:
    """Indices of the k largest scores, largest first; equal scores in increasing index order.

    Raises ``ValueError`` for NaN scores, a non-1-D input, or k outside [1, len(scores)].
    """
    s = as_float_array(scores, "scores", (1,))
    k = check_batch_size(k, s.shape[0], "scores")
    return np.argsort(-s, kind="stable")[:k].astype(np.int64)

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

from .._checks import (
    PROB_SUM_ATOL,
    as_float_array,
    as_float_tensor,
    check_batch_size,
    check_n_masks,
    check_probabilities,
)

__all__ = ["check_probs", "entropy_scores", "bald_scores", "variance_scores", "top_k"]


def _probs_tensor(probs, name: str = "probs", *, atol: float = PROB_SUM_ATOL) -> torch.Tensor:
    """Validated (N, C, J) class probabilities as a float64 tensor (device kept for tensors)."""
    t = as_float_tensor(probs, name, (3,))
    check_probabilities(t, name, atol)
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
        Wrong number of dimensions, NaN or inf, negative values (logits?), sums over C not 1,
        C < 2 or J < 1.
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

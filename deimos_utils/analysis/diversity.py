"""Batch diversity (Fig 3d, e): the mean pairwise symmetric KL divergence of a queried batch."""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array

__all__ = ["batch_diversity", "DIVERSITY_EPS"]


#: Probabilities are clipped to at least this value before taking logs in :func:`batch_diversity`.
DIVERSITY_EPS = 1e-12


def batch_diversity(probs_of_batch, eps: float = DIVERSITY_EPS) -> float:
    """Mean symmetric KL divergence between the predicted class distributions of a batch.

    ``mean over pairs i < j of KL(p_i || p_j) + KL(p_j || p_i)
    = sum_c (p_ic - p_jc) (log p_ic - log p_jc)``, in nats.

    Parameters
    ----------
    probs_of_batch : array (b, C), numpy or torch
        Class probabilities of the b points of one queried batch; rows must be
        non-negative and sum to 1 (within 1e-3).
    eps : float
        Probabilities are clipped to ``[eps, 1]`` inside the logs only (the weights stay
        unclipped), so a zero probability contributes a finite ``log(eps)`` term instead of
        an infinite one. Default 1e-12.

    Returns
    -------
    float
        The mean over the ``b (b - 1) / 2`` unordered pairs; NaN when ``b < 2`` (no pair).
    """
    p = as_float_array(probs_of_batch, "probs_of_batch", (2,))
    if p.shape[1] < 1:
        raise ValueError(f"probs_of_batch needs at least one class column, got shape {p.shape}")
    if np.any(p < 0):
        raise ValueError("probs_of_batch holds negative probabilities")
    sums = p.sum(axis=1)
    if p.shape[0] and not np.allclose(sums, 1.0, atol=1e-3):
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        raise ValueError(f"rows of probs_of_batch must sum to 1, found a row summing to {worst}")
    if not (0 < eps < 1):
        raise ValueError(f"eps must lie in (0, 1), got {eps}")
    b = p.shape[0]
    if b < 2:
        return float("nan")
    logp = np.log(np.clip(p, eps, 1.0))
    # (b, b) matrix of symmetric KL: sum_c (p_i - p_j)(log p_i - log p_j); exactly 0 for equal rows.
    sym = np.einsum("ijc,ijc->ij", p[:, None, :] - p[None, :, :], logp[:, None, :] - logp[None, :, :])
    iu = np.triu_indices(b, k=1)
    return float(sym[iu].mean())

"""The literal DEIMOS of the paper on an explicit covariance matrix V (small problems only).

These functions build and update V itself, exactly as Algorithm 1 is written. They are the
reference that the fast :func:`deimos_utils.acquisition.deimos_batch` is tested against, and what
the Appendix A notebook uses. Memory is O((S*C)^2) and each pick costs O(n_cand * (S*C)^2).

Index convention: V is point-major, row ``i * C + k`` is point ``i``, class ``k``.
"""
from __future__ import annotations

import itertools

import numpy as np

from .._checks import (
    as_float_array,
    check_batch_size,
    check_candidates,
    check_n_masks,
    check_nonnegative,
)

#: a block whose (smoothed) variance is below this fraction of the largest diagonal entry of V
#: is treated as already known: its gain is 0 and it is never conditioned on.
DEGENERATE_RTOL = 1e-12


def predictive_covariance(preds, noise: float = 0.0) -> np.ndarray:
    """The dense predictive covariance V of eq. 3.

    Parameters
    ----------
    preds : (S, J) regression predictions or (S, C, J) class probabilities over J masks.
    noise : added to the diagonal of V (tau^-1 in regression). In classification eq. 3 has no
        diagonal term: leave it 0 and pass tau_s^-1 as ``smoothing`` to the greedy functions.

    Returns
    -------
    V : (S*C, S*C) float64, point-major; the unbiased covariance over masks (divides by J - 1).
    """
    arr = as_float_array(preds, "preds", ndims=(2, 3))
    noise = check_nonnegative(noise, "noise")
    n_masks = arr.shape[-1]
    check_n_masks(n_masks)
    flat = arr.reshape(-1, n_masks)
    centred = flat - flat.mean(axis=1, keepdims=True)
    V = centred @ centred.T / (n_masks - 1)
    V[np.diag_indices_from(V)] += noise
    return V


def _check_dense(V, n_classes, smoothing, candidates):
    V = as_float_array(V, "V", ndims=(2,))
    if V.shape[0] != V.shape[1]:
        raise ValueError(f"V must be square, got shape {V.shape}")
    n_classes = int(n_classes)
    if n_classes < 1 or V.shape[0] % n_classes:
        raise ValueError(
            f"n_classes = {n_classes} does not divide the size of V ({V.shape[0]})"
        )
    if not np.allclose(V, V.T, rtol=1e-10, atol=1e-12 * max(1.0, np.abs(V).max())):
        raise ValueError("V must be symmetric")
    smoothing = check_nonnegative(smoothing, "smoothing")
    n_points = V.shape[0] // n_classes
    cand = check_candidates(candidates, n_points)
    return V.copy(), n_classes, smoothing, n_points, cand


def _block_gain(V, n, n_classes, smoothing, floor):
    """Trace reduction of conditioning V on point n, and the factors needed for the update."""
    cols = slice(n * n_classes, (n + 1) * n_classes)
    Vn = V[:, cols]  # (S*C, C)
    H = V[cols, cols] + smoothing * np.eye(n_classes)
    if np.trace(H) <= floor:
        return 0.0, None
    HinvVnT = np.linalg.solve(H, Vn.T)  # (C, S*C)
    return float(np.einsum("ik,ki->", Vn, HinvVnT)), (Vn, HinvVnT)


def greedy_batch_dense(V, batch_size, *, n_classes=1, smoothing=0.0, candidates=None):
    """Algorithm 1, literally: pick the candidate of largest EI, condition V on it, repeat.

    Parameters
    ----------
    V : (S*C, S*C) predictive covariance, point-major (see :func:`predictive_covariance`).
    batch_size : number of points to pick.
    n_classes : C (1 for regression).
    smoothing : tau_s^-1, added to every C x C block that is inverted (classification).
    candidates : indices of the points that may be picked (default: all S).

    Returns
    -------
    picked : (batch_size,) int64, point indices in pick order.
    gains : (batch_size,) float64, the trace reduction of each pick.
    """
    V, C, smoothing, n_points, cand = _check_dense(V, n_classes, smoothing, candidates)
    batch_size = check_batch_size(batch_size, len(cand))
    floor = DEGENERATE_RTOL * max(float(np.abs(np.diag(V)).max()), 1e-300) * C
    available = np.ones(len(cand), dtype=bool)
    picked, gains = [], []
    for _ in range(batch_size):
        scores = np.full(len(cand), -np.inf)
        factors = {}
        for pos in np.flatnonzero(available):
            scores[pos], factors[pos] = _block_gain(V, cand[pos], C, smoothing, floor)
        best = int(np.argmax(scores))
        available[best] = False
        picked.append(int(cand[best]))
        gains.append(float(scores[best]))
        if factors[best] is not None:
            Vn, HinvVnT = factors[best]
            V = V - Vn @ HinvVnT
    return np.asarray(picked, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def batch_trace_reduction(V, batch, *, n_classes=1, smoothing=0.0) -> float:
    """Total trace reduction of conditioning V on all points of ``batch`` at once.

    ``tr(V_B (V_BB + smoothing I)^-1 V_B^T)``, with V_B the columns of the batch's points. It equals
    the sum of the sequential gains of Algorithm 1 for that batch, in any order.
    """
    V = np.asarray(V, dtype=np.float64)
    C = int(n_classes)
    cols = np.concatenate([np.arange(n * C, (n + 1) * C) for n in batch])
    VB = V[:, cols]
    H = V[np.ix_(cols, cols)] + smoothing * np.eye(len(cols))
    return float(np.einsum("ik,ki->", VB, np.linalg.lstsq(H, VB.T, rcond=None)[0]))


def optimal_batch_bruteforce(V, batch_size, *, n_classes=1, smoothing=0.0, candidates=None,
                             chunk_size=4096):
    """The batch of largest total trace reduction, by trying every subset of the candidates.

    Each subset B is scored as ``tr((V_BB + smoothing I)^-1 (V^T V)_BB)`` (the joint trace
    reduction), ``chunk_size`` subsets at a time. Cost grows as (n_candidates choose batch_size):
    keep pools small (a few dozen points).

    Returns
    -------
    picked : (batch_size,) int64, the best batch in increasing index order (the first in
        lexicographic order among equals).
    total_gain : float, its total trace reduction.
    """
    V, C, smoothing, n_points, cand = _check_dense(V, n_classes, smoothing, candidates)
    batch_size = check_batch_size(batch_size, len(cand))
    K = V.T @ V
    offsets = np.arange(C)
    eye = smoothing * np.eye(batch_size * C)
    combos = itertools.combinations(sorted(cand.tolist()), batch_size)
    best, best_gain = None, -np.inf
    while True:
        chunk = np.array(list(itertools.islice(combos, chunk_size)), dtype=np.int64)
        if chunk.size == 0:
            break
        cols = (chunk[:, :, None] * C + offsets).reshape(len(chunk), -1)  # (M, b*C)
        H = V[cols[:, :, None], cols[:, None, :]] + eye
        KB = K[cols[:, :, None], cols[:, None, :]]
        gains = _batched_trace_solve(H, KB)
        i = int(np.argmax(gains))
        if best is None or gains[i] > best_gain + 1e-12 * abs(best_gain):
            best, best_gain = chunk[i], float(gains[i])
    return np.asarray(best, dtype=np.int64), best_gain


def _batched_trace_solve(H, K):
    """tr(H_m^-1 K_m) for a stack of matrices; pseudo-inverse where H_m is singular."""
    try:
        return np.trace(np.linalg.solve(H, K), axis1=1, axis2=2)
    except np.linalg.LinAlgError:
        return np.array([np.trace(np.linalg.lstsq(h, k, rcond=None)[0]) for h, k in zip(H, K)])

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

#: where the noise tau_s^-1 goes in classification (regression is always "diagonal"):
#: "diagonal" (the authors' code): V = Cov + s I over all C*S rows, so classification is the
#: regression formula with C columns per point, and a picked point's own rows leave V;
#: "block" (the paper's text): V = Cov, and s I is added to each C x C block that is inverted.
SMOOTHINGS = ("diagonal", "block")
DEFAULT_SMOOTHING = "diagonal"


def check_smoothing(smoothing, regression: bool) -> str:
    """``smoothing`` checked against :data:`SMOOTHINGS`; "block" is refused in regression."""
    if not isinstance(smoothing, str) or smoothing not in SMOOTHINGS:
        raise ValueError(
            f"smoothing must be one of {', '.join(repr(m) for m in SMOOTHINGS)}, got "
            f"{smoothing!r} (the amount tau_s^-1 is the noise argument)"
        )
    if regression and smoothing != "diagonal":
        raise ValueError(
            "smoothing='block' applies to classification only: in regression the noise tau^-1 "
            "is always on the diagonal of V (eq. 3); use smoothing='diagonal'"
        )
    return smoothing


def predictive_covariance(preds, noise: float = 0.0) -> np.ndarray:
    """The dense predictive covariance V of eq. 3.

    Parameters
    ----------
    preds : (S, J) regression predictions or (S, C, J) class probabilities over J masks.
    noise : added to the whole diagonal of V (tau^-1 in regression). The greedy functions below
        can add it instead (their ``noise`` and ``smoothing`` arguments), which is the only way
        to get the paper's block smoothing in classification.

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


def _check_dense(V, n_classes, noise, smoothing, candidates):
    """Checked inputs; V with ``noise`` on its diagonal ("diagonal") and the block noise."""
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
    noise = check_nonnegative(noise, "noise")
    smoothing = check_smoothing(smoothing, regression=n_classes == 1)
    n_points = V.shape[0] // n_classes
    cand = check_candidates(candidates, n_points)
    V = V.copy()
    if smoothing == "diagonal":
        V[np.diag_indices_from(V)] += noise
        noise = 0.0
    return V, n_classes, noise, n_points, cand


def _block_gain(V, n, n_classes, block_noise, floor, trace_rows):
    """Trace reduction of conditioning V on point n (over ``trace_rows``), and the factors
    needed for the update."""
    cols = slice(n * n_classes, (n + 1) * n_classes)
    Vn = V[:, cols]  # (S*C, C)
    H = V[cols, cols] + block_noise * np.eye(n_classes)
    if np.trace(H) <= floor:
        return 0.0, None
    HinvVnT = np.linalg.solve(H, Vn.T)  # (C, S*C)
    gain = np.einsum("ik,ki->", Vn[trace_rows], HinvVnT[:, trace_rows])
    return float(gain), (Vn, HinvVnT)


def greedy_batch_dense(V, batch_size, *, n_classes=1, noise=0.0, smoothing=DEFAULT_SMOOTHING,
                       candidates=None, trace_points=None):
    """Algorithm 1, literally: pick the candidate of largest EI, condition V on it, repeat.

    Parameters
    ----------
    V : (S*C, S*C) predictive covariance, point-major (see :func:`predictive_covariance`).
    batch_size : number of points to pick.
    n_classes : C (1 for regression).
    noise : tau^-1 or tau_s^-1, added to V as ``smoothing`` says (0: V is used as given).
    smoothing : "diagonal": V <- V + noise I, EI(n) = tr(V_n V_nn^-1 V_n^T); "block"
        (classification only): EI(n) = tr(V_n (V_nn + noise I)^-1 V_n^T). See
        :data:`SMOOTHINGS`.
    candidates : indices of the points that may be picked (default: all S).
    trace_points : indices of the points whose rows make up the trace (default: all S). With
        the sample's points here and candidates outside it, this is DEIMOS for candidates
        outside the sample: each is conditioned on through its noisy observation, and only the
        sample's variance counts.

    Returns
    -------
    picked : (batch_size,) int64, point indices in pick order.
    gains : (batch_size,) float64, the trace reduction of each pick.
    """
    V, C, block_noise, n_points, cand = _check_dense(V, n_classes, noise, smoothing, candidates)
    batch_size = check_batch_size(batch_size, len(cand))
    trace = check_candidates(trace_points, n_points, "trace_points")
    trace_rows = (trace[:, None] * C + np.arange(C)).ravel()
    floor = DEGENERATE_RTOL * max(float(np.abs(np.diag(V)).max()), 1e-300) * C
    available = np.ones(len(cand), dtype=bool)
    picked, gains = [], []
    for _ in range(batch_size):
        scores = np.full(len(cand), -np.inf)
        factors = {}
        for pos in np.flatnonzero(available):
            scores[pos], factors[pos] = _block_gain(V, cand[pos], C, block_noise, floor,
                                                    trace_rows)
        best = int(np.argmax(scores))
        available[best] = False
        picked.append(int(cand[best]))
        gains.append(float(scores[best]))
        if factors[best] is not None:
            Vn, HinvVnT = factors[best]
            V = V - Vn @ HinvVnT
    return np.asarray(picked, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def batch_trace_reduction(V, batch, *, n_classes=1, noise=0.0,
                          smoothing=DEFAULT_SMOOTHING) -> float:
    """Total trace reduction of conditioning V on all points of ``batch`` at once.

    ``tr(V_B (V_BB + s I)^-1 V_B^T)``, with V_B the columns of the batch's points and ``noise``
    added as in :func:`greedy_batch_dense` ("block": s = noise; "diagonal": V <- V + noise I,
    s = 0). It equals the sum of the sequential gains of Algorithm 1 for that batch, in any
    order.
    """
    V, C, block_noise, _, _ = _check_dense(V, n_classes, noise, smoothing, None)
    cols = np.concatenate([np.arange(n * C, (n + 1) * C) for n in batch])
    VB = V[:, cols]
    H = V[np.ix_(cols, cols)] + block_noise * np.eye(len(cols))
    return float(np.einsum("ik,ki->", VB, np.linalg.lstsq(H, VB.T, rcond=None)[0]))


def optimal_batch_bruteforce(V, batch_size, *, n_classes=1, noise=0.0,
                             smoothing=DEFAULT_SMOOTHING, candidates=None, chunk_size=4096):
    """The batch of largest total trace reduction, by trying every subset of the candidates.

    Each subset B is scored as ``tr((V_BB + s I)^-1 (V^T V)_BB)`` (the joint trace reduction;
    ``noise`` and ``smoothing`` as in :func:`greedy_batch_dense`), ``chunk_size`` subsets at a
    time. Cost grows as (n_candidates choose batch_size): keep pools small (a few dozen points).

    Returns
    -------
    picked : (batch_size,) int64, the best batch in increasing index order (the first in
        lexicographic order among equals).
    total_gain : float, its total trace reduction.
    """
    V, C, block_noise, n_points, cand = _check_dense(V, n_classes, noise, smoothing, candidates)
    batch_size = check_batch_size(batch_size, len(cand))
    K = V.T @ V
    offsets = np.arange(C)
    eye = block_noise * np.eye(batch_size * C)
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

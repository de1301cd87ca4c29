"""Core-set acquisition: greedy and robust k-center (Sener & Savarese, ICLR 2018).

Points are embeddings (e.g. the activations feeding the last layer), compared with the
Euclidean distance. The labelled points are the initial centers; the batch adds ``b`` centers
chosen among the N candidates so that the candidates are covered with a small radius.

**Greedy k-center** (their Algorithm 1, the 2-approximation of Gonzalez): b times, add the
candidate farthest from its nearest center. Its radius delta_g = max_n min_c d(x_n, c) bounds
the optimal radius: OPT in [delta_g / 2, delta_g].

**Robust k-center** (their Algorithm 2). They bisect the radius delta in [delta_g / 2, delta_g]
and at each delta solve a mixed-integer program: is there a set of b new centers leaving at most
Xi points farther than delta from every center (the outliers)? They use Gurobi; the feasibility
problem is a set-cover problem, NP-hard. This module keeps their bisection and replaces the MIP
with a tractable feasibility heuristic: **greedy maximum coverage** at radius delta, i.e. b times
add the candidate whose delta-ball holds the most candidates not yet within delta of a center
(labelled points count as centers); delta is declared feasible when at most
``floor(outlier_fraction * n)`` candidates are left uncovered (n = labelled + candidates, as in
their Xi = fraction x n). Greedy coverage is the classic (1 - 1/e)-approximation of maximum
coverage and is the greedy step of the outlier-tolerant k-center algorithm of Charikar et al.
(2001); like the MIP it ignores isolated far points as long as the outlier budget allows, which
is what makes the method robust. It can only declare a delta infeasible that the MIP would
accept (never the reverse), so the radius it returns is an upper bound of the MIP's. The
bisection starts from the greedy k-center solution (feasible at delta_g with no outlier) and
returns the centers of the smallest radius found feasible; when no smaller radius passes, the
greedy k-center batch is returned. Picks beyond what improves coverage (everything already
covered) are filled in greedy k-center order.

Cost: greedy k-center needs O((L + b) N D) work; each feasibility check O(N^2 D) (counts of
uncovered neighbours, then decremental updates: each candidate is newly covered once). All
distances are computed in chunks of rows, so memory stays O(chunk x N), never N x N.
Computations run in float64 on the device of ``emb_candidates`` when it is a tensor (a GPU
makes N = 60,000 practical), else on the CPU.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import as_float_tensor, check_batch_size

#: Sener & Savarese's outlier budget, Xi = 1e-4 n (the default of kcenter_batch and of the registry)
KCENTER_OUTLIER_FRACTION = 1e-4

__all__ = ["kcenter_batch", "greedy_kcenter", "coverage_radius", "KCENTER_OUTLIER_FRACTION"]

_CHUNK_ELEMENTS = 2**22


def _sq_dists(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)), clamped at 0."""
    a_sq = (a * a).sum(dim=1)
    if b_sq is None:
        b_sq = (b * b).sum(dim=1)
    d2 = a_sq[:, None] + b_sq[None, :] - 2.0 * (a @ b.T)
    return d2.clamp_(min=0.0)


def _rows_per_chunk(n_cols: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        return int(chunk_size)
    return max(1, _CHUNK_ELEMENTS // max(n_cols, 1))


def _min_sq_dist_to(points: torch.Tensor, centers: torch.Tensor, chunk: int) -> torch.Tensor:
    """min over centers of the squared distance, for every point (inf when there is no center)."""
    out = torch.full((points.shape[0],), math.inf, dtype=points.dtype, device=points.device)
    if centers.shape[0] == 0:
        return out
    c_sq = (centers * centers).sum(dim=1)
    rows = max(1, _CHUNK_ELEMENTS // max(centers.shape[0], 1)) if chunk is None else chunk
    for start in range(0, points.shape[0], rows):
        d2 = _sq_dists(points[start:start + rows], centers, c_sq)
        out[start:start + rows] = d2.min(dim=1).values
    return out


def _prepare(emb_labelled, emb_candidates):
    cand = as_float_tensor(emb_candidates, "emb_candidates", (2,))
    lab = as_float_tensor(emb_labelled, "emb_labelled", (2,))
    lab = lab.to(cand.device)
    if lab.shape[0] and lab.shape[1] != cand.shape[1]:
        raise ValueError(
            f"emb_labelled has dimension {lab.shape[1]} but emb_candidates has {cand.shape[1]}"
        )
    return lab, cand


def _greedy(lab, cand, b, rng, chunk_size):
    """Greedy k-center picks and the final min squared distances of the candidates."""
    n = cand.shape[0]
    min_d2 = _min_sq_dist_to(cand, lab, _rows_per_chunk(max(lab.shape[0], 1), chunk_size))
    picked: list[int] = []
    for _ in range(b):
        if not picked and lab.shape[0] == 0:
            if rng is None:
                rng = np.random.default_rng(0)
            u = int(rng.integers(n))
        else:
            u = int(torch.argmax(min_d2))                       # first maximum: lowest index
        picked.append(u)
        d2 = _sq_dists(cand, cand[u:u + 1]).squeeze(1)
        torch.minimum(min_d2, d2, out=min_d2)
        min_d2[u] = -1.0                                        # never picked twice
    return picked, min_d2


def greedy_kcenter(emb_labelled, emb_candidates, batch_size: int, *, rng=None, chunk_size=None):
    """Greedy k-center batch (Sener & Savarese's Algorithm 1).

    Returns ``(picked, radius)``: candidate indices in pick order and the covering radius
    max_n min_c d(x_n, c) of the candidates after the batch (labelled points + picks as
    centers). With no labelled point the first center is drawn uniformly with ``rng``
    (default ``np.random.default_rng(0)``).
    """
    lab, cand = _prepare(emb_labelled, emb_candidates)
    b = check_batch_size(batch_size, cand.shape[0], "candidates")
    picked, min_d2 = _greedy(lab, cand, b, rng, chunk_size)
    radius = math.sqrt(max(float(min_d2.max()), 0.0))
    return np.asarray(picked, dtype=np.int64), radius


def coverage_radius(emb_labelled, emb_candidates, picked, n_outliers: int = 0) -> float:
    """Radius needed to cover all candidates but the ``n_outliers`` farthest, with the labelled
    points and ``picked`` candidates as centers."""
    lab, cand = _prepare(emb_labelled, emb_candidates)
    centers = torch.cat([lab.reshape(-1, cand.shape[1]), cand[torch.as_tensor(np.asarray(picked, dtype=np.int64), device=cand.device)]])
    d2 = _min_sq_dist_to(cand, centers, None)
    d2 = torch.sort(d2, descending=True).values
    n_outliers = int(n_outliers)
    if n_outliers >= d2.shape[0]:
        return 0.0
    return math.sqrt(max(float(d2[n_outliers]), 0.0))


def _max_coverage(lab_min_d2, cand, b, delta2, chunk_size):
    """Greedy maximum coverage at squared radius ``delta2``.

    Returns (picks, number of candidates left farther than delta from every center).
    """
    n = cand.shape[0]
    dev = cand.device
    c_sq = (cand * cand).sum(dim=1)
    uncovered = lab_min_d2 > delta2
    counts = torch.zeros(n, dtype=torch.long, device=dev)
    unc_idx = torch.nonzero(uncovered).squeeze(1)
    rows = _rows_per_chunk(max(int(unc_idx.numel()), 1), chunk_size)
    if unc_idx.numel():
        target, t_sq = cand[unc_idx], c_sq[unc_idx]
        for start in range(0, n, rows):
            counts[start:start + rows] = (_sq_dists(cand[start:start + rows], target, t_sq) <= delta2).sum(dim=1)
    min_d2 = lab_min_d2.clone()
    picked: list[int] = []
    available = torch.ones(n, dtype=torch.bool, device=dev)
    for _ in range(b):
        masked = torch.where(available, counts, torch.full_like(counts, -1))
        u = int(torch.argmax(masked))
        if int(masked[u]) <= 0:                                 # nothing left to gain: k-center fill
            u = int(torch.argmax(torch.where(available, min_d2, torch.full_like(min_d2, -1.0))))
        picked.append(u)
        available[u] = False
        d2_u = _sq_dists(cand, cand[u:u + 1], c_sq[u:u + 1]).squeeze(1)
        torch.minimum(min_d2, d2_u, out=min_d2)
        newly = torch.nonzero(uncovered & (d2_u <= delta2)).squeeze(1)
        if newly.numel():
            uncovered[newly] = False
            target, t_sq = cand[newly], c_sq[newly]
            rows = _rows_per_chunk(int(newly.numel()), chunk_size)
            for start in range(0, n, rows):
                counts[start:start + rows] -= (_sq_dists(cand[start:start + rows], target, t_sq) <= delta2).sum(dim=1)
    return picked, int(uncovered.sum())


def kcenter_batch(
    emb_labelled,
    emb_candidates,
    batch_size: int,
    *,
    outlier_fraction: float = KCENTER_OUTLIER_FRACTION,
    robust: bool = True,
    rng: np.random.Generator | None = None,
    max_bisections: int = 12,
    rel_tol: float = 1e-3,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Core-set batch: greedy k-center, then the robust radius bisection (see module docstring).

    Parameters
    ----------
    emb_labelled : (L, D) array-like or tensor
        Embeddings of the labelled points (the initial centers); L may be 0.
    emb_candidates : (N, D) array-like or tensor
        Embeddings of the candidates.
    batch_size : int
        Number of candidates b to pick.
    outlier_fraction : float
        Outlier budget Xi = floor(outlier_fraction * (L + N)) candidates that may stay farther
        than the radius (default :data:`KCENTER_OUTLIER_FRACTION`, Sener & Savarese's 1e-4).
    robust : bool
        False returns the greedy k-center batch unchanged.
    rng : numpy Generator, optional
        Draws the first center when there is no labelled point.
    max_bisections, rel_tol : int, float
        The bisection stops after ``max_bisections`` halvings or when the bracket is narrower
        than ``rel_tol * delta_g``.
    chunk_size : int, optional
        Rows of each distance block (default: about 2^22 distances per block).

    Returns
    -------
    (b,) int64 array of candidate indices in pick order.
    """
    lab, cand = _prepare(emb_labelled, emb_candidates)
    n = cand.shape[0]
    b = check_batch_size(batch_size, n, "candidates")
    frac = float(outlier_fraction)
    if not (0.0 <= frac < 1.0) or not math.isfinite(frac):
        raise ValueError(f"outlier_fraction must be in [0, 1), got {outlier_fraction}")
    if int(max_bisections) < 0:
        raise ValueError(f"max_bisections must be >= 0, got {max_bisections}")

    picked, min_d2 = _greedy(lab, cand, b, rng, chunk_size)
    if not robust:
        return np.asarray(picked, dtype=np.int64)
    min_d2[torch.as_tensor(picked, device=cand.device)] = 0.0
    delta_g = math.sqrt(max(float(min_d2.max()), 0.0))
    if delta_g == 0.0:
        return np.asarray(picked, dtype=np.int64)
    budget = int(math.floor(frac * (lab.shape[0] + n)))

    lab_min_d2 = _min_sq_dist_to(cand, lab, _rows_per_chunk(max(lab.shape[0], 1), chunk_size))
    best = picked
    lo, hi = delta_g / 2.0, delta_g
    for _ in range(int(max_bisections)):
        if hi - lo <= rel_tol * delta_g:
            break
        mid = 0.5 * (lo + hi)
        trial, n_out = _max_coverage(lab_min_d2, cand, b, mid * mid, chunk_size)
        if n_out <= budget:
            hi, best = mid, trial
        else:
            lo = mid
    return np.asarray(best, dtype=np.int64)

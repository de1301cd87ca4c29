"""Greedy BatchBALD (Kirsch, van Amersfoort & Gal, NeurIPS 2019).

With MC-dropout probabilities ``p(y_n | w_k)`` for K = J masks, the batch score of a set
A = {a_1, ..., a_m} is the mutual information

    I(y_A; w) = H(y_A) - sum_{i in A} E_w[ H(y_i | w) ],
    H(y_A)    = - sum_{y_A} p(y_A) log p(y_A),   p(y_A) = (1/K) sum_k prod_{i in A} p(y_i | w_k).

Greedy step: with batch A fixed, pick the candidate n that maximises I(y_{A+n}; w). The joint
entropy H(y_A, y_n) is

- **exact** while the C^m configurations of the m labels already in the batch are at most
  ``num_samples``: a (C^m, K) matrix ``P[y_A, k] = prod_i p(y_i | w_k)`` is kept and
  ``p(y_A, y_n) = P @ p(y_n | w)^T / K`` for each candidate (C^(m+1) entries per candidate);
- **estimated** beyond that, as in the authors' implementation (``batchbald_redux``): draw
  S = num_samples // K label configurations y_A^(s) ~ p(y_A | w_k) for every mask k
  (M = S K samples from p(y_A)), and use

      H(y_A, y_n) ~= -(1/M) sum_s sum_{y_n} p(y_n | y_A^(s)) log p(y_A^(s), y_n),
      p(y_n | y_A^(s)) = p(y_A^(s), y_n) / p(y_A^(s)).

  The configurations are redrawn after each pick (as the authors do). Each sample's row of
  joint probabilities is stored rescaled by its largest entry (the scale is added back to the
  log), so products of many small probabilities never underflow.

Memory is bounded: candidates are processed in chunks so that the (chunk, M, C) intermediate
holds about 2^21 numbers, and nothing of size C^b is built once C^m exceeds ``num_samples``.
Everything runs in float64 on the device of ``probs`` when it is a tensor, else on the CPU.

Layout note: this module takes probabilities (N, C, J) like the rest of the package; the
authors' package takes log-probabilities (N, K, C).
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .._checks import check_batch_size
from .scores import _probs_tensor

__all__ = ["batchbald_batch", "joint_entropy_exact", "conditional_entropies"]

_CHUNK_ELEMENTS = 2**21


def conditional_entropies(probs_nck: torch.Tensor) -> torch.Tensor:
    """E_w[H(y_n | w)] = -(1/K) sum_k sum_c p log p for (N, C, K) probabilities -> (N,)."""
    return -torch.special.xlogy(probs_nck, probs_nck).sum(dim=1).mean(dim=1)


def _chunk(n_points: int, per_point: int, chunk_size: int | None) -> int:
    if chunk_size is not None:
        if int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        return int(chunk_size)
    return max(1, min(n_points, _CHUNK_ELEMENTS // max(per_point, 1)))


def _joint_entropies_exact(joint_mk: torch.Tensor, probs_nck: torch.Tensor, chunk: int) -> torch.Tensor:
    """H(y_A, y_n) for every n: ``joint_mk`` (M, K) holds prod_i p(y_i | w_k) per configuration."""
    n, c, k = probs_nck.shape
    joint_mk = joint_mk / k                                     # the mean over masks, folded in
    out = torch.empty(n, dtype=probs_nck.dtype, device=probs_nck.device)
    for start in range(0, n, chunk):
        p = probs_nck[start:start + chunk]                      # (n', C, K)
        nb = p.shape[0]
        pkc = p.permute(2, 0, 1).reshape(k, nb * c)            # (K, n' C)
        pj = joint_mk @ pkc                                     # p(y_A, y_n): (M, n' C)
        torch.special.xlogy(pj, pj, out=pj)                     # in place: one buffer per chunk
        out[start:start + nb] = -pj.sum(dim=0).reshape(nb, c).sum(dim=1)
    return out


def _joint_entropies_sampled(
    scaled_mk: torch.Tensor, log_scale_m: torch.Tensor, probs_nck: torch.Tensor, chunk: int
) -> torch.Tensor:
    """Importance-sampling estimate of H(y_A, y_n) for every n.

    ``scaled_mk[s, k] = p(y_A^(s) | w_k) / exp(log_scale_m[s])`` for M configurations drawn from
    p(y_A). With pj = p(y_A^(s), y_n) / scale_s and q_s = p(y_A^(s)) / scale_s,

        H ~= -(1/M) sum_s (1/q_s) sum_{y_n} pj (log pj + log scale_s).
    """
    n, c, k = probs_nck.shape
    m = scaled_mk.shape[0]
    inv_q = 1.0 / scaled_mk.mean(dim=1)                         # (M,)
    # the log-scale term: sum_y pj = scaled @ sum_y p(y | w) / K, without the (M, n', C) tensor
    w_mk = (inv_q * log_scale_m)[:, None] * scaled_mk / k       # (M, K)
    scale_term = w_mk.sum(dim=0) @ probs_nck.sum(dim=1).T        # (N,)
    scaled_mk = scaled_mk / k
    out = torch.empty(n, dtype=probs_nck.dtype, device=probs_nck.device)
    for start in range(0, n, chunk):
        p = probs_nck[start:start + chunk]
        nb = p.shape[0]
        pkc = p.permute(2, 0, 1).reshape(k, nb * c)
        pj = scaled_mk @ pkc                                    # (M, n' C)
        torch.special.xlogy(pj, pj, out=pj)
        nats = inv_q @ pj                                       # (n' C,)
        out[start:start + nb] = nats.reshape(nb, c).sum(dim=1)
    return -(out + scale_term) / m


def _sample_configurations(
    batch_probs_bck: torch.Tensor, n_per_mask: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw y_A ~ p(y_A | w_k), ``n_per_mask`` times for each mask k; return the rescaled
    (M, K) matrix of p(y_A^(s) | w_k') and the log scales (M,), M = K * n_per_mask."""
    b, c, k = batch_probs_bck.shape
    dev, dt = batch_probs_bck.device, batch_probs_bck.dtype
    cdf = batch_probs_bck.permute(0, 2, 1).cumsum(dim=2)        # (b, K, C)
    cdf = (cdf / cdf[..., -1:]).contiguous()                    # last entry exactly 1
    u = torch.as_tensor(rng.random((b, k, n_per_mask)), dtype=dt, device=dev)
    ys = torch.searchsorted(cdf, u, right=True).clamp_(max=c - 1)  # (b, K, S)
    ys = ys.reshape(b, k * n_per_mask)                          # sample (k, s) -> column k*S + s
    log_p = torch.log(batch_probs_bck)                          # (b, C, K); log 0 = -inf
    log_joint = torch.zeros(k * n_per_mask, k, dtype=dt, device=dev)
    for i in range(b):
        log_joint += log_p[i][ys[i]]                            # (M, K)
    log_scale = log_joint.max(dim=1).values                     # finite: the drawing mask has p > 0
    return torch.exp(log_joint - log_scale[:, None]), log_scale


def joint_entropy_exact(probs) -> float:
    """Exact joint entropy H(y_1, ..., y_b) of b points' labels, (b, C, J) -> nats.

    Builds the (C^b, J) matrix of prod_i p(y_i | w_j): use only for small C^b.
    """
    p = _probs_tensor(probs)
    b, c, k = p.shape
    joint = torch.ones(1, k, dtype=p.dtype, device=p.device)
    for i in range(b):
        joint = (joint[:, None, :] * p[i][None, :, :]).reshape(-1, k)
    pm = joint.mean(dim=1)
    return float(-torch.special.xlogy(pm, pm).sum())


def batchbald_batch(
    probs,
    batch_size: int,
    *,
    num_samples: int = 10000,
    rng: np.random.Generator | None = None,
    chunk_size: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy BatchBALD batch.

    Parameters
    ----------
    probs : array-like or torch.Tensor, shape (N, C, J)
        MC-dropout class probabilities of the N pool points under J shared masks.
    batch_size : int
        Number of points b to pick (1 <= b <= N).
    num_samples : int
        Largest number of label configurations C^m of the current batch handled exactly; beyond
        it, ``num_samples // J`` configurations per mask are drawn (at least 1).
    rng : numpy Generator, optional
        Source of the sampled configurations (default ``np.random.default_rng(0)``). Unused in
        the exact regime.
    chunk_size : int, optional
        Pool points per chunk; default keeps the (chunk, M, C) intermediate at about 2^21
        float64 numbers (16 MiB).

    Returns
    -------
    picked : (b,) int64 array
        Indices into the N points, in pick order.
    scores : (b,) float64 array
        The BatchBALD value I(y_{A+n}; w) (nats) of the batch so far when each point was picked.
    """
    p = _probs_tensor(probs)
    n, c, k = p.shape
    b = check_batch_size(batch_size, n, "pool points")
    if isinstance(num_samples, bool) or int(num_samples) != num_samples or num_samples < 1:
        raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")
    num_samples = int(num_samples)
    if rng is None:
        rng = np.random.default_rng(0)
    n_per_mask = max(1, num_samples // k)

    cond = conditional_entropies(p)                             # (N,)
    joint = torch.ones(1, k, dtype=p.dtype, device=p.device)    # exact: (C^m, K)
    exact = True
    picked: list[int] = []
    scores: list[float] = []
    taken = torch.zeros(n, dtype=torch.bool, device=p.device)
    for m in range(b):
        if m > 0:
            last = picked[-1]
            exact = exact and c**m <= num_samples
            if exact:
                joint = (joint[:, None, :] * p[last][None, :, :]).reshape(-1, k)
            else:
                joint = None
        if exact:
            chunk = _chunk(n, joint.shape[0] * c, chunk_size)
            h = _joint_entropies_exact(joint, p, chunk)
        else:
            scaled, log_scale = _sample_configurations(p[picked], n_per_mask, rng)
            chunk = _chunk(n, scaled.shape[0] * c, chunk_size)
            h = _joint_entropies_sampled(scaled, log_scale, p, chunk)
        score = h - cond - (cond[picked].sum() if picked else 0.0)
        score[taken] = -math.inf
        best = int(torch.argmax(score))                         # first maximum: lowest index
        picked.append(best)
        scores.append(float(score[best]))
        taken[best] = True
    return np.asarray(picked, dtype=np.int64), np.asarray(scores, dtype=np.float64)

"""DEIMOS batch acquisition without ever building the (S*C) x (S*C) covariance.

V is a diagonal plus a matrix of rank at most J: with ``Phi`` the predictions centred over the J
masks and divided by sqrt(J - 1) (shape (S, C, J)),

    V = Phi Phi^T + s I     (regression, and classification with smoothing="diagonal")
    V = Phi Phi^T           (classification with smoothing="block": s I is added to each
                             inverted C x C block instead).

Read V as the covariance of the outputs of a Bayesian linear model ``f_i = Phi_i w`` with weights
``w ~ N(0, Sigma)``, ``Sigma = I`` at first. Conditioning V on a point n (one step of Algorithm 1)
is then exactly the posterior update of Sigma after observing ``y_n = Phi_n w + eps_n``,
eps_n ~ N(0, s I):

    Sigma <- Sigma - u u^T,   u = Sigma Phi_n^T L^-T,   L L^T = H_n = Phi_n Sigma Phi_n^T + s I,

with s = tau^-1 (regression) or tau_s^-1 (classification). With a diagonal term the observed
point's own rows then drop out of V (its noisy value is known); with block smoothing every row
stays. The EI of candidate n is ``tr(H_n^-1 G~_n)`` with ``G~_n = V_n^T V_n`` summed over the rows
still in V: ``G_n = Phi_n Sigma A Sigma Phi_n^T`` with ``A = sum_r Phi_r^T Phi_r`` over those rows
(J x J), plus ``2 s Q_n + s^2 I`` when the candidate's own noisy rows are among them
(``Q_n = Phi_n Sigma Phi_n^T``). Each candidate keeps Q_n and G_n (C x C); a pick changes them by

    Q_n -= Z Z^T,   G_n -= Z R^T + R Z^T,   [Z | R] = Phi_n [u | w]   (one GEMM over all n),

``w = Sigma A u - u (u^T A u) / 2`` (+ ``s^2 / 2 u L^-1 L^-T`` when the picked rows leave V; see
:func:`pick_update`), so one pick costs O(N C^2 J) and memory is O((S + N) C J) for N
candidates, S sample points, C classes and J masks.

One exact reduction shrinks the work: class probabilities sum to one, so a candidate's centred
rows sum to zero over classes and C - 1 orthonormal class directions (Helmert's) carry all of
V_n; the remaining direction only holds the candidate's own noise (a constant s in the gain with
diagonal smoothing, s in tr(H_n)). It is used only when the class sums vanish so closely that it
changes no gain by more than ~1e-10 of itself (normalised float64 probabilities do).

Candidates outside the sample (``candidate_preds``): the trace runs over the sample's rows only
and a candidate n enters through its noisy observation ``y_n = f_n + eps_n``, eps_n ~ N(0, s I_C)
independent of everything else: ``EI(n) = tr((V_nn + s I)^-1 V_Sn^T V_Sn)`` with ``V_Sn`` the
(noise-free) covariance between the sample's outputs and f_n, and conditioning on n updates Sigma
as above (the sample's rows all stay). The sample's own diagonal noise (smoothing "diagonal") is
independent of the candidates' and no conditioning changes it, so both smoothings give the same
picks and gains here.

On the CPU the loop runs in numba kernels (:mod:`.deimos_numba`) when numba is installed, and in
torch's own batched ops otherwise and on other devices (:class:`_TorchEngine`, also the plain
reference the kernels are tested against).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .._checks import (
    as_float_tensor,
    check_batch_size,
    check_candidates,
    check_mc_predictions,
    check_n_masks,
    check_nonnegative,
)
from .dense import DEFAULT_SMOOTHING, DEGENERATE_RTOL, SMOOTHINGS, check_smoothing  # noqa: F401

#: recompute the candidate blocks from Sigma once the best gain falls below this fraction of
#: its value at the last recomputation (see ``_TorchEngine.refresh``). The rank-c updates leave
#: an error of about eps * (picks) / (this ratio) relative to the gains, ~1e-10 in float64.
REFRESH_RATIO = 1e-4
#: drop one class direction only if max_n ||sum_c Phi_n[c]||^2 / C <= this x s: the largest
#: relative change of a gain it may cause, per computation precision (see class_sums_vanish)
CLASS_REDUCTION_RTOL = {torch.float64: 1e-10, torch.float32: 1e-6}
#: rows per chunk when computing features (bounds the temporaries)
FEATURE_CHUNK_ROWS = 1 << 16


def _validate(preds, batch_size, candidates, noise, dtype, smoothing=DEFAULT_SMOOTHING,
              candidate_preds=None):
    """Checked inputs: the sample's predictions (S, C, J) (C = 1 in regression), s, candidates,
    b, whether V has the noise on its diagonal (regression, or smoothing "diagonal"), and the
    outside candidates' predictions (N, C, J) or None."""
    t = as_float_tensor(preds, "preds", ndims=(2, 3), dtype=dtype)
    n_masks = t.shape[-1]
    check_n_masks(n_masks)
    check_mc_predictions(t, "preds")  # probabilities (C >= 2, sum to 1); warns without variance
    regression = t.ndim == 2
    if regression:
        t = t.unsqueeze(1)
    noise = check_nonnegative(noise, "noise")
    if not regression and noise == 0.0:
        raise ValueError(
            "noise (tau_s^-1) must be > 0 in classification: class probabilities sum to one, "
            "so every C x C block of V is singular; Appendix E uses 0.001-0.01 x the mean class "
            "dropout variance (see deimos_utils.uncertainty.calibration)"
        )
    diagonal = check_smoothing(smoothing, regression) == "diagonal"
    outside = _check_candidate_preds(candidate_preds, candidates, t, dtype)
    cand = check_candidates(candidates, t.shape[0] if outside is None else outside.shape[0])
    batch_size = check_batch_size(batch_size, len(cand))
    return t, noise, cand, batch_size, diagonal, outside


def _check_candidate_preds(candidate_preds, candidates, sample, dtype):
    """``candidate_preds`` as a tensor (N, C, J) on the sample's device, or None."""
    if candidate_preds is None:
        return None
    if candidates is not None:
        raise ValueError(
            "give either candidates (indices into preds) or candidate_preds (predictions of "
            "candidates outside the sample), not both"
        )
    t = as_float_tensor(candidate_preds, "candidate_preds", ndims=(2, 3), dtype=dtype)
    t = t.to(sample.device)
    if t.ndim == 2:
        t = t.unsqueeze(1)
    if t.shape[1:] != sample.shape[1:]:
        raise ValueError(
            f"candidate_preds has shape {tuple(t.shape)}, incompatible with preds "
            f"{tuple(sample.shape)}: the classes and masks (all axes but the first) must match"
        )
    if sample.shape[1] > 1:  # classification: probabilities, as for preds
        check_mc_predictions(t, "candidate_preds")
    return t


def orthonormal_complement(n: int, dtype=torch.float64, device=None) -> torch.Tensor:
    """(n, n - 1) orthonormal basis of the vectors orthogonal to the constant (Helmert's):
    column k - 1 is (1, ..., 1, -k, 0, ..., 0) / sqrt(k (k + 1)) with k ones."""
    k = torch.arange(1, n, dtype=dtype, device=device)
    i = torch.arange(n, dtype=dtype, device=device)[:, None]
    basis = (i < k).to(dtype) - k * (i == k).to(dtype)
    return basis / torch.sqrt(k * (k + 1))


def _features(x, rows=None):
    """Phi of ``x[rows]`` (M, C, J): centred over masks and divided by sqrt(J - 1), chunked."""
    n = x.shape[0] if rows is None else len(rows)
    out = torch.empty((n, x.shape[1], x.shape[2]), dtype=x.dtype, device=x.device)
    step = max(1, FEATURE_CHUNK_ROWS // x.shape[1])
    for i in range(0, n, step):
        idx = slice(i, min(n, i + step))
        chunk = x[idx] if rows is None else x[torch.as_tensor(rows[idx], device=x.device)]
        torch.sub(chunk, chunk.mean(dim=-1, keepdim=True), out=out[idx])
        out[idx] *= (x.shape[2] - 1) ** -0.5
    return out


def _max_row_sq(phi) -> float:
    """The largest squared norm of a (point, class) row of phi (M, C, J): V's largest diagonal
    entry without noise."""
    return float(torch.linalg.vector_norm(phi, dim=2).max()) ** 2 if phi.shape[0] else 0.0


def _gram(phi):
    """A = sum_r phi_r^T phi_r over the (point, class) rows of phi (M, C, J) -> (J, J)."""
    flat = phi.reshape(-1, phi.shape[-1])
    return flat.T @ flat


def sample_stats(sample):
    """A over all the sample's rows and their largest squared norm, without a full-size copy."""
    A = torch.zeros((sample.shape[2],) * 2, dtype=sample.dtype, device=sample.device)
    top = 0.0
    step = max(1, FEATURE_CHUNK_ROWS // sample.shape[1])
    for i in range(0, sample.shape[0], step):
        phi = _features(sample[i:i + step])
        A += _gram(phi)
        top = max(top, _max_row_sq(phi))
    return A, top


def class_sums_vanish(d2_max: float, s: float, dtype) -> bool:
    """Whether the constant class direction may be dropped, given max_n ||d_n||^2 with
    d_n = sum_c Phi_n[c] / sqrt(C): it enters every gain only at second order, as
    ||d_n||^2 / s relative to it, so this keeps every gain within ~1e-10 of itself (float64)."""
    return d2_max <= CLASS_REDUCTION_RTOL.get(dtype, 1e-10) * s


@dataclass
class _Problem:
    """The candidate features and constants the greedy loop works on (see the module docstring).

    P (N, c, J) candidate features (c = C, or C - 1 after the class reduction); A (J, J);
    own_noise: the candidates' own noisy rows are in the trace and leave V when picked;
    extra: constant added to every score (the dropped class direction's own noise, s);
    extra_trace: the same for tr(H_n) in the degeneracy test; floor: that test's threshold.
    """

    P: torch.Tensor | None
    A: torch.Tensor
    s: float
    own_noise: bool
    extra: float
    extra_trace: float
    floor: float


def make_problem(P, A, s, diagonal, outside, n_classes, diag_max, reduced) -> _Problem:
    """The constants of :class:`_Problem` (one definition for both engines)."""
    # the dense reference's threshold: V's largest diagonal entry, its noise included if V has it
    floor = DEGENERATE_RTOL * max(diag_max + (s if diagonal else 0.0), 1e-300) * n_classes
    own = diagonal and outside is None
    return _Problem(P, A, s, own, s if (reduced and own) else 0.0, s if reduced else 0.0, floor)


def _prepare(sample, cand, s, diagonal, outside) -> _Problem:
    """Features of the candidates (N, c, J) and A of the trace rows, for :class:`_TorchEngine`."""
    n_classes = sample.shape[1]
    if outside is None:
        every = len(cand) == sample.shape[0] and np.array_equal(cand, np.arange(len(cand)))
        P = _features(sample, None if every else cand)
        A, diag_max = (_gram(P), _max_row_sq(P)) if every else sample_stats(sample)
    else:
        A, diag_max = sample_stats(sample)
        P = _features(outside)
        diag_max = max(diag_max, _max_row_sq(P))
    reduced = False
    if n_classes > 1 and len(P):
        d2 = float((P.sum(dim=1) ** 2).sum(dim=1).max()) / n_classes
        reduced = class_sums_vanish(d2, s, P.dtype)
    if reduced:
        P = orthonormal_complement(n_classes, P.dtype, P.device).T @ P  # (N, C - 1, J)
    return make_problem(P.contiguous(), A, s, diagonal, outside, n_classes, diag_max, reduced)


class _TorchEngine:
    """The greedy loop's per-candidate state in torch's batched ops (any device).

    Holds Sigma and A (J', J') and, for the N candidates, Q = P Sigma P^T and G = P Sigma A
    Sigma P^T (N, c, c). This is the plain path: the numba kernels are tested against it.
    """

    def __init__(self, prob: _Problem):
        self.prob = prob
        n, c, j = prob.P.shape
        self.P, self.P_flat = prob.P, prob.P.view(-1, j)
        self.A = prob.A.clone()
        self.Sigma = torch.eye(j, dtype=prob.P.dtype, device=prob.P.device)
        self.s_eye = prob.s * torch.eye(c, dtype=prob.P.dtype, device=prob.P.device)
        self.device = prob.P.device
        self.refresh()

    def refresh(self):
        """Recompute Q and G from Sigma (O(N c J^2)), then score.

        The updates subtract from G, which holds squares of V's entries: once the gains have
        fallen by orders of magnitude their relative error grows, and a refresh brings it back
        to the precision of Sigma.
        """
        W = (self.P_flat @ self.Sigma).view(self.P.shape)
        self.Q = W @ self.P.mT
        self.G = (W.view(-1, W.shape[-1]) @ self.A).view(W.shape) @ W.mT
        return self.scores()

    def scores(self):
        """EI of every candidate (N,) and the mask of degenerate blocks (gain 0)."""
        prob, c = self.prob, self.P.shape[1]
        H = self.Q + self.s_eye
        # the candidate's own noisy rows in the trace add 2 s Q + s^2 I = s (Q + H) to G
        Gt = self.G + prob.s * (self.Q + H) if prob.own_noise else self.G
        trace = H.diagonal(dim1=1, dim2=2).sum(-1) + prob.extra_trace
        if c == 1:
            h = H[:, 0, 0]
            score, failed = Gt[:, 0, 0] / torch.where(h > 0, h, 1.0), h <= 0
        else:
            L, info = torch.linalg.cholesky_ex(H)
            score = torch.cholesky_solve(Gt, L).diagonal(dim1=1, dim2=2).sum(-1)
            failed = info != 0
        score = score + prob.extra
        degenerate = (trace <= prob.floor) | failed | ~torch.isfinite(score)
        return torch.where(degenerate, torch.zeros_like(score), score), degenerate

    def condition(self, best: int):
        """Condition V on candidate ``best`` (one step of Algorithm 1) and score again."""
        n, c, _ = self.P.shape
        UW, self.Sigma, self.A = pick_update(self.Sigma, self.A, self.P[best], self.Q[best],
                                             self.prob.s, self.prob.own_noise)
        Y = (self.P_flat @ UW).view(n, c, 2 * c)
        Z, R = Y[..., :c], Y[..., c:]
        self.Q = torch.baddbmm(self.Q, Z, Z.mT, alpha=-1.0)
        X = Z @ R.mT
        self.G = self.G - X - X.mT
        return self.scores()


def pick_update(Sigma, A, Pb, Qb, s, own_noise):
    """The J' x J' algebra of one pick: its directions [u | w] (J', 2c), and Sigma and A after it.

    Pb (c, J') and Qb (c, c) are the picked candidate's features and Q block. With L L^T =
    Qb + s I: u = Sigma Pb^T L^-T, M = u^T A u, w = Sigma A u - u M / 2, plus s^2 / 2 u L^-1
    L^-T when the picked rows leave V (their share of G is (P_n Sigma' Pb^T)(...)^T, and
    Sigma' Pb^T = s u L^-1). Then Sigma' = Sigma - u u^T and, in that case, A' = A - Pb^T Pb.
    """
    eye = torch.eye(Pb.shape[0], dtype=Pb.dtype, device=Pb.device)
    Lb = torch.linalg.cholesky(Qb + s * eye)
    u = torch.linalg.solve_triangular(Lb, Pb @ Sigma, upper=False).T
    Au = A @ u
    w = Sigma @ Au - 0.5 * (u @ (u.T @ Au))
    if own_noise:
        L_inv = torch.linalg.solve_triangular(Lb, eye, upper=False)
        w = w + (0.5 * s * s) * (u @ (L_inv @ L_inv.T))
        A = A - Pb.T @ Pb
    return torch.cat([u, w], dim=1), Sigma - u @ u.T, A


def _engine(sample, cand, s, diagonal, outside):
    """The numba kernels for CPU tensors when numba is installed, torch's ops otherwise."""
    if sample.device.type == "cpu":
        from . import deimos_numba

        if deimos_numba.AVAILABLE:
            return deimos_numba.NumbaEngine(sample, cand, s, diagonal, outside)
    return _TorchEngine(_prepare(sample, cand, s, diagonal, outside))


def _greedy(engine, cand, batch_size):
    """Algorithm 1 on an engine's scores; picks as ``cand`` entries, gains as float64."""
    available = torch.ones(len(cand), dtype=torch.bool, device=engine.device)
    picked, gains = [], []
    score, degenerate = engine.scores()
    level = None  # the best score just after the last refresh
    for step in range(batch_size):
        masked = score.masked_fill(~available, -torch.inf)
        best = int(torch.argmax(masked))
        if level is None:
            level = float(masked[best])
        elif float(masked[best]) < REFRESH_RATIO * level:
            score, degenerate = engine.refresh()
            masked = score.masked_fill(~available, -torch.inf)
            best = int(torch.argmax(masked))
            level = float(masked[best])
        available[best] = False
        picked.append(int(cand[best]))
        gains.append(float(masked[best]))
        if step < batch_size - 1 and not bool(degenerate[best]):
            score, degenerate = engine.condition(best)
    return np.asarray(picked, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def deimos_batch(preds, batch_size, *, candidates=None, candidate_preds=None, noise=0.0,
                 smoothing=DEFAULT_SMOOTHING, dtype=torch.float64):
    """Greedy DEIMOS batch (Algorithm 1), exact, in O((S + N) C J) memory.

    Parameters
    ----------
    preds : (S, J) regression predictions or (S, C, J) class probabilities of the S points of the
        representative sample under J fixed dropout masks; numpy array or torch tensor (computed on
        the tensor's device, e.g. CUDA).
    batch_size : number of points to pick, b.
    candidates : indices into the S points that may be picked (default: all). The others count in
        the trace but are never picked.
    candidate_preds : (N, J) or (N, C, J) predictions of N candidates outside the sample, under
        the same masks (instead of ``candidates``). The trace then runs over the sample's rows
        only, and a candidate is conditioned on through its noisy observation (module docstring).
    noise : tau^-1 in regression (the diagonal of V), tau_s^-1 in classification (must be > 0).
    smoothing : where tau_s^-1 goes in classification. "diagonal" (default, the authors' code):
        V = Cov + s I over all C*S rows, the regression formula with C columns per point (a
        picked point's own rows leave V). "block" (the paper's text): V = Cov, and s I is added
        to each C x C block that is inverted. Regression accepts only "diagonal".
    dtype : computation precision (float64 by default; float32 is about twice as fast and may
        pick differently where gains are close).

    Returns
    -------
    picked : (b,) int64 indices into the S points (into ``candidate_preds`` when given), in pick
        order.
    gains : (b,) float64, the trace reduction of V caused by each pick.
    """
    sample, s, cand, batch_size, diagonal, outside = _validate(
        preds, batch_size, candidates, noise, dtype, smoothing, candidate_preds)
    return _greedy(_engine(sample, cand, s, diagonal, outside), cand, batch_size)


def deimos_scores(preds, *, candidates=None, candidate_preds=None, noise=0.0,
                  smoothing=DEFAULT_SMOOTHING, dtype=torch.float64) -> np.ndarray:
    """EI of every candidate under the current V (the first step of Algorithm 1), in O(N C^2 J).

    Same arguments as :func:`deimos_batch`; returns (N,) float64 in the order of ``candidates``
    (or of ``candidate_preds``).
    """
    sample, s, cand, _, diagonal, outside = _validate(
        preds, 1, candidates, noise, dtype, smoothing, candidate_preds)
    score, _ = _engine(sample, cand, s, diagonal, outside).scores()
    return score.cpu().numpy().astype(np.float64)

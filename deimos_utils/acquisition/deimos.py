"""DEIMOS batch acquisition without ever building the (S*C) x (S*C) covariance.

V is a diagonal plus a matrix of rank at most J: with ``Phi`` the predictions centred over the J
masks and divided by sqrt(J - 1) (shape (S, C, J)),

    V = Phi Phi^T + s I     (regression, and classification with smoothing="diagonal")
    V = Phi Phi^T           (classification with smoothing="block": s I is added to each
                             inverted C x C block instead).

Read V as the covariance of the outputs of a Bayesian linear model ``f_i = Phi_i w`` with weights
``w ~ N(0, Sigma)``, ``Sigma = I`` at first. Conditioning V on a point n (one step of Algorithm 1)
is then exactly the posterior update of Sigma after observing ``Phi_n w + eps``, eps ~ N(0, s I):

    Sigma <- Sigma - Sigma Phi_n^T (Phi_n Sigma Phi_n^T + s I)^-1 Phi_n Sigma,

with s = tau^-1 (regression) or tau_s^-1 (classification). With a diagonal term the observed
point's own rows then drop out of V (its noisy value is known); with block smoothing every row
stays. The EI of candidate n, ``tr(V_n (V_nn + sI)^-1 V_n^T)`` (V_nn without the diagonal term),
only needs ``V_nn = Phi_n Sigma Phi_n^T`` (C x C) and ``Phi_n Sigma A Sigma Phi_n^T`` with
``A = sum_i Phi_i^T Phi_i`` over the rows still in V (J x J); the diagonal term adds
``2 s V_nn + s^2 I`` to ``V_n^T V_n``. The loop below keeps ``W = Phi_cand Sigma`` and ``X = W A`` for the candidates and updates
them with rank-C corrections, so one pick costs O(N C^2 J) and memory O((S + N) C J) for N
candidates, S sample points, C classes and J masks.
"""
from __future__ import annotations

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
#: its value at the last recomputation (see ``_CandidateBlocks.refresh``)
REFRESH_RATIO = 1e-3


def _validate(preds, batch_size, candidates, noise, dtype, smoothing=DEFAULT_SMOOTHING):
    """Checked inputs: Phi (S, C, J) centred over masks / sqrt(J - 1), task, s, candidates, b,
    and whether a picked point's own rows leave V (regression, or smoothing "diagonal")."""
    t = as_float_tensor(preds, "preds", ndims=(2, 3), dtype=dtype)
    n_masks = t.shape[-1]
    check_n_masks(n_masks)
    check_mc_predictions(t, "preds")  # probabilities (C >= 2, sum to 1); warns without variance
    regression = t.ndim == 2
    if regression:
        t = t.unsqueeze(1)
    phi = (t - t.mean(dim=-1, keepdim=True)).mul_((n_masks - 1) ** -0.5)
    noise = check_nonnegative(noise, "noise")
    if not regression and noise == 0.0:
        raise ValueError(
            "noise (tau_s^-1) must be > 0 in classification: class probabilities sum to one, "
            "so every C x C block of V is singular; Appendix E uses 0.001-0.01 x the mean class "
            "dropout variance (see deimos_utils.calibration)"
        )
    drop_rows = check_smoothing(smoothing, regression) == "diagonal"
    cand = check_candidates(candidates, phi.shape[0])
    batch_size = check_batch_size(batch_size, len(cand))
    return phi, drop_rows, noise, cand, batch_size


class _CandidateBlocks:
    """The C x C blocks of V that the greedy loop needs, for N candidates, updated in place.

    Holds ``V_nn = Phi_n Sigma Phi_n^T`` and ``G = V_n^T V_n`` (without noise terms), each
    (N, C, C), plus Sigma and A (J, J). All work buffers are allocated once: on the CPU a fresh
    multi-megabyte tensor per operation costs more than the arithmetic.
    """

    def __init__(self, phi, cand, s, drop_rows):
        n_points, n_classes, n_masks = phi.shape
        dev, dt = phi.device, phi.dtype
        flat = phi.reshape(-1, n_masks)
        self.A = flat.T @ flat  # (J, J): sum of phi_r^T phi_r over the rows still in V
        diag_max = float(torch.linalg.vector_norm(flat, dim=1).max()) ** 2 + (s if drop_rows else 0.0)
        # below this trace a block counts as known (gain 0), as in the dense reference
        self.floor = DEGENERATE_RTOL * max(diag_max, 1e-300) * n_classes
        self.s, self.drop_rows, self.C = s, drop_rows, n_classes
        if len(cand) == n_points and np.array_equal(cand, np.arange(n_points)):
            self.P = phi.contiguous()  # (N, C, J): every point is a candidate
        else:
            self.P = phi[torch.as_tensor(cand, device=dev)].contiguous()
        self.P_flat = self.P.view(-1, n_masks)
        self.Sigma = torch.eye(n_masks, dtype=dt, device=dev)
        self.s_eye = s * torch.eye(n_classes, dtype=dt, device=dev)
        self.V_nn = self.P @ self.P.mT  # Sigma = I
        self.G = (self.P_flat @ self.A).view(self.P.shape) @ self.P.mT
        n = len(cand)
        buf = lambda: torch.empty((n, n_classes, n_classes), dtype=dt, device=dev)  # noqa: E731
        self.H, self.Q, self.T, self.U = buf(), buf(), buf(), buf()
        self.ZR = torch.empty((n, n_classes, 2 * n_classes), dtype=dt, device=dev)
        if n_classes > 1:
            self.L, self.L_inv = buf(), buf()
            self.info = torch.empty(n, dtype=torch.int32, device=dev)
            self.eye_n = torch.eye(n_classes, dtype=dt, device=dev).expand(n, -1, -1).contiguous()

    def refresh(self):
        """Recompute the blocks from Sigma: V_nn = P Sigma P^T, G = (P Sigma) A (P Sigma)^T.

        The in-place updates subtract from G, which holds squares of V's entries: once the gains
        have fallen by orders of magnitude their relative error grows, and a refresh (O(N C J^2))
        brings it back to the precision of Sigma.
        """
        W = (self.P_flat @ self.Sigma).view(self.P.shape)
        self.V_nn = W @ self.P.mT
        self.G = (W.view(-1, W.shape[-1]) @ self.A).view(W.shape) @ W.mT

    def scores(self):
        """EI of every candidate, (N,), and the mask of degenerate blocks."""
        s = self.s
        torch.add(self.V_nn, self.s_eye, out=self.H)
        G = self.G
        if self.drop_rows:
            # V_n^T V_n with V's own diagonal noise in the candidate's rows: G + 2 s q + s^2 I
            G = self.U
            torch.add(self.V_nn, self.H, out=G).mul_(s).add_(self.G)
        if self.C == 1:
            h = self.H[:, 0, 0]
            score = G[:, 0, 0] / torch.where(h > 0, h, 1.0)
        else:
            # tr(H^-1 G) = sum_kj (L^-1 G)_kj (L^-1)_kj with H = L L^T
            torch.linalg.cholesky_ex(self.H, out=(self.L, self.info))
            torch.linalg.solve_triangular(self.L, self.eye_n, upper=False, out=self.L_inv)
            torch.bmm(self.L_inv, G, out=self.T)
            score = self.T.mul_(self.L_inv).sum(dim=(1, 2))
        degenerate = self.H.diagonal(dim1=1, dim2=2).sum(-1) <= self.floor
        return torch.where(degenerate, torch.zeros_like(score), score), degenerate

    def condition(self, best):
        """Condition V on candidate ``best`` (one step of Algorithm 1), in place.

        With u = Sigma Phi_n^T (J, C) and H_n = V_nn + sI: Sigma <- Sigma - u H_n^-1 u^T. The
        blocks follow from Z = Phi_i Sigma Phi_n^T (the blocks V_in) and R = Phi_i Sigma A u.
        """
        Pn, Hn = self.P[best], self.H[best].clone()
        Hn_inv = torch.linalg.inv(Hn)
        u = self.Sigma @ Pn.T
        Au = self.A @ u
        C = self.C
        # one pass over P for Z = Phi_i Sigma Phi_n^T (the blocks V_in) and R = Phi_i Sigma A u
        torch.mm(self.P_flat, torch.cat([u, self.Sigma @ Au], dim=1), out=self.ZR.view(-1, 2 * C))
        Z, R = self.ZR[..., :C], self.ZR[..., C:]
        torch.matmul(Z, Hn_inv, out=self.Q)  # Q = V_in H_n^-1
        torch.bmm(self.Q, Z.mT, out=self.T)
        self.V_nn.sub_(self.T)
        # G -= Q R^T + R Q^T - Q M Q^T = Y + Y^T with Y = Q (R - Q M / 2)^T, M = u^T A u
        torch.matmul(self.Q, u.T @ Au, out=self.T)
        R.sub_(self.T, alpha=0.5)
        torch.bmm(self.Q, R.mT, out=self.T)
        self.G.sub_(self.T).sub_(self.T.mT)
        if self.drop_rows:
            # the picked point's rows leave V: A <- A - Pn^T Pn, so G loses (Phi Sigma' Pn^T)^2;
            # Phi Sigma' Pn^T = Z - Q (Hn - sI), as Hn - sI = Phi_n Sigma Phi_n^T before the pick
            torch.matmul(self.Q, Hn - self.s_eye, out=self.T)
            torch.sub(Z, self.T, out=self.T)
            torch.bmm(self.T, self.T.mT, out=self.U)
            self.G.sub_(self.U)
            self.A = self.A - Pn.T @ Pn
        self.Sigma = self.Sigma - u @ Hn_inv @ u.T


def deimos_batch(preds, batch_size, *, candidates=None, noise=0.0, smoothing=DEFAULT_SMOOTHING,
                 dtype=torch.float64):
    """Greedy DEIMOS batch (Algorithm 1), exact, in O(S C J) memory.

    Parameters
    ----------
    preds : (S, J) regression predictions or (S, C, J) class probabilities of the S points of the
        representative sample under J fixed dropout masks; numpy array or torch tensor (computed on
        the tensor's device, e.g. CUDA).
    batch_size : number of points to pick, b.
    candidates : indices into the S points that may be picked (default: all). The others count in
        the trace but are never picked.
    noise : tau^-1 in regression (the diagonal of V), tau_s^-1 in classification (must be > 0).
    smoothing : where tau_s^-1 goes in classification. "diagonal" (default, the authors' code):
        V = Cov + s I over all C*S rows, the regression formula with C columns per point (a
        picked point's own rows leave V). "block" (the paper's text): V = Cov, and s I is added
        to each C x C block that is inverted. Regression accepts only "diagonal".
    dtype : computation precision (float64 by default).

    Returns
    -------
    picked : (b,) int64 indices into the S points, in pick order.
    gains : (b,) float64, the trace reduction of V caused by each pick.
    """
    phi, drop_rows, s, cand, batch_size = _validate(preds, batch_size, candidates, noise, dtype,
                                                    smoothing)
    blocks = _CandidateBlocks(phi, cand, s, drop_rows)
    available = torch.ones(len(cand), dtype=torch.bool, device=phi.device)
    picked, gains = [], []
    level = None  # the best score just after the last refresh
    for step in range(batch_size):
        score, degenerate = blocks.scores()
        score = score.masked_fill_(~available, -torch.inf)
        best = int(torch.argmax(score))
        if level is None:
            level = float(score[best])
        elif float(score[best]) < REFRESH_RATIO * level:
            blocks.refresh()
            score, degenerate = blocks.scores()
            score = score.masked_fill_(~available, -torch.inf)
            best = int(torch.argmax(score))
            level = float(score[best])
        available[best] = False
        picked.append(int(cand[best]))
        gains.append(float(score[best]))
        if step < batch_size - 1 and not bool(degenerate[best]):
            blocks.condition(best)
    return np.asarray(picked, dtype=np.int64), np.asarray(gains, dtype=np.float64)


def deimos_scores(preds, *, candidates=None, noise=0.0, smoothing=DEFAULT_SMOOTHING,
                  dtype=torch.float64) -> np.ndarray:
    """EI of every candidate under the current V (the first step of Algorithm 1), in O(N C^2 J).

    Same arguments as :func:`deimos_batch`; returns (N,) float64 in the order of ``candidates``.
    """
    phi, drop_rows, s, cand, _ = _validate(preds, 1, candidates, noise, dtype, smoothing)
    score, _ = _CandidateBlocks(phi, cand, s, drop_rows).scores()
    return score.cpu().numpy().astype(np.float64)

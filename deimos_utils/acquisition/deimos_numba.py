"""Numba kernels for the CPU path of :func:`~deimos_utils.acquisition.deimos_batch`.

The same algorithm as :class:`~deimos_utils.acquisition.deimos._TorchEngine` (see the docstring of
:mod:`~deimos_utils.acquisition.deimos`), with the candidates' state laid out for the CPU:
candidates are grouped in panels of ``B`` lanes, and every per-candidate quantity is stored with
the lane last and contiguous, e.g. ``Q[p, a, b, l] = (Q_n)_ab`` and ``PT[p, j, a, l] = P_n[a, j]``
for candidate ``n = p B + l``. Every kernel loops over lanes innermost, so LLVM's loop vectorizer
processes several candidates per instruction with the same arithmetic as the scalar code
(fastmath off: no reassociation). A pick is one compiled call: the J x J algebra of
:func:`~deimos_utils.acquisition.deimos.pick_update` (:func:`_pick_update`, the same formulas),
then per panel one product ``[Z | R]^T = [u | w]^T P`` (BLAS through numba's ``np.dot`` for
c > 3; :func:`_project` for c <= 3, where the product is narrow and bound by memory), and the
rank-c updates of Q and G and the new scores while that panel is in cache: one pass over the
candidates per pick.

Only the lower triangles of Q and G (c x c) are kept. Lanes past the last candidate hold zeros
and are never returned. ``AVAILABLE`` is False when numba cannot be imported; callers then use
torch's ops.
"""
from __future__ import annotations

import numpy as np
import torch

try:
    from numba import njit
except ImportError:  # pragma: no cover - exercised only without numba
    AVAILABLE = False
else:
    AVAILABLE = True

#: up to this many class directions the per-pick product runs in :func:`_project` (about twice
#: BLAS's speed at c = 1, where the pass over the candidates is bound by memory); BLAS beyond
OWN_PRODUCT_MAX_C = 3

if AVAILABLE:
    _OPTS = dict(cache=True, nogil=True, fastmath=False, boundscheck=False, error_model="numpy")

    @njit(**_OPTS)
    def _subtract_pick(Q, G, Y, c):
        """Q_ab -= sum_k Z_ka Z_kb and G_ab -= sum_k (Z_ka R_kb + R_ka Z_kb) for b <= a, with
        Z = Y[:c] and R = Y[c:] (each (c, c, B), lanes last), two k per pass over the lanes."""
        B = Q.shape[2]
        for a in range(c):
            for b in range(a + 1):
                q, g = Q[a, b], G[a, b]
                k = 0
                while k + 1 < c:
                    za, zb, ra, rb = Y[k, a], Y[k, b], Y[c + k, a], Y[c + k, b]
                    za1, zb1 = Y[k + 1, a], Y[k + 1, b]
                    ra1, rb1 = Y[c + k + 1, a], Y[c + k + 1, b]
                    for l in range(B):
                        q[l] -= za[l] * zb[l] + za1[l] * zb1[l]
                        g[l] -= ((za[l] * rb[l] + ra[l] * zb[l])
                                 + (za1[l] * rb1[l] + ra1[l] * zb1[l]))
                    k += 2
                if k < c:
                    za, zb, ra, rb = Y[k, a], Y[k, b], Y[c + k, a], Y[c + k, b]
                    for l in range(B):
                        q[l] -= za[l] * zb[l]
                        g[l] -= za[l] * rb[l] + ra[l] * zb[l]

    @njit(**_OPTS)
    def _project(UWt, P, Y):
        """Y[k, a, l] = sum_j UWt[k, j] P[j, a, l] for one panel (P: (J, c, B), Y: (2c, c, B)).

        For c <= OWN_PRODUCT_MAX_C: two rows of Y per pass over P[:, a], four j per pass over
        the lanes; BLAS does better on the wider products of more classes."""
        J, c, B = P.shape
        K = UWt.shape[0]
        for a in range(c):
            for k in range(0, K, 2):
                z, r = Y[k, a], Y[k + 1, a]
                for l in range(B):
                    z[l] = 0.0
                    r[l] = 0.0
                j = 0
                while j + 3 < J:
                    p0, p1, p2, p3 = P[j, a], P[j + 1, a], P[j + 2, a], P[j + 3, a]
                    a0, a1, a2, a3 = UWt[k, j], UWt[k, j + 1], UWt[k, j + 2], UWt[k, j + 3]
                    b0, b1 = UWt[k + 1, j], UWt[k + 1, j + 1]
                    b2, b3 = UWt[k + 1, j + 2], UWt[k + 1, j + 3]
                    for l in range(B):
                        z[l] += (a0 * p0[l] + a1 * p1[l]) + (a2 * p2[l] + a3 * p3[l])
                        r[l] += (b0 * p0[l] + b1 * p1[l]) + (b2 * p2[l] + b3 * p3[l])
                    j += 4
                while j < J:
                    p0, a0, b0 = P[j, a], UWt[k, j], UWt[k + 1, j]
                    for l in range(B):
                        z[l] += a0 * p0[l]
                        r[l] += b0 * p0[l]
                    j += 1

    @njit(**_OPTS)
    def _set_products(Q, G, X1, X2, X3):
        """Q_ab = sum_k X1_ka X2_kb and G_ab = sum_k X2_ka X3_kb for b <= a (X: (K, c, B))."""
        K, c, B = X1.shape
        for a in range(c):
            for b in range(a + 1):
                q, g = Q[a, b], G[a, b]
                for l in range(B):
                    q[l] = 0.0
                    g[l] = 0.0
                k = 0
                while k + 1 < K:
                    x1a, x2b, x2a, x3b = X1[k, a], X2[k, b], X2[k, a], X3[k, b]
                    y1a, y2b, y2a, y3b = X1[k + 1, a], X2[k + 1, b], X2[k + 1, a], X3[k + 1, b]
                    for l in range(B):
                        q[l] += x1a[l] * x2b[l] + y1a[l] * y2b[l]
                        g[l] += x2a[l] * x3b[l] + y2a[l] * y3b[l]
                    k += 2
                if k < K:
                    x1a, x2b, x2a, x3b = X1[k, a], X2[k, b], X2[k, a], X3[k, b]
                    for l in range(B):
                        q[l] += x1a[l] * x2b[l]
                        g[l] += x2a[l] * x3b[l]

    @njit(**_OPTS)
    def _pack(x, rows, scale, reduce, PT, D, stats):
        """PT[p, j, a, l] <- Phi of point ``rows[p B + l]`` of x (S, C, J): centred over masks,
        times ``scale``, and over classes in Helmert's C - 1 directions if ``reduce``, with the
        remaining direction's share in D[n] (sum_c Phi_n[c] / sqrt(C)). stats[0] <- the
        largest squared row norm of Phi, stats[1] <- the largest ||D_n||^2."""
        n_panels, J, c, B = PT.shape
        C = x.shape[1]
        buf = np.empty((C, J), dtype=PT.dtype)
        helmert = np.empty(C)
        for k in range(1, C):
            helmert[k] = 1.0 / np.sqrt(k * (k + 1.0))
        for n in range(len(rows)):
            r = rows[n]
            p = n // B
            l = n - p * B
            for a in range(C):
                m = 0.0
                for j in range(J):
                    m += x[r, a, j]
                m /= J
                norm = 0.0
                for j in range(J):
                    v = (x[r, a, j] - m) * scale
                    buf[a, j] = v
                    norm += v * v
                stats[0] = max(stats[0], norm)
            if reduce:
                d2 = 0.0
                for j in range(J):
                    cs = buf[0, j]
                    for k in range(1, C):
                        PT[p, j, k - 1, l] = (cs - k * buf[k, j]) * helmert[k]
                        cs += buf[k, j]
                    D[n, j] = cs / np.sqrt(C)
                    d2 += D[n, j] * D[n, j]
                stats[1] = max(stats[1], d2)
            else:
                for a in range(C):
                    for j in range(J):
                        PT[p, j, a, l] = buf[a, j]

    @njit(**_OPTS)
    def _cholesky_inverse(Q, s, L, V):
        """L L^T = Q + s I (lower, lanes last) and V = L^-1 (lower)."""
        c, _, B = Q.shape
        for j in range(c):
            d, q = L[j, j], Q[j, j]
            for l in range(B):
                d[l] = q[l] + s
            for k in range(j):
                ljk = L[j, k]
                for l in range(B):
                    d[l] -= ljk[l] * ljk[l]
            vjj = V[j, j]
            for l in range(B):
                d[l] = np.sqrt(d[l])
                vjj[l] = 1.0 / d[l]
            for i in range(j + 1, c):
                lij, q = L[i, j], Q[i, j]
                for l in range(B):
                    lij[l] = q[l]
                for k in range(j):
                    lik, ljk = L[i, k], L[j, k]
                    for l in range(B):
                        lij[l] -= lik[l] * ljk[l]
                for l in range(B):
                    lij[l] *= vjj[l]
        for j in range(c):  # V_ij = -(sum_{k=j}^{i-1} L_ik V_kj) / L_ii
            for i in range(j + 1, c):
                vij = V[i, j]
                lij, vjj = L[i, j], V[j, j]
                for l in range(B):
                    vij[l] = lij[l] * vjj[l]
                for k in range(j + 1, i):
                    lik, vkj = L[i, k], V[k, j]
                    for l in range(B):
                        vij[l] += lik[l] * vkj[l]
                vii = V[i, i]
                for l in range(B):
                    vij[l] = -vij[l] * vii[l]

    @njit(**_OPTS)
    def _panel_scores(Q, G, s, own_noise, extra, extra_trace, floor, out, degenerate, L, V, h):
        """EI of a panel's candidates, tr(H^-1 G~) + extra with H = Q + s I and G~ = G (+ 2 s Q
        + s^2 I with own noise), into ``out``; 0 and ``degenerate`` where tr(H) + extra_trace
        <= floor or the result is not finite."""
        c, _, B = Q.shape
        for l in range(B):
            out[l] = extra
            h[l] = extra_trace + c * s
        for i in range(c):
            qii = Q[i, i]
            for l in range(B):
                h[l] += qii[l]
        if c == 1:
            q, g = Q[0, 0], G[0, 0]
            for l in range(B):
                gt = g[l] + s * (2.0 * q[l] + s) if own_noise else g[l]
                out[l] += gt / (q[l] + s)
        else:
            _cholesky_inverse(Q, s, L, V)
            hij = L[0, 0]  # reused: L is not needed any more once V is known
            for i in range(c):
                for j in range(i + 1):
                    for l in range(B):
                        hij[l] = 0.0
                    for k in range(i, c):  # (H^-1)_ij = sum_{k >= i} V_ki V_kj
                        vki, vkj = V[k, i], V[k, j]
                        for l in range(B):
                            hij[l] += vki[l] * vkj[l]
                    f = 1.0 if i == j else 2.0
                    g, q = G[i, j], Q[i, j]
                    if own_noise:
                        sd = s * s if i == j else 0.0
                        for l in range(B):
                            out[l] += f * hij[l] * (g[l] + (2.0 * s * q[l] + sd))
                    else:
                        for l in range(B):
                            out[l] += f * hij[l] * g[l]
        for l in range(B):
            bad = not (h[l] > floor) or not np.isfinite(out[l])
            degenerate[l] = bad
            if bad:
                out[l] = 0.0

    @njit(**_OPTS)
    def _pick_update(Sigma, A, Pb, Qb, s, own_noise, UWt):
        """:func:`deimos.pick_update` in place: UWt (2c, J) <- [u | w]^T, Sigma -= u u^T and,
        with own noise, A -= Pb^T Pb. Pb (c, J) and the lower triangle of Qb (c, c) are the
        picked candidate's features and Q block."""
        c, J = Pb.shape
        Lb = np.zeros((c, c), dtype=Pb.dtype)
        for i in range(c):  # Lb Lb^T = Qb + s I
            for j in range(i + 1):
                v = Qb[i, j] + (s if i == j else 0.0)
                for k in range(j):
                    v -= Lb[i, k] * Lb[j, k]
                Lb[i, j] = np.sqrt(v) if i == j else v / Lb[j, j]
        Ut = np.dot(Pb, Sigma)  # then u^T = Lb^-1 Pb Sigma, by forward substitution
        for i in range(c):
            for k in range(i):
                Ut[i] -= Lb[i, k] * Ut[k]
            Ut[i] /= Lb[i, i]
        AuT = np.dot(Ut, A)  # (A u)^T, A symmetric
        M = np.dot(Ut, AuT.T)
        Wt = np.dot(AuT, Sigma) - 0.5 * np.dot(M, Ut)
        if own_noise:
            L_inv = np.linalg.inv(Lb)
            Wt += (0.5 * s * s) * np.dot(np.dot(L_inv, L_inv.T), Ut)
            A -= np.dot(Pb.T, Pb)
        Sigma -= np.dot(Ut.T, Ut)
        UWt[:c] = Ut
        UWt[c:] = Wt

    @njit(**_OPTS)
    def _condition(PT, Sigma, A, best, UWt, Q, G, Y, s, own_noise, extra, extra_trace, floor,
                   score, degenerate, L, V, h):
        """Condition on candidate ``best``: the pick's J x J algebra, then every panel."""
        n_panels, J, c, B = PT.shape
        p, l = best // B, best % B
        Pb = np.ascontiguousarray(PT[p, :, :, l].T)
        Qb = np.ascontiguousarray(Q[p, :, :, l])
        _pick_update(Sigma, A, Pb, Qb, s, own_noise, UWt)
        _condition_panels(PT, UWt, Q, G, Y, s, own_noise, extra, extra_trace, floor,
                          score, degenerate, L, V, h)

    @njit(**_OPTS)
    def _condition_panels(PT, UWt, Q, G, Y, s, own_noise, extra, extra_trace, floor,
                          score, degenerate, L, V, h):
        """For every panel: [Z | R] from one BLAS product, the rank-c updates, new scores."""
        n_panels, J, c, B = PT.shape
        Y2 = Y.reshape(2 * c, c * B)
        for p in range(n_panels):
            if c <= OWN_PRODUCT_MAX_C:
                _project(UWt, PT[p], Y)
            else:
                np.dot(UWt, PT[p].reshape(J, c * B), Y2)
            _subtract_pick(Q[p], G[p], Y, c)
            lanes = slice(p * B, (p + 1) * B)
            _panel_scores(Q[p], G[p], s, own_noise, extra, extra_trace, floor,
                          score[lanes], degenerate[lanes], L, V, h)

    @njit(**_OPTS)
    def _refresh_panels(PT, Sigma, identity, A, Q, G, W, X, s, own_noise, extra, extra_trace,
                        floor, score, degenerate, L, V, h):
        """For every panel: Q = P Sigma P^T and G = P Sigma A Sigma P^T from Sigma (skipping
        the product with Sigma when it is the identity), then the scores."""
        n_panels, J, c, B = PT.shape
        W2, X2 = W.reshape(J, c * B), X.reshape(J, c * B)
        for p in range(n_panels):
            P2 = PT[p].reshape(J, c * B)
            if identity:
                np.dot(A, P2, X2)
                _set_products(Q[p], G[p], PT[p], PT[p], X)
            else:
                np.dot(Sigma, P2, W2)  # W = Sigma P^T (Sigma symmetric)
                np.dot(A, W2, X2)
                _set_products(Q[p], G[p], PT[p], W, X)
            lanes = slice(p * B, (p + 1) * B)
            _panel_scores(Q[p], G[p], s, own_noise, extra, extra_trace, floor,
                          score[lanes], degenerate[lanes], L, V, h)


def panel_gram(PT) -> np.ndarray:
    """sum over the panels' rows of P^T P (J, J); numpy's ``X @ X.T`` is a symmetric rank-k
    update (half the work of a general product, which is all numba's ``np.dot`` offers)."""
    n_panels, J, c, B = PT.shape
    A = np.zeros((J, J), dtype=PT.dtype)
    for p in range(n_panels):
        P2 = PT[p].reshape(J, c * B)
        A += P2 @ P2.T
    return A


def panel_lanes(c: int) -> int:
    """Lanes per panel: a panel's [Z | R], Q and G (about 4 c^2 B values) stay in L2."""
    lanes = 1 << max(6, min(13, int(np.log2(max(1.0, 16384.0 / (4 * c * c))))))
    return lanes


class NumbaEngine:
    """The greedy loop's per-candidate state in panels (see the module docstring); CPU only.

    Built from the checked inputs of ``deimos_batch``; same interface as ``_TorchEngine``:
    ``scores()``, ``condition(best)`` and ``refresh()`` each return (scores (N,), degenerate
    (N,)) as CPU tensors.
    """

    def __init__(self, sample, cand, s, diagonal, outside):
        from . import deimos as _d  # the problem's constants and J x J algebra are shared

        x = sample if outside is None else outside
        every = outside is None and len(cand) == x.shape[0] and \
            np.array_equal(cand, np.arange(len(cand)))
        rows = np.arange(x.shape[0]) if outside is not None else np.asarray(cand, np.int64)
        n_classes = x.shape[1]
        X = x.detach().contiguous().numpy()  # one compiled layout (a copy only if strided)
        reduced = n_classes > 1
        self._pack(X, rows, reduced)
        if reduced and not _d.class_sums_vanish(float(self._stats[1]), s, x.dtype):
            reduced = False
            self._pack(X, rows, reduced)
        diag_max = float(self._stats[0])
        if every:
            A = panel_gram(self.PT)
            if reduced:
                A += self._D.T @ self._D  # the dropped class direction's rows
            A = torch.from_numpy(A)
        else:
            A, top = _d.sample_stats(sample)
            diag_max = max(diag_max, top)
        self._D = None
        self.prob = _d.make_problem(None, A, s, diagonal, outside, n_classes, diag_max, reduced)
        self.device = sample.device
        self._allocate()
        self.refresh(identity=True)

    def _pack(self, X, rows, reduced):
        n, (C, J) = len(rows), X.shape[1:]
        c = C - 1 if reduced else C
        B = panel_lanes(c)
        self.n, self.c, self.B = n, c, B
        self.PT = np.zeros((max(1, -(-n // B)), J, c, B), dtype=X.dtype)
        self._D = np.zeros((n if reduced else 0, J), dtype=X.dtype)
        self._stats = np.zeros(2)
        _pack(X, rows, X.dtype.type((J - 1) ** -0.5), reduced, self.PT, self._D, self._stats)

    def _allocate(self):
        n_panels, J, c, B = self.PT.shape
        dt, prob = self.PT.dtype, self.prob
        self.Q = np.zeros((n_panels, c, c, B), dtype=dt)
        self.G = np.zeros_like(self.Q)
        self.Y = np.empty((2 * c, c, B), dtype=dt)
        self.L, self.V = np.empty((c, c, B), dtype=dt), np.empty((c, c, B), dtype=dt)
        self.h = np.empty(B, dtype=dt)
        self.score = np.zeros(n_panels * B, dtype=dt)
        self.degenerate = np.zeros(n_panels * B, dtype=np.bool_)
        self.Sigma = np.eye(J, dtype=dt)
        self.A = np.array(prob.A.detach().cpu().numpy(), dtype=dt)  # a copy: updated in place
        self.UWt = np.empty((2 * c, J), dtype=dt)
        self._consts = (dt.type(prob.s), bool(prob.own_noise), dt.type(prob.extra),
                        dt.type(prob.extra_trace), dt.type(prob.floor))

    def _result(self):
        return (torch.from_numpy(self.score[:self.n]).clone(),
                torch.from_numpy(self.degenerate[:self.n]).clone())

    def scores(self):
        """EI of every candidate under the current state (no recomputation)."""
        return self._result()

    def refresh(self, identity=False):
        """Recompute Q and G from Sigma (as ``_TorchEngine.refresh``), then score."""
        W = np.empty(self.PT.shape[1:], dtype=self.PT.dtype)
        X = np.empty_like(W)
        _refresh_panels(self.PT, self.Sigma, identity, self.A, self.Q, self.G, W, X,
                        *self._consts, self.score, self.degenerate, self.L, self.V, self.h)
        return self._result()

    def condition(self, best: int):
        """Condition V on candidate ``best`` and score again, in one pass over the panels."""
        _condition(self.PT, self.Sigma, self.A, int(best), self.UWt, self.Q, self.G, self.Y,
                   *self._consts, self.score, self.degenerate, self.L, self.V, self.h)
        return self._result()

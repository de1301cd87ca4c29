"""The CPU kernels of deimos_batch against its torch path and the dense Algorithm 1; candidates
outside the sample; float32; the exact class reduction."""
import numpy as np
import pytest
import torch

import deimos_utils.acquisition.deimos as deimos_module
from deimos_utils.acquisition import (
    deimos_batch,
    deimos_scores,
    greedy_batch_dense,
    predictive_covariance,
)
from deimos_utils.acquisition import deimos_numba

from test_deimos import random_probs, random_regression

needs_numba = pytest.mark.skipif(not deimos_numba.AVAILABLE, reason="numba is not installed")


def torch_path(fn, *args, **kwargs):
    """``fn`` with the numba kernels switched off (the path CUDA tensors take)."""
    saved = deimos_numba.AVAILABLE
    deimos_numba.AVAILABLE = False
    try:
        return fn(*args, **kwargs)
    finally:
        deimos_numba.AVAILABLE = saved


def make_preds(rng, task, n_points, n_classes, n_masks):
    if task == "regression":
        preds = random_regression(rng, n_points, n_masks)
        return preds, float(rng.uniform(0.02, 0.3)) * preds.var(axis=1, ddof=1).mean()
    probs = random_probs(rng, n_points, n_classes, n_masks)
    return probs, float(rng.choice([1e-3, 1e-2, 0.1])) * probs.var(axis=2, ddof=1).mean()


def outside_reference(sample, cands, batch_size, noise, smoothing):
    """greedy_batch_dense on V over [sample; candidates], the trace over the sample's rows."""
    both = np.concatenate([sample, cands])
    C = 1 if sample.ndim == 2 else sample.shape[1]
    kw = dict(n_classes=C, noise=noise, smoothing=smoothing, trace_points=np.arange(len(sample)),
              candidates=len(sample) + np.arange(len(cands)))
    picked, gains = greedy_batch_dense(predictive_covariance(both), batch_size, **kw)
    return picked - len(sample), gains


# --- the numba kernels against the torch path ----------------------------------------------------

@needs_numba
@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("task, n_classes, smoothing", [
    ("regression", 1, "diagonal"), ("classification", 2, "diagonal"),
    ("classification", 2, "block"), ("classification", 10, "diagonal"),
    ("classification", 10, "block")])
@pytest.mark.parametrize("where", ["all", "subset", "outside"])
def test_kernels_match_torch_path(seed, task, n_classes, smoothing, where):
    # sizes straddle the panels (64 lanes at C = 10, 1024 at C = 2, 4096 in regression)
    rng = np.random.default_rng(seed)
    n_points = int(rng.integers(60, 200)) if n_classes == 10 else int(rng.integers(1000, 5000))
    preds, noise = make_preds(rng, task, n_points, n_classes, int(rng.integers(5, 40)))
    kw = dict(noise=noise, smoothing=smoothing)
    if where == "subset":
        kw["candidates"] = rng.permutation(n_points)[: n_points // 2]
    elif where == "outside":
        preds, kw["candidate_preds"] = preds[: n_points // 3], preds[n_points // 3:]
    b = int(rng.integers(1, 12))
    picked, gains = deimos_batch(preds, b, **kw)
    ref_picked, ref_gains = torch_path(deimos_batch, preds, b, **kw)
    np.testing.assert_array_equal(picked, ref_picked)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-10)
    np.testing.assert_allclose(deimos_scores(preds, **kw), torch_path(deimos_scores, preds, **kw),
                               rtol=1e-10, atol=1e-300)


@needs_numba
@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("n_classes", [3, 4, 5])  # c = 2, 3 (the own product), 4 (BLAS)
@pytest.mark.parametrize("where", ["all", "subset", "outside"])
def test_kernels_match_torch_path_few_classes(seed, n_classes, where):
    rng = np.random.default_rng(50 + seed)
    n_points = int(rng.integers(200, 700))
    preds, noise = make_preds(rng, "classification", n_points, n_classes, int(rng.integers(5, 40)))
    kw = dict(noise=noise, smoothing=["diagonal", "block"][seed % 2])
    if where == "subset":
        kw["candidates"] = rng.permutation(n_points)[: n_points // 2]
    elif where == "outside":
        preds, kw["candidate_preds"] = preds[: n_points // 3], preds[n_points // 3:]
    for b in (1, int(rng.integers(2, 12))):
        picked, gains = deimos_batch(preds, b, **kw)
        ref_picked, ref_gains = torch_path(deimos_batch, preds, b, **kw)
        np.testing.assert_array_equal(picked, ref_picked)
        np.testing.assert_allclose(gains, ref_gains, rtol=1e-10)


@needs_numba
@pytest.mark.parametrize("c", [1, 2, 3])
def test_own_product_equals_blas(c):
    rng = np.random.default_rng(c)
    for J in (2, 5, 8, 50):  # J = 4 k and J = 4 k + r
        P = rng.normal(size=(J, c, 64))
        UWt = rng.normal(size=(2 * c, J))
        Y = np.full((2 * c, c, 64), np.nan)
        deimos_numba._project(UWt, P, Y)
        ref = (UWt @ P.reshape(J, c * 64)).reshape(2 * c, c, 64)
        np.testing.assert_allclose(Y, ref, rtol=1e-12, atol=1e-13)


@needs_numba
@pytest.mark.parametrize("own_noise", [False, True])
@pytest.mark.parametrize("c", [1, 4, 9])
def test_compiled_pick_update_equals_torch(own_noise, c):
    rng = np.random.default_rng(10 * c + own_noise)
    J = 20
    X = rng.normal(size=(J, J))
    Sigma = np.eye(J) - 0.5 * X @ X.T / np.linalg.norm(X @ X.T, 2)  # symmetric, 0.5 <= eig <= 1
    F = rng.normal(size=(300, J))
    A = F.T @ F
    Pb = rng.normal(size=(c, J))
    s = 0.05
    Qb = Pb @ Sigma @ Pb.T
    UW, Sigma_ref, A_ref = deimos_module.pick_update(
        torch.from_numpy(Sigma), torch.from_numpy(A), torch.from_numpy(Pb), torch.from_numpy(Qb),
        s, own_noise)
    UWt = np.empty((2 * c, J))
    lower = np.tril(Qb) + np.triu(np.full((c, c), np.nan), 1)  # only the lower triangle is read
    deimos_numba._pick_update(Sigma, A, Pb, lower, s, own_noise, UWt)
    np.testing.assert_allclose(UWt, UW.numpy().T, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(Sigma, Sigma_ref.numpy(), rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(A, A_ref.numpy(), rtol=1e-12)


@needs_numba
def test_kernels_refresh_and_degenerate_blocks():
    # noise 0 and rank J - 1 = 3: refreshes (gains fall by orders of magnitude), then zero gains;
    # the third pick is a tie (V is then of rank one: every point has EI = ||v||^2)
    rng = np.random.default_rng(7)
    preds = rng.normal(size=(300, 4))
    picked, gains = deimos_batch(preds, 8)
    ref_picked, ref_gains = torch_path(deimos_batch, preds, 8)
    np.testing.assert_array_equal(picked[:2], ref_picked[:2])
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8, atol=1e-9)
    assert np.all(gains[3:] == 0) and len(set(picked.tolist())) == 8


# --- candidates outside the sample ------------------------------------------------------------

@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n_classes, smoothing", [(1, "diagonal"), (2, "diagonal"), (2, "block"),
                                                  (10, "diagonal"), (10, "block")])
def test_outside_candidates_match_dense(seed, n_classes, smoothing):
    rng = np.random.default_rng(100 + seed)
    task = "regression" if n_classes == 1 else "classification"
    n_sample, n_cand = int(rng.integers(5, 25)), int(rng.integers(3, 20 if n_classes < 10 else 12))
    preds, noise = make_preds(rng, task, n_sample + n_cand, n_classes, int(rng.integers(3, 25)))
    sample, cands = preds[:n_sample], preds[n_sample:]
    b = int(rng.integers(1, min(n_cand, 8) + 1))
    picked, gains = deimos_batch(sample, b, candidate_preds=cands, noise=noise,
                                 smoothing=smoothing)
    ref_picked, ref_gains = outside_reference(sample, cands, b, noise, smoothing)
    np.testing.assert_array_equal(picked, ref_picked)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8)
    for path in (deimos_batch, lambda *a, **k: torch_path(deimos_batch, *a, **k)):
        p, g = path(sample, b, candidate_preds=cands, noise=noise, smoothing=smoothing)
        np.testing.assert_array_equal(p, ref_picked)
        np.testing.assert_allclose(g, ref_gains, rtol=1e-8)


def test_outside_candidates_same_under_both_smoothings_and_differ_from_inside():
    # the sample's own noise is independent of the candidates': both smoothings agree
    rng = np.random.default_rng(3)
    probs = random_probs(rng, 60, 4, 12)
    noise = 0.1 * probs.var(axis=2, ddof=1).mean()
    sample, cands = probs[:40], probs[40:]
    diag = deimos_batch(sample, 5, candidate_preds=cands, noise=noise, smoothing="diagonal")
    block = deimos_batch(sample, 5, candidate_preds=cands, noise=noise, smoothing="block")
    np.testing.assert_array_equal(diag[0], block[0])
    np.testing.assert_allclose(diag[1], block[1], rtol=1e-12)
    # the first gain: tr((V_nn + s I)^-1 V_Sn^T V_Sn), written out on the dense V
    V = predictive_covariance(probs)
    ei = []
    for n in range(40, 60):
        cols = slice(4 * n, 4 * n + 4)
        VSn = V[:160, cols]
        ei.append(np.trace(np.linalg.solve(V[cols, cols] + noise * np.eye(4), VSn.T @ VSn)))
    np.testing.assert_allclose(deimos_scores(sample, candidate_preds=cands, noise=noise), ei,
                               rtol=1e-10)
    assert diag[0][0] == int(np.argmax(ei))
    # as members of the sample the same points would also count their own variance
    inside = deimos_scores(probs, candidates=np.arange(40, 60), noise=noise)
    assert np.all(inside > np.asarray(ei))


def test_outside_candidates_bad_input():
    rng = np.random.default_rng(0)
    probs = random_probs(rng, 20, 3, 6)
    with pytest.raises(ValueError, match="either candidates .* or candidate_preds"):
        deimos_batch(probs, 2, candidates=[0, 1, 2], candidate_preds=probs, noise=0.01)
    with pytest.raises(ValueError, match="candidate_preds has shape"):
        deimos_batch(probs, 2, candidate_preds=probs[:, :2], noise=0.01)
    with pytest.raises(ValueError, match="candidate_preds has shape"):
        deimos_batch(probs, 2, candidate_preds=probs[:, :, :5], noise=0.01)
    with pytest.raises(ValueError, match="candidate_preds"):
        deimos_batch(probs, 2, candidate_preds=np.full((4, 3, 6), np.nan), noise=0.01)
    with pytest.raises(ValueError, match="larger than the number of candidates"):
        deimos_batch(probs, 5, candidate_preds=probs[:4], noise=0.01)


@pytest.mark.parametrize("bad, match", [
    ("logits", "candidate_preds holds negative values"),
    ("unnormalised", "candidate_preds must sum to 1 over the classes"),
    ("one class", "candidate_preds has shape"),
    ("inf", "candidate_preds contains 1 NaN or infinite"),
    ("complex", "candidate_preds must hold real numbers"),
    ("bool", "candidate_preds must hold real numbers"),
    ("text", "candidate_preds must hold real numbers"),
])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_outside_candidates_checked_like_preds(bad, match, as_tensor):
    rng = np.random.default_rng(1)
    probs = random_probs(rng, 30, 3, 6)
    sample, cands = probs[:20], probs[20:].copy()
    if bad == "logits":
        cands = np.log(cands)
    elif bad == "unnormalised":
        cands[3, :, 2] *= 1.01
    elif bad == "one class":
        cands = cands[:, :1]
    elif bad == "inf":
        cands[2, 1, 4] = np.inf
    elif bad == "complex":
        cands = cands.astype(np.complex128)
    elif bad == "bool":
        cands = cands > 0.3
    else:
        if as_tensor:
            pytest.skip("torch has no string tensors")
        cands = cands.astype(str)
    if as_tensor:
        cands = torch.from_numpy(np.ascontiguousarray(cands))
    for fn in (deimos_batch, lambda *a, **k: deimos_scores(a[0], **k)):
        with pytest.raises(ValueError, match=match):
            fn(sample, 2, candidate_preds=cands, noise=0.01)


def test_outside_candidates_without_variance_warn():
    from deimos_utils._checks import NoVarianceWarning

    rng = np.random.default_rng(2)
    probs = random_probs(rng, 30, 3, 6)
    flat = np.repeat(probs[20:, :, :1], 6, axis=2)
    with pytest.warns(NoVarianceWarning, match="candidate_preds"):
        deimos_batch(probs[:20], 2, candidate_preds=flat, noise=0.01)
    # regression candidates are not probabilities: any real values pass
    reg = rng.normal(size=(30, 6))
    deimos_batch(reg[:20], 2, candidate_preds=reg[20:] - 5.0, noise=0.01)


# --- the class reduction ------------------------------------------------------------------------

@pytest.mark.parametrize("engine", ["kernels", "torch"])
def test_class_reduction_only_when_sums_vanish(engine):
    # unnormalised "probabilities": the constant class direction carries signal, so every class
    # direction must be kept, and the result still equals the dense reference
    rng = np.random.default_rng(9)
    probs = random_probs(rng, 25, 5, 10)
    noisy = probs * (1 + 1e-5 * rng.normal(size=probs.shape))  # within the sum-to-one check
    noise = 0.01 * probs.var(axis=2, ddof=1).mean()
    def run(*args, **kwargs):
        return deimos_batch(*args, **kwargs) if engine == "kernels" \
            else torch_path(deimos_batch, *args, **kwargs)

    for x, reduced in ((probs, True), (noisy, False)):
        sample, s, cand, _, diagonal, outside = deimos_module._validate(
            x, 1, None, noise, torch.float64, "diagonal", None)
        eng = deimos_module._engine(sample, cand, s, diagonal, outside) if engine == "kernels" \
            else torch_path(deimos_module._engine, sample, cand, s, diagonal, outside)
        assert (eng.prob.extra_trace > 0) == reduced
        picked, gains = run(x, 6, noise=noise)
        ref_picked, ref_gains = greedy_batch_dense(predictive_covariance(x, noise), 6,
                                                   n_classes=5)
        np.testing.assert_array_equal(picked, ref_picked)
        np.testing.assert_allclose(gains, ref_gains, rtol=1e-8)


def test_orthonormal_complement():
    for n in (2, 3, 10, 50):
        E = deimos_module.orthonormal_complement(n)
        np.testing.assert_allclose(E.T @ E, np.eye(n - 1), atol=1e-14)
        np.testing.assert_allclose(E.sum(dim=0), 0, atol=1e-14)


# --- float32 ------------------------------------------------------------------------------------

def test_float32_picks_rarely_differ_from_float64():
    # float32 gains agree to ~1e-6; picks differ only once gains are small and nearly tied.
    # Measured at MNIST 0-9 shape (S = 2,000, C = 10, J = 50, b = 25, 10 seeds): 6 of 10
    # batches identical, the others diverge after 12-17 picks, 91% of picks shared.
    same, shared, first_gain = [], [], []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        probs = random_probs(rng, 300, 10, 30)
        noise = 0.005 * probs.var(axis=2, ddof=1).mean()
        a = deimos_batch(probs, 10, noise=noise)
        b = deimos_batch(probs, 10, noise=noise, dtype=torch.float32)
        same.append(np.array_equal(a[0][:5], b[0][:5]))
        shared.append(len(set(a[0].tolist()) & set(b[0].tolist())) / 10)
        first_gain.append(abs(b[1][0] - a[1][0]) / a[1][0])
    assert max(first_gain) < 1e-5
    assert np.mean(same) >= 5 / 6  # the first five picks
    assert np.mean(shared) >= 0.8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_cuda_matches_cpu_outside_and_subset(dtype):
    rng = np.random.default_rng(16)
    probs = random_probs(rng, 600, 10, 50)
    noise = 1e-4
    for kw in ({"candidates": np.arange(0, 600, 3)}, {"candidate_preds": probs[400:]}):
        sample = probs if "candidates" in kw else probs[:400]
        cpu = deimos_batch(sample, 10, noise=noise, dtype=dtype, **kw)
        gkw = {k: (torch.from_numpy(v).cuda() if k == "candidate_preds" else v)
               for k, v in kw.items()}
        gpu = deimos_batch(torch.from_numpy(sample).cuda(), 10, noise=noise, dtype=dtype, **gkw)
        if dtype == torch.float64:
            np.testing.assert_array_equal(cpu[0], gpu[0])
            np.testing.assert_allclose(cpu[1], gpu[1], rtol=1e-8)
        else:
            assert cpu[0][0] == gpu[0][0]
            np.testing.assert_allclose(cpu[1][0], gpu[1][0], rtol=1e-4)


# --- select_batch with the pool outside the sample ---------------------------------------------

@pytest.mark.parametrize("n_out", [1, 4])
def test_select_batch_with_the_pool_outside_the_sample(n_out):
    from deimos_utils.uncertainty.mc_dropout import mc_predict
    from deimos_utils.acquisition.select import select_batch
    from test_select import user_model

    rng = np.random.default_rng(0)
    x_pool = torch.as_tensor(rng.normal(size=(70, 3)), dtype=torch.float32)
    x_sample = torch.as_tensor(rng.normal(size=(30, 3)), dtype=torch.float32)
    model = user_model(n_out)
    sel = select_batch(model, x_pool, 5, x_sample=x_sample, noise=0.01, n_masks=20, seed=3,
                       pool_in_sample=False, inplace=True)
    pool, sample = (mc_predict(model, x, n_masks=20, seed=3).double() for x in (x_pool, x_sample))
    picked, gains = deimos_batch(sample, 5, candidate_preds=pool, noise=0.01)
    np.testing.assert_array_equal(sel.picked, picked)
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-12)
    inside = select_batch(model, x_pool, 5, x_sample=x_sample, noise=0.01, n_masks=20, seed=3)
    assert not np.allclose(inside.gains, sel.gains)  # the pool's own variance no longer counts
    with pytest.raises(ValueError, match="needs x_sample"):
        select_batch(model, x_pool, 5, noise=0.01, n_masks=20, pool_in_sample=False)


def test_finite_check_survives_an_overflowing_sum():
    # the one-pass finiteness test sums the input: a sum that overflows must not be taken for a
    # NaN or inf entry (the exact test decides), and a real one must still be found
    from deimos_utils._checks import as_float_tensor

    big = np.full((4, 3), 1e308)
    assert torch.equal(as_float_tensor(big, "x", (2,)), torch.from_numpy(big))
    big[1, 2] = np.nan
    with pytest.raises(ValueError, match="x contains 1 NaN"):
        as_float_tensor(big, "x", (2,))

"""The fast DEIMOS against the literal Algorithm 1 on an explicit V, and the Appendix A example."""
import itertools

import numpy as np
import pytest
import torch

from deimos_utils.acquisition import (
    batch_trace_reduction,
    deimos_batch,
    deimos_scores,
    greedy_batch_dense,
    optimal_batch_bruteforce,
    predictive_covariance,
)

APPENDIX_A_V = np.array([[9.0, 3.0, 2.0], [3.0, 2.0, 3.0], [2.0, 3.0, 9.0]])


def random_probs(rng, n_points, n_classes, n_masks, sharpness=1.5):
    logits = sharpness * rng.normal(size=(n_points, n_classes, n_masks))
    logits += rng.normal(size=(n_points, n_classes, 1)) * 2  # point-specific mean
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


def random_regression(rng, n_points, n_masks):
    # correlated predictions across points, as from a shared network with fixed masks
    basis = rng.normal(size=(6, n_masks))
    return rng.normal(size=(n_points, 6)) @ basis + 0.3 * rng.normal(size=(n_points, n_masks))


def dense_reference(preds, batch_size, candidates, noise, smoothing="diagonal"):
    """greedy_batch_dense on the explicit V of eq. 3 with the conventions of deimos_batch."""
    if preds.ndim == 2:
        return greedy_batch_dense(predictive_covariance(preds, noise), batch_size,
                                  candidates=candidates)
    if smoothing == "diagonal":  # V = Cov + s I: the regression formula with C columns
        return greedy_batch_dense(predictive_covariance(preds, noise), batch_size,
                                  n_classes=preds.shape[1], candidates=candidates)
    return greedy_batch_dense(predictive_covariance(preds), batch_size, n_classes=preds.shape[1],
                              noise=noise, smoothing="block", candidates=candidates)


def literal_ei(V, n, n_classes, smoothing):
    """EI(n) = tr(V_n (V_nn + s I)^-1 V_n^T), written out with explicit loops over V's rows."""
    cols = list(range(n * n_classes, (n + 1) * n_classes))
    H = np.array([[V[a, b] for b in cols] for a in cols]) + smoothing * np.eye(n_classes)
    H_inv = np.linalg.inv(H)
    total = 0.0
    for r in range(V.shape[0]):
        row = np.array([V[r, c] for c in cols])
        total += row @ H_inv @ row
    return total


# --- the Appendix A example --------------------------------------------------------------------

def test_appendix_a_greedy_and_optimal():
    picked, gains = greedy_batch_dense(APPENDIX_A_V, 2)
    assert picked[0] == 1 and gains[0] == pytest.approx(11.0)
    assert picked[1] in (0, 2)
    assert gains.sum() == pytest.approx(16.889, abs=5e-4)
    best, total = optimal_batch_bruteforce(APPENDIX_A_V, 2)
    assert sorted(best.tolist()) == [0, 2]
    assert total == pytest.approx(19.636, abs=5e-4)
    assert gains.sum() / total == pytest.approx(0.86, abs=5e-3)


def test_fast_path_on_appendix_a_as_features():
    # V = L L^T with L of rank 3 (exact), noise 0: the fast path must pick the same as the dense one
    L = np.linalg.cholesky(APPENDIX_A_V)
    # predictions whose sample covariance is exactly V: centred, orthogonal columns scaled
    n_masks = 5
    basis, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(n_masks, 3)))
    basis -= basis.mean(axis=0)  # keep orthogonal to the constant after centring
    basis, _ = np.linalg.qr(basis)
    preds = L @ basis.T * np.sqrt(n_masks - 1)
    V = predictive_covariance(preds)
    np.testing.assert_allclose(V, APPENDIX_A_V, atol=1e-10)
    picked, gains = deimos_batch(preds, 2)
    ref_picked, ref_gains = greedy_batch_dense(V, 2)
    assert picked[0] == 1 and gains[0] == pytest.approx(11.0)
    assert gains.sum() == pytest.approx(16.889, abs=5e-4)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8)


# --- randomized agreement of the fast path with the literal algorithm ---------------------------

@pytest.mark.parametrize("seed", range(25))
@pytest.mark.parametrize("use_subset", [False, True])
def test_regression_matches_dense(seed, use_subset):
    rng = np.random.default_rng(seed)
    n_points, n_masks = int(rng.integers(15, 60)), int(rng.integers(3, 30))
    preds = random_regression(rng, n_points, n_masks)
    noise = float(rng.uniform(0.02, 0.3)) * preds.var(axis=1, ddof=1).mean()
    candidates = (rng.permutation(n_points)[: n_points // 2] if use_subset else None)
    n_cand = n_points // 2 if use_subset else n_points
    b = int(rng.integers(1, min(n_cand, 12) + 1))
    picked, gains = deimos_batch(preds, b, candidates=candidates, noise=noise)
    ref_picked, ref_gains = dense_reference(preds, b, candidates, noise)
    np.testing.assert_array_equal(picked, ref_picked)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8)


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n_classes", [2, 10])
@pytest.mark.parametrize("use_subset", [False, True])
@pytest.mark.parametrize("smoothing", ["diagonal", "block"])
def test_classification_matches_dense(seed, n_classes, use_subset, smoothing):
    rng = np.random.default_rng(1000 + seed)
    n_points = int(rng.integers(8, 30))
    n_masks = int(rng.integers(3, 25))
    probs = random_probs(rng, n_points, n_classes, n_masks)
    var = probs.var(axis=2, ddof=1).mean()
    noise = float(rng.choice([1e-3, 1e-2, 0.1])) * var
    candidates = rng.permutation(n_points)[: max(2, n_points // 3)] if use_subset else None
    n_cand = len(candidates) if use_subset else n_points
    b = int(rng.integers(1, min(n_cand, 8) + 1))
    picked, gains = deimos_batch(probs, b, candidates=candidates, noise=noise, smoothing=smoothing)
    ref_picked, ref_gains = dense_reference(probs, b, candidates, noise, smoothing)
    np.testing.assert_array_equal(picked, ref_picked)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8)


def test_smoothings_differ_and_the_default_is_diagonal():
    rng = np.random.default_rng(21)
    probs = random_probs(rng, 30, 4, 12)
    diag = deimos_batch(probs, 6, noise=1e-2, smoothing="diagonal")
    block = deimos_batch(probs, 6, noise=1e-2, smoothing="block")
    default = deimos_batch(probs, 6, noise=1e-2)
    np.testing.assert_array_equal(default[0], diag[0])
    np.testing.assert_array_equal(default[1], diag[1])
    assert not np.allclose(diag[1], block[1])
    # the dense functions share the default
    V = predictive_covariance(probs)
    np.testing.assert_array_equal(greedy_batch_dense(V, 6, n_classes=4, noise=1e-2)[0], diag[0])
    # "diagonal" adds the noise to V itself: the same as a V built with it
    np.testing.assert_allclose(
        greedy_batch_dense(V, 6, n_classes=4, noise=1e-2, smoothing="diagonal")[1],
        greedy_batch_dense(predictive_covariance(probs, 1e-2), 6, n_classes=4)[1], rtol=1e-12)


def test_diagonal_smoothing_removes_the_picked_rows():
    # conditioning V + sI on a point's noisy value leaves its rows and columns exactly zero
    rng = np.random.default_rng(22)
    probs = random_probs(rng, 6, 3, 8)
    V = predictive_covariance(probs, 1e-2)
    cols = slice(3, 6)
    V1 = V - V[:, cols] @ np.linalg.solve(V[cols, cols], V[cols, :])
    np.testing.assert_allclose(V1[cols], 0, atol=1e-15)
    # so the second pick's gain is the first step's EI on V without point 1's rows
    keep = np.r_[0:3, 6:18]
    picked, gains = greedy_batch_dense(V, 2, n_classes=3, candidates=[1, 4])
    ref = [literal_ei(V1[np.ix_(keep, keep)], n, 3, 0.0) for n in (0, 3)]  # points 0 and 4
    assert picked[0] == 1 and gains[1] == pytest.approx(ref[1], rel=1e-10)


def test_regression_without_noise_matches_dense_beyond_the_rank():
    # noise 0: V has rank J - 1 = 3, so after 3 picks every remaining block is degenerate (gain
    # 0); the third pick is a tie (V is then rank one: every point has EI = ||v||^2)
    rng = np.random.default_rng(7)
    preds = rng.normal(size=(20, 4))
    picked, gains = deimos_batch(preds, 6)
    ref_picked, ref_gains = dense_reference(preds, 6, None, 0.0)
    np.testing.assert_array_equal(picked[:2], ref_picked[:2])
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-8, atol=1e-9)
    assert np.all(gains[3:] == 0)
    assert len(set(picked.tolist())) == 6


def test_first_gain_is_literal_ei_and_scores_agree():
    rng = np.random.default_rng(3)
    probs = random_probs(rng, 12, 3, 9)
    V = predictive_covariance(probs)
    ei = [literal_ei(V, n, 3, 1e-3) for n in range(12)]
    np.testing.assert_allclose(deimos_scores(probs, noise=1e-3, smoothing="block"), ei, rtol=1e-9)
    picked, gains = deimos_batch(probs, 1, noise=1e-3, smoothing="block")
    assert picked[0] == int(np.argmax(ei)) and gains[0] == pytest.approx(max(ei), rel=1e-9)
    V = predictive_covariance(probs, 1e-3)
    ei = [literal_ei(V, n, 3, 0.0) for n in range(12)]
    np.testing.assert_allclose(deimos_scores(probs, noise=1e-3, smoothing="diagonal"), ei,
                               rtol=1e-9)

    preds = random_regression(rng, 15, 7)
    V = predictive_covariance(preds, 0.05)
    ei = [V[:, n] @ V[:, n] / V[n, n] for n in range(15)]
    cand = np.array([3, 1, 14, 8])
    np.testing.assert_allclose(deimos_scores(preds, noise=0.05, candidates=cand),
                               np.array(ei)[cand], rtol=1e-10)


@pytest.mark.parametrize("n_classes, smoothing", [(1, "diagonal"), (3, "diagonal"), (3, "block")])
def test_gains_sum_to_joint_trace_reduction(n_classes, smoothing):
    # the sequential gains of any batch add up to conditioning on the whole batch at once
    rng = np.random.default_rng(11)
    if n_classes == 1:
        preds, noise = random_regression(rng, 25, 10), 0.1
    else:
        preds, noise = random_probs(rng, 25, n_classes, 10), 1e-3
    V = predictive_covariance(preds)
    picked, gains = deimos_batch(preds, 5, noise=noise, smoothing=smoothing)
    joint = batch_trace_reduction(V, picked, n_classes=n_classes, noise=noise, smoothing=smoothing)
    assert gains.sum() == pytest.approx(joint, rel=1e-9)


@pytest.mark.parametrize("smoothing", ["diagonal", "block"])
def test_bruteforce_classification_is_the_best_joint_reduction(smoothing):
    rng = np.random.default_rng(13)
    probs = random_probs(rng, 8, 3, 6)
    V, kw = predictive_covariance(probs), {"n_classes": 3, "noise": 1e-2, "smoothing": smoothing}
    best, best_gain = optimal_batch_bruteforce(V, 2, **kw)
    every = {c: batch_trace_reduction(V, c, **kw) for c in itertools.combinations(range(8), 2)}
    assert best_gain == pytest.approx(max(every.values()), rel=1e-10)
    assert every[tuple(best)] == pytest.approx(best_gain, rel=1e-10)
    assert greedy_batch_dense(V, 2, **kw)[1].sum() <= best_gain * (1 + 1e-12)


def test_bruteforce_is_optimal_and_greedy_is_close():
    rng = np.random.default_rng(5)
    preds = rng.normal(size=(9, 6))
    noise = 0.1 * preds.var(axis=1, ddof=1).mean()
    V = predictive_covariance(preds, noise)
    best, best_gain = optimal_batch_bruteforce(V, 3)
    every = [batch_trace_reduction(V, c) for c in itertools.combinations(range(9), 3)]
    assert best_gain == pytest.approx(max(every), rel=1e-12)
    _, gains = greedy_batch_dense(V, 3)
    assert gains.sum() <= best_gain * (1 + 1e-12)
    assert gains.sum() >= 0.8 * best_gain


def test_candidates_restrict_picks_and_others_still_count():
    rng = np.random.default_rng(2)
    preds = random_regression(rng, 30, 12)
    cand = np.array([5, 17, 2, 29, 11])
    picked, _ = deimos_batch(preds, 3, candidates=cand, noise=0.1)
    assert set(picked.tolist()) <= set(cand.tolist())
    # the non-candidates count: dropping them from preds changes the scores
    full = deimos_scores(preds, candidates=cand, noise=0.1)
    only = deimos_scores(preds[cand], noise=0.1)
    assert not np.allclose(full, only)


def test_batch_has_no_repeats_and_gains_are_positive():
    rng = np.random.default_rng(9)
    probs = random_probs(rng, 40, 4, 20)
    picked, gains = deimos_batch(probs, 40, noise=1e-3)
    assert sorted(picked.tolist()) == list(range(40))
    assert np.all(gains > 0)


def test_torch_input_float32_and_numpy_agree():
    rng = np.random.default_rng(4)
    probs = random_probs(rng, 50, 3, 10)
    a = deimos_batch(probs, 5, noise=1e-3)
    b = deimos_batch(torch.from_numpy(probs), 5, noise=1e-3)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_allclose(a[1], b[1], rtol=1e-12)
    c = deimos_batch(torch.from_numpy(probs).float(), 5, noise=1e-3)  # computed in float64
    np.testing.assert_array_equal(a[0], c[0])


def test_deterministic_and_independent_of_thread_count():
    rng = np.random.default_rng(8)
    probs = random_probs(rng, 400, 10, 50)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = deimos_batch(probs, 10, noise=1e-4)
        torch.set_num_threads(2)
        two = deimos_batch(probs, 10, noise=1e-4)
    finally:
        torch.set_num_threads(before)
    again = deimos_batch(probs, 10, noise=1e-4)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_array_equal(one[0], again[0])
    np.testing.assert_allclose(one[1], two[1], rtol=1e-10)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    rng = np.random.default_rng(6)
    probs = random_probs(rng, 300, 10, 50)
    cpu = deimos_batch(probs, 10, noise=1e-4)
    gpu = deimos_batch(torch.from_numpy(probs).cuda(), 10, noise=1e-4)
    np.testing.assert_array_equal(cpu[0], gpu[0])
    np.testing.assert_allclose(cpu[1], gpu[1], rtol=1e-8)


# --- bad input -------------------------------------------------------------------------------

GOOD_REG = np.random.default_rng(0).normal(size=(10, 5))
GOOD_CLF = random_probs(np.random.default_rng(0), 10, 3, 5)


@pytest.mark.parametrize(
    "preds, kwargs, match",
    [
        (np.zeros(10), {}, "dimensions"),
        (np.zeros((2, 3, 4, 5)), {}, "dimensions"),
        (GOOD_REG[:, :1], {}, "J = 1"),
        (np.where(np.eye(10, 5) > 0, np.nan, GOOD_REG), {}, "NaN"),
        (np.where(np.eye(10, 5) > 0, np.inf, GOOD_REG), {}, "NaN or infinite"),
        (GOOD_REG, {"batch_size": 11}, "larger than the number of candidates"),
        (GOOD_REG, {"batch_size": 3, "candidates": [1, 2]}, "larger than the number"),
        (GOOD_REG, {"candidates": [0, 10]}, "out of range"),
        (GOOD_REG, {"candidates": [-1, 2]}, "out of range"),
        (GOOD_REG, {"candidates": [1, 1, 2]}, "repeated"),
        (GOOD_REG, {"noise": -0.1}, "noise"),
        (GOOD_REG, {"batch_size": 0}, "at least 1"),
        (GOOD_CLF, {"noise": 0.0}, "must be > 0 in classification"),
        (GOOD_CLF, {"noise": 0.1, "smoothing": "blocks"}, "smoothing must be one of 'diagonal'"),
        (GOOD_CLF, {"noise": 0.1, "smoothing": 0.1}, "smoothing must be one of"),
        (GOOD_REG, {"noise": 0.1, "smoothing": "block"}, "classification only"),
    ],
)
def test_bad_input_raises(preds, kwargs, match):
    kwargs = {"batch_size": 2, **kwargs}
    b = kwargs.pop("batch_size")
    with pytest.raises(ValueError, match=match):
        deimos_batch(preds, b, **kwargs)


@pytest.mark.parametrize(
    "V, kwargs, match",
    [
        (np.ones(3), {}, "dimensions"),
        (np.ones((3, 4)), {}, "square"),
        (np.array([[1.0, 2.0], [0.0, 1.0]]), {}, "symmetric"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), {}, "NaN"),
        (APPENDIX_A_V, {"n_classes": 2}, "does not divide"),
        (APPENDIX_A_V, {"batch_size": 4}, "larger than"),
        (APPENDIX_A_V, {"candidates": [0, 3]}, "out of range"),
        (APPENDIX_A_V, {"noise": -1.0}, "noise"),
        (APPENDIX_A_V, {"smoothing": 1e-3}, "smoothing must be one of"),
        (APPENDIX_A_V, {"smoothing": "block"}, "classification only"),
        (np.eye(4), {"n_classes": 2, "smoothing": "Block"}, "'diagonal', 'block'"),
    ],
)
def test_dense_bad_input_raises(V, kwargs, match):
    kwargs = {"batch_size": 1, **kwargs}
    b = kwargs.pop("batch_size")
    for fn in (greedy_batch_dense, optimal_batch_bruteforce):
        with pytest.raises(ValueError, match=match):
            fn(V, b, **kwargs)


def test_predictive_covariance_is_the_sample_covariance():
    rng = np.random.default_rng(1)
    probs = random_probs(rng, 4, 3, 7)
    V = predictive_covariance(probs, noise=0.5)
    flat = probs.reshape(12, 7)
    np.testing.assert_allclose(V, np.cov(flat) + 0.5 * np.eye(12), rtol=1e-12)
    with pytest.raises(ValueError, match="J = 1"):
        predictive_covariance(np.ones((3, 1)))


def test_non_contiguous_input_with_candidate_subset():
    rng = np.random.default_rng(12)
    probs = np.swapaxes(random_probs(rng, 100, 10, 20).transpose(0, 2, 1).copy(), 1, 2)  # strided (100, 10, 20)
    assert not probs.flags["C_CONTIGUOUS"]
    picked, gains = deimos_batch(probs, 3, candidates=np.arange(60), noise=1e-3)
    ref_picked, ref_gains = deimos_batch(np.ascontiguousarray(probs), 3,
                                         candidates=np.arange(60), noise=1e-3)
    np.testing.assert_array_equal(picked, ref_picked)
    np.testing.assert_allclose(gains, ref_gains, rtol=1e-12)
    t = torch.from_numpy(probs)
    assert not t.is_contiguous()
    np.testing.assert_array_equal(deimos_batch(t, 3, candidates=np.arange(60), noise=1e-3)[0],
                                  picked)


@pytest.mark.parametrize("smoothing", ["diagonal", "block"])
def test_registry_passes_smoothing(smoothing):
    from deimos_utils.acquisition import AcquisitionContext, get_acquisition
    from deimos_utils.acquisition.dense import DEFAULT_SMOOTHING

    assert AcquisitionContext(batch_size=1, rng=None, task="classification").smoothing \
        == DEFAULT_SMOOTHING == "diagonal"
    rng = np.random.default_rng(27)
    probs = random_probs(rng, 40, 4, 10)
    noise = 0.3 * probs.var(axis=2, ddof=1).mean()  # large enough for the smoothings to differ
    ctx = AcquisitionContext(batch_size=5, rng=rng, task="classification", cand_preds=probs[:30],
                             extra_preds=probs[30:], noise=noise, smoothing=smoothing)
    direct = {m: deimos_batch(probs, 5, candidates=np.arange(30), noise=noise, smoothing=m)[0]
              for m in ("diagonal", "block")}
    assert not np.array_equal(direct["diagonal"], direct["block"])
    np.testing.assert_array_equal(get_acquisition("deimos")(ctx), direct[smoothing])

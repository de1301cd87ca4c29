"""Baselines: entropy, BALD, variance, top-k, BatchBALD and k-center against literal references."""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from deimos_utils.acquisition.batchbald import (
    _joint_entropies_exact,
    _joint_entropies_sampled,
    _sample_configurations,
    batchbald_batch,
    joint_entropy_exact,
)
from deimos_utils.acquisition.kcenter import (
    _max_coverage,
    coverage_radius,
    greedy_kcenter,
    kcenter_batch,
)
from deimos_utils.acquisition.scores import (
    bald_scores,
    check_probs,
    entropy_scores,
    top_k,
    variance_scores,
)

SHAPES = [(1, 2, 1), (5, 2, 3), (7, 4, 10), (12, 10, 50)]


def random_probs(rng, n, c, j, scale=2.0, dtype=np.float64):
    logits = rng.normal(size=(n, c, j)) * scale
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return (p / p.sum(axis=1, keepdims=True)).astype(dtype)


# ---------------------------------------------------------------- literal references
def loop_entropy(p_nc_j):
    n, c, j = p_nc_j.shape
    out = []
    for i in range(n):
        h = 0.0
        for k in range(c):
            mean = sum(p_nc_j[i, k, m] for m in range(j)) / j
            if mean > 0:
                h -= mean * math.log(mean)
        out.append(h)
    return np.array(out)


def loop_expected_entropy(p_nc_j):
    n, c, j = p_nc_j.shape
    out = []
    for i in range(n):
        total = 0.0
        for m in range(j):
            for k in range(c):
                v = p_nc_j[i, k, m]
                if v > 0:
                    total -= v * math.log(v)
        out.append(total / j)
    return np.array(out)


def loop_variance(y):
    out = []
    for row in y:
        mean = sum(row) / len(row)
        out.append(sum((v - mean) ** 2 for v in row) / (len(row) - 1))
    return np.array(out)


def brute_joint_entropy(p_nc_j, idx):
    """H(y_idx) by enumerating every label configuration."""
    _, c, j = p_nc_j.shape
    h = 0.0
    for config in itertools.product(range(c), repeat=len(idx)):
        prob = 0.0
        for m in range(j):
            term = 1.0
            for i, y in zip(idx, config):
                term *= p_nc_j[i, y, m]
            prob += term / j
        if prob > 0:
            h -= prob * math.log(prob)
    return h


def brute_batchbald_greedy(p, b):
    cond = loop_expected_entropy(p)
    picked, scores = [], []
    for _ in range(b):
        best, best_s = None, -math.inf
        for n in range(p.shape[0]):
            if n in picked:
                continue
            s = brute_joint_entropy(p, picked + [n]) - sum(cond[i] for i in picked + [n])
            if s > best_s + 1e-12:
                best, best_s = n, s
        picked.append(best)
        scores.append(best_s)
    return picked, scores


# ---------------------------------------------------------------- scores
@pytest.mark.parametrize("shape", SHAPES)
def test_entropy_and_bald_match_loops(shape):
    rng = np.random.default_rng(sum(shape))
    p = random_probs(rng, *shape)
    np.testing.assert_allclose(entropy_scores(p), loop_entropy(p), rtol=1e-12, atol=1e-12)
    expected = np.maximum(loop_entropy(p) - loop_expected_entropy(p), 0.0)
    np.testing.assert_allclose(bald_scores(p), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 2), (6, 5), (20, 50)])
def test_variance_matches_loop(shape):
    y = np.random.default_rng(shape[1]).normal(size=shape) * 3 + 1
    np.testing.assert_allclose(variance_scores(y), loop_variance(y), rtol=1e-12)


def test_known_values():
    c = 7
    uniform = np.full((4, c, 9), 1.0 / c)
    np.testing.assert_allclose(entropy_scores(uniform), math.log(c), rtol=1e-12)
    np.testing.assert_allclose(bald_scores(uniform), 0.0, atol=1e-12)
    # identical masks: no disagreement, so BALD is 0 while the entropy is not
    rng = np.random.default_rng(0)
    one = random_probs(rng, 5, 4, 1)
    same = np.repeat(one, 11, axis=2)
    np.testing.assert_allclose(bald_scores(same), 0.0, atol=1e-12)
    assert np.all(entropy_scores(same) > 0.1)
    # one-hot predictions: 0 log 0 = 0; masks that disagree completely give BALD = log 2
    onehot = np.zeros((1, 3, 2))
    onehot[0, 0, 0] = onehot[0, 1, 1] = 1.0
    np.testing.assert_allclose(entropy_scores(onehot), [math.log(2)], rtol=1e-12)
    np.testing.assert_allclose(bald_scores(onehot), [math.log(2)], rtol=1e-12)
    # torch input gives the same numbers
    t = torch.as_tensor(random_probs(rng, 6, 3, 5))
    np.testing.assert_allclose(bald_scores(t), bald_scores(t.numpy()), rtol=1e-12)


def test_float32_softmax_is_accepted():
    logits = torch.randn(200, 10, 50, generator=torch.Generator().manual_seed(0)) * 5
    p32 = torch.softmax(logits, dim=1)
    assert p32.dtype == torch.float32
    np.testing.assert_allclose(entropy_scores(p32), entropy_scores(p32.double()), rtol=1e-6)


def test_top_k_order_and_ties():
    rng = np.random.default_rng(3)
    for n in (1, 5, 40):
        s = rng.integers(0, 4, size=n).astype(float)        # many ties
        k = max(1, n // 2)
        expected = sorted(range(n), key=lambda i: (-s[i], i))[:k]
        assert top_k(s, k).tolist() == expected
    assert top_k([1.0, 3.0, 3.0, 2.0], 3).tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((3, 2, 4), 0.4), "sum to 1"),
        (np.array([[[1.2], [-0.2]]]), "negative"),
        (np.array([[[np.nan], [1.0]]]), "NaN"),
        (np.array([[[np.inf], [0.0]]]), "NaN or infinite"),
        (np.full((3, 2), 0.5), "3 dimensions"),
        (np.zeros((3, 2, 0)), "at least 1 MC-dropout mask"),
    ],
)
def test_bad_probs_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        check_probs(bad)
    for fn in (entropy_scores, bald_scores):
        with pytest.raises(ValueError, match=match):
            fn(bad)
    if bad.ndim == 3 and bad.shape[2] > 0:
        with pytest.raises(ValueError, match=match):
            batchbald_batch(bad, 1)


def test_bad_sizes_raise():
    p = random_probs(np.random.default_rng(0), 4, 3, 5)
    with pytest.raises(ValueError, match="larger than the number"):
        top_k(entropy_scores(p), 5)
    with pytest.raises(ValueError, match="larger than the number"):
        batchbald_batch(p, 5)
    with pytest.raises(ValueError, match="at least 2 MC-dropout masks"):
        variance_scores(np.ones((4, 1)))
    with pytest.raises(ValueError, match="2 dimensions"):
        variance_scores(np.ones((4, 2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        top_k([1.0, np.nan], 1)


# ---------------------------------------------------------------- BatchBALD
def test_batchbald_b1_is_bald_argmax():
    rng = np.random.default_rng(1)
    for n, c, j in [(30, 2, 5), (50, 10, 20), (17, 3, 50)]:
        p = random_probs(rng, n, c, j)
        picked, scores = batchbald_batch(p, 1)
        bald = bald_scores(p)
        assert picked.tolist() == [int(np.argmax(bald))]
        np.testing.assert_allclose(scores[0], bald.max(), rtol=1e-10)


@pytest.mark.parametrize("c", [2, 3])
@pytest.mark.parametrize("b", [1, 2, 3])
def test_exact_joint_entropy_equals_enumeration(c, b):
    rng = np.random.default_rng(10 * c + b)
    p = random_probs(rng, 6, c, 4)
    idx = list(rng.choice(6, b, replace=False))
    assert joint_entropy_exact(p[idx]) == pytest.approx(brute_joint_entropy(p, idx), rel=1e-12)
    # the per-candidate joint entropies of the greedy step
    joint = np.ones((1, 4))
    for i in idx:
        joint = (joint[:, None, :] * p[i][None, :, :]).reshape(-1, 4)
    h = _joint_entropies_exact(torch.as_tensor(joint), torch.as_tensor(p), chunk=4).numpy()
    expected = [brute_joint_entropy(p, idx + [n]) for n in range(6)]
    np.testing.assert_allclose(h, expected, rtol=1e-12)


@pytest.mark.parametrize("c, b", [(2, 3), (3, 3), (3, 2)])
def test_batchbald_exact_equals_brute_force_greedy(c, b):
    rng = np.random.default_rng(c * 7 + b)
    p = random_probs(rng, 9, c, 5)
    picked, scores = batchbald_batch(p, b, chunk_size=2)
    ref_picked, ref_scores = brute_batchbald_greedy(p, b)
    assert picked.tolist() == ref_picked
    np.testing.assert_allclose(scores, ref_scores, rtol=1e-10)


def test_sampled_estimator_close_to_exact():
    rng = np.random.default_rng(5)
    c, j = 3, 10
    p = torch.as_tensor(random_probs(rng, 12, c, j, scale=1.5))
    batch = p[:4]                                              # 81 configurations
    joint = torch.ones(1, j, dtype=torch.float64)
    for i in range(4):
        joint = (joint[:, None, :] * batch[i][None]).reshape(-1, j)
    exact = _joint_entropies_exact(joint, p, chunk=5)
    scaled, log_scale = _sample_configurations(batch, 2000, np.random.default_rng(0))
    assert scaled.shape == (2000 * j, j)
    sampled = _joint_entropies_sampled(scaled, log_scale, p, chunk=5)
    np.testing.assert_allclose(sampled.numpy(), exact.numpy(), atol=0.03)
    assert float((sampled - exact).abs().max()) > 0                 # it really is an estimate


def test_batchbald_sampled_regime_end_to_end():
    rng = np.random.default_rng(6)
    p = random_probs(rng, 20, 4, 10, scale=1.5)
    # exact while 4^m <= 1000 (m <= 4); picks 6 and 7 use 100 x 10 sampled configurations
    picked, scores = batchbald_batch(p, 7, num_samples=1000, rng=np.random.default_rng(1))
    exact_picked, exact_scores = batchbald_batch(p, 5, num_samples=10**6)
    assert picked[:5].tolist() == exact_picked.tolist()
    np.testing.assert_allclose(scores[:5], exact_scores, rtol=1e-12)
    assert len(set(picked.tolist())) == 7
    cond = loop_expected_entropy(p)
    for m in (6, 7):
        truth = joint_entropy_exact(p[picked[:m]]) - cond[picked[:m]].sum()
        assert scores[m - 1] == pytest.approx(truth, abs=0.15)
    again, _ = batchbald_batch(p, 7, num_samples=1000, rng=np.random.default_rng(1))
    assert again.tolist() == picked.tolist()                   # seeded


def test_batchbald_large_batch_stays_bounded():
    # C^b = 10^8 configurations: building them (x J x 8 bytes) would need gigabytes
    p = random_probs(np.random.default_rng(2), 30, 10, 10)
    picked, scores = batchbald_batch(p, 8, num_samples=500, rng=np.random.default_rng(0))
    assert len(set(picked.tolist())) == 8
    assert np.all(np.isfinite(scores))


def test_batchbald_chunking_and_tensor_input():
    p = random_probs(np.random.default_rng(4), 25, 3, 6)
    a, sa = batchbald_batch(p, 4)
    b_, sb = batchbald_batch(torch.as_tensor(p, dtype=torch.float32), 4, chunk_size=3)
    assert a.tolist() == b_.tolist()
    np.testing.assert_allclose(sa, sb, rtol=1e-5)
    with pytest.raises(ValueError, match="num_samples"):
        batchbald_batch(p, 2, num_samples=0)


# ---------------------------------------------------------------- k-center
def loop_greedy_kcenter(lab, cand, b):
    picked = []
    centers = [list(x) for x in lab]
    for _ in range(b):
        best, best_d = None, -1.0
        for i, x in enumerate(cand):
            if i in picked:
                continue
            d = min(math.dist(x, c) for c in centers)
            if d > best_d:
                best, best_d = i, d
        picked.append(best)
        centers.append(list(cand[best]))
    return picked


def test_kcenter_farthest_first_and_literal_greedy():
    rng = np.random.default_rng(0)
    for n, l, d, b in [(40, 5, 3, 6), (60, 1, 8, 10), (25, 12, 2, 25)]:
        lab, cand = rng.normal(size=(l, d)), rng.normal(size=(n, d)) * 2
        first = int(np.argmax([min(math.dist(x, c) for c in lab) for x in cand]))
        picked = kcenter_batch(lab, cand, b, robust=False)
        assert picked[0] == first
        assert picked.tolist() == loop_greedy_kcenter(lab, cand, b)
        assert kcenter_batch(lab, cand, b, robust=False, chunk_size=3).tolist() == picked.tolist()
        g, radius = greedy_kcenter(lab, cand, b)
        assert g.tolist() == picked.tolist()
        assert radius == pytest.approx(coverage_radius(lab, cand, picked), rel=1e-9, abs=1e-6)


def test_kcenter_without_labelled_points_is_seeded():
    cand = np.random.default_rng(1).normal(size=(30, 4))
    lab = np.zeros((0, 4))
    a = kcenter_batch(lab, cand, 5, rng=np.random.default_rng(3))
    b = kcenter_batch(lab, cand, 5, rng=np.random.default_rng(3))
    assert a.tolist() == b.tolist() and len(set(a.tolist())) == 5


def planted_outlier_data():
    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    clusters = [centres[k] + 0.5 * rng.normal(size=(40, 2)) for k in range(3)]
    lab = clusters[0][:5]
    outlier = np.array([[100.0, 100.0]])
    cand = np.vstack([clusters[0][5:], clusters[1], clusters[2], outlier])
    return lab, cand, len(cand) - 1


def test_robust_kcenter_tolerates_planted_outlier():
    lab, cand, out = planted_outlier_data()
    greedy = kcenter_batch(lab, cand, 2, robust=False)
    assert greedy[0] == out                                    # greedy wastes a pick on it
    robust = kcenter_batch(lab, cand, 2, outlier_fraction=0.01)  # budget floor(0.01 * 125) = 1
    assert out not in robust.tolist()
    groups = sorted(int(i - 35) // 40 for i in robust)          # cluster of each pick
    assert groups == [0, 1]                                    # one center in each far cluster
    assert coverage_radius(lab, cand, robust, 1) < 3.0
    assert coverage_radius(lab, cand, greedy, 1) > 8.0
    # with no outlier allowed the far point has to be covered
    assert out in kcenter_batch(lab, cand, 2, outlier_fraction=0.0).tolist()


def test_robust_radius_never_worse_than_greedy():
    rng = np.random.default_rng(11)
    for frac in (0.0, 0.02, 0.05):
        lab, cand = rng.normal(size=(4, 5)), rng.standard_t(2, size=(150, 5))
        _, delta_g = greedy_kcenter(lab, cand, 8)
        robust = kcenter_batch(lab, cand, 8, outlier_fraction=frac)
        budget = int(frac * (len(lab) + len(cand)))
        assert len(set(robust.tolist())) == 8
        assert coverage_radius(lab, cand, robust, budget) <= delta_g + 1e-12


def loop_max_coverage(lab, cand, b, delta):
    covered = [any(math.dist(x, c) <= delta for c in lab) for x in cand]
    picked = []
    for _ in range(b):
        counts = [-1 if i in picked else
                  sum(1 for j, y in enumerate(cand) if not covered[j] and math.dist(x, y) <= delta)
                  for i, x in enumerate(cand)]
        u = int(np.argmax(counts))
        if counts[u] <= 0:
            centers = list(lab) + [cand[i] for i in picked]
            dists = [-1 if i in picked else min(math.dist(x, c) for c in centers)
                     for i, x in enumerate(cand)]
            u = int(np.argmax(dists))
        picked.append(u)
        for j, y in enumerate(cand):
            if math.dist(cand[u], y) <= delta:
                covered[j] = True
    return picked, sum(1 for c in covered if not c)


def test_max_coverage_matches_literal_loop():
    rng = np.random.default_rng(2)
    lab, cand = rng.normal(size=(3, 2)), rng.normal(size=(50, 2)) * 2
    t_lab, t_cand = torch.as_tensor(lab), torch.as_tensor(cand)
    lab_min = ((t_cand[:, None, :] - t_lab[None]) ** 2).sum(-1).min(dim=1).values
    for delta in (0.5, 1.0, 2.5, 8.0):
        for chunk in (None, 7):
            got = _max_coverage(lab_min, t_cand, 6, delta**2, chunk)
            assert got == loop_max_coverage(lab, cand, 6, delta)


def test_kcenter_bad_input():
    rng = np.random.default_rng(0)
    lab, cand = rng.normal(size=(3, 4)), rng.normal(size=(10, 4))
    with pytest.raises(ValueError, match="larger than the number"):
        kcenter_batch(lab, cand, 11)
    with pytest.raises(ValueError, match="dimension"):
        kcenter_batch(lab[:, :3], cand, 2)
    bad = cand.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="emb_candidates contains 1 NaN"):
        kcenter_batch(lab, bad, 2)
    with pytest.raises(ValueError, match="outlier_fraction"):
        kcenter_batch(lab, cand, 2, outlier_fraction=1.5)
    with pytest.raises(ValueError, match="2 dimensions"):
        kcenter_batch(lab, cand[:, :, None], 2)

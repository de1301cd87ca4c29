"""Appendix E: weight decay, noise terms, and the quality of MC-dropout uncertainty."""
import math
import statistics

import numpy as np
import pytest

from deimos_utils.uncertainty import calibration as cal


def test_weight_decay_is_c_over_n():
    assert cal.weight_decay(3.5, 10) == 0.35
    assert cal.weight_decay(0.0, 7) == 0.0
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="C"):
            cal.weight_decay(bad, 10)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="N"):
            cal.weight_decay(1.0, bad)


def literal_mean_variance(preds):
    """Mean over points (and classes) of statistics.variance over the masks."""
    arr = np.asarray(preds)
    flat = arr.reshape(-1, arr.shape[-1])
    return sum(statistics.variance(row.tolist()) for row in flat) / flat.shape[0]


def test_mean_dropout_variance_matches_literal():
    rng = np.random.default_rng(0)
    reg = rng.normal(size=(7, 5))
    probs = rng.dirichlet(np.ones(3), size=(6, 4)).transpose(0, 2, 1)  # (6, 3, 4)
    assert cal.mean_dropout_variance(reg) == pytest.approx(literal_mean_variance(reg), rel=1e-12)
    assert cal.mean_dropout_variance(probs) == pytest.approx(literal_mean_variance(probs), rel=1e-12)
    with pytest.raises(ValueError, match="regression"):
        cal.mean_dropout_variance(probs, "regression")
    with pytest.raises(ValueError, match="2 MC-dropout masks"):
        cal.mean_dropout_variance(reg[:, :1])


def test_noise_terms_are_fractions_of_the_mean_variance():
    rng = np.random.default_rng(1)
    reg = rng.normal(size=(10, 8))
    probs = rng.dirichlet(np.ones(4), size=(9, 8)).transpose(0, 2, 1)
    assert cal.regression_noise(reg, 0.15) == pytest.approx(0.15 * literal_mean_variance(reg), rel=1e-12)
    assert cal.classification_smoothing(probs, 0.005) == pytest.approx(
        0.005 * literal_mean_variance(probs), rel=1e-12)
    assert cal.noise_from_validation(reg, "regression", 0.1) == cal.regression_noise(reg, 0.1)
    assert cal.noise_from_validation(probs, "classification", 0.01) == cal.classification_smoothing(probs, 0.01)
    with pytest.raises(ValueError, match="outside"):
        cal.regression_noise(reg, 0.5, strict=True)
    with pytest.raises(ValueError, match="outside"):
        cal.classification_smoothing(probs, 0.1, strict=True)
    assert cal.regression_noise(reg, 0.5) > 0  # allowed without strict
    with pytest.raises(ValueError, match="fraction"):
        cal.regression_noise(reg, -0.1)
    with pytest.raises(ValueError, match="task"):
        cal.noise_from_validation(reg, "ranking", 0.1)


def literal_pearson_r2(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    cov = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    va = sum((x - ma) ** 2 for x in a)
    vb = sum((y - mb) ** 2 for y in b)
    return cov * cov / (va * vb)


def test_uncertainty_quality_regression_matches_literal():
    rng = np.random.default_rng(2)
    preds = rng.normal(size=(12, 6)) * rng.uniform(0.1, 2, size=(12, 1))
    y = rng.normal(size=12)
    err = [(sum(r) / len(r) - t) ** 2 for r, t in zip(preds.tolist(), y.tolist())]
    var = [statistics.variance(r) for r in preds.tolist()]
    assert cal.uncertainty_quality(preds, y) == pytest.approx(literal_pearson_r2(err, var), rel=1e-10)


def test_uncertainty_quality_classification_matches_literal():
    rng = np.random.default_rng(3)
    C = 3
    probs = rng.dirichlet(np.ones(C) * 0.7, size=(15, 5)).transpose(0, 2, 1)  # (15, C, 5)
    y = rng.integers(0, C, size=15)
    err, var = [], []
    for i in range(15):
        mean = [sum(probs[i, c]) / 5 for c in range(C)]
        err.append(sum((mean[c] - (1.0 if y[i] == c else 0.0)) ** 2 for c in range(C)))
        var.append(sum(statistics.variance(probs[i, c].tolist()) for c in range(C)))
    assert cal.uncertainty_quality(probs, y, "classification") == pytest.approx(
        literal_pearson_r2(err, var), rel=1e-10)


def test_uncertainty_quality_perfect_and_undefined():
    # variance exactly proportional to squared error: R^2 = 1
    spread = np.array([0.1, 0.5, 1.0, 2.0])
    preds = np.stack([1 + s * np.array([1.0, -1.0, 1.0, -1.0]) for s in spread])  # mean 1, var ~ s^2
    y = 1 + spread  # squared error s^2
    assert cal.uncertainty_quality(preds, y) == pytest.approx(1.0)
    const = np.tile(np.array([0.0, 1.0]), (4, 1))
    assert math.isnan(cal.uncertainty_quality(const, np.arange(4.0)))  # constant variance
    with pytest.raises(ValueError, match="y_val"):
        cal.uncertainty_quality(const, np.arange(3.0))
    probs = np.full((4, 2, 3), 0.5)
    with pytest.raises(ValueError, match="class labels"):
        cal.uncertainty_quality(probs, np.array([0, 1, 2, 0]))

"""Tests for deimos_utils.analysis.lmm: mixed-model LRT, acquisitions to threshold, batch diversity."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from scipy import optimize, stats

import deimos_utils.analysis.lmm as st
from deimos_utils.analysis.diversity import batch_diversity
from deimos_utils.analysis.lmm import LRTResult, chi2_log10_sf, lmm_lrt
from deimos_utils.analysis.results import higher_is_better_for
from deimos_utils.analysis.thresholds import NOT_REACHED, acquisitions_to_threshold, format_threshold_table


# ----------------------------------------------------------------------------------------------
# Simulated results
# ----------------------------------------------------------------------------------------------
def simulate(rng, shift=0.0, *, metric="test_accuracy", n_iter=10, n_seeds=3, sd_iter=0.02,
             sd_noise=0.01, methods=("a", "b")):
    """Tidy table: curve rising with n_acquired + iteration random effect + method shift + noise.

    ``shift`` is added to the second method's metric.
    """
    it_eff = rng.normal(0.0, sd_iter, n_iter)
    rows = []
    for m, sh in zip(methods, (0.0, shift)):
        for s in range(n_seeds):
            for i in range(n_iter):
                n_acq = 5 * (i + 1)
                curve = 0.9 + 0.08 * (1.0 - math.exp(-n_acq / 20.0))
                if metric != "test_accuracy":
                    curve = 1.0 - curve  # an error-like metric falls with n_acquired
                value = curve + it_eff[i] + sh + rng.normal(0.0, sd_noise)
                rows.append(dict(experiment="sim", method=m, seed=s, iteration=i,
                                 n_acquired=n_acq, n_labelled=n_acq + 10, **{metric: value}))
    return pd.DataFrame(rows)


def reference_ml_loglik(y, X, groups):
    """Literal ML log-likelihood of y ~ X beta + random intercept per group + noise.

    Dense covariance V = s2e I + s2g Z Z^T, GLS beta, maximised over log variances with
    Nelder-Mead from several starts. Returns (llf, beta).
    """
    n = len(y)
    Z = (groups[:, None] == np.unique(groups)[None, :]).astype(float)
    ZZ = Z @ Z.T

    def fit(theta):
        V = np.exp(theta[0]) * np.eye(n) + np.exp(theta[1]) * ZZ
        L = np.linalg.cholesky(V)
        Xw, yw = np.linalg.solve(L, X), np.linalg.solve(L, y)
        beta = np.linalg.lstsq(Xw, yw, rcond=None)[0]
        r = yw - Xw @ beta
        return 0.5 * (n * np.log(2 * np.pi) + 2 * np.log(np.diag(L)).sum() + r @ r), beta

    best = None
    for start in [(-1, -1), (-3, 0), (0, -3), (-5, -5)]:
        o = optimize.minimize(lambda t: fit(t)[0], np.log(np.var(y)) + np.array(start),
                              method="Nelder-Mead",
                              options=dict(xatol=1e-9, fatol=1e-11, maxiter=4000))
        if best is None or o.fun < best.fun:
            best = o
    return -best.fun, fit(best.x)[1]


# ----------------------------------------------------------------------------------------------
# lmm_lrt
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("shift", [0.0, 0.01])
def test_lrt_matches_literal_mixed_model(shift):
    d = simulate(np.random.default_rng(11), shift)
    r = lmm_lrt(d, "a", "b", "test_accuracy")
    y = d["test_accuracy"].to_numpy()
    g = d["iteration"].to_numpy()
    is_b = (d["method"] == "b").to_numpy(float)
    X0 = np.ones((len(y), 1))
    X1 = np.c_[X0, is_b]
    llf0, _ = reference_ml_loglik(y, X0, g)
    llf1, beta1 = reference_ml_loglik(y, X1, g)
    stat = max(2 * (llf1 - llf0), 0.0)
    assert isinstance(r, LRTResult)
    assert r.statistic == pytest.approx(stat, rel=1e-5, abs=1e-6)
    assert r.effect == pytest.approx(beta1[1], rel=1e-5, abs=1e-8)
    assert r.p_value == pytest.approx(stats.chi2.sf(stat, 1), rel=1e-4, abs=1e-9)
    assert r.log10_p_value == pytest.approx(math.log10(r.p_value), abs=1e-9)
    assert r.df == 1 and r.n_rows == len(d) and r.converged and r.warnings == ()


def test_lrt_planted_effect_higher_is_better():
    d = simulate(np.random.default_rng(1), shift=0.02)
    r = lmm_lrt(d, "a", "b", "test_accuracy")
    assert r.p_value < 1e-3
    assert r.better == "b"
    assert r.effect == pytest.approx(0.02, abs=0.006)
    # The order of the methods flips the sign of the effect, not the verdict.
    r2 = lmm_lrt(d, "b", "a", "test_accuracy")
    assert r2.better == "b"
    assert r2.effect == pytest.approx(-r.effect, rel=1e-6)
    assert r2.statistic == pytest.approx(r.statistic, rel=1e-6)
    # Told that lower is better, the verdict flips.
    assert lmm_lrt(d, "a", "b", "test_accuracy", higher_is_better=False).better == "a"


def test_lrt_planted_effect_lower_is_better():
    # b has a lower MSE: b is better, with a negative effect.
    d = simulate(np.random.default_rng(2), shift=-0.02, metric="test_mse",
                 methods=("random", "deimos"))
    r = lmm_lrt(d, "random", "deimos", "test_mse")
    assert r.p_value < 1e-3
    assert r.effect < 0
    assert r.better == "deimos"
    r_rmse = lmm_lrt(d.rename(columns={"test_mse": "test_rmse"}), "deimos", "random", "test_rmse")
    assert r_rmse.better == "deimos" and r_rmse.effect > 0


def test_lrt_uses_only_the_two_methods_and_one_experiment():
    rng = np.random.default_rng(3)
    d = simulate(rng, shift=0.02)
    other = simulate(rng, shift=0.5, methods=("a", "c"))
    other = other[other["method"] == "c"]
    exp2 = simulate(rng, shift=-1.0).assign(experiment="other")
    both = pd.concat([d, other, exp2], ignore_index=True)
    r_alone = lmm_lrt(d, "a", "b", "test_accuracy")
    r_mixed = lmm_lrt(both, "a", "b", "test_accuracy", experiment="sim")
    assert r_mixed.statistic == pytest.approx(r_alone.statistic, rel=1e-6)
    assert r_mixed.n_rows == len(d)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_lrt_null_pvalues_roughly_uniform():
    rng = np.random.default_rng(2024)
    ps = np.array([lmm_lrt(simulate(rng, 0.0), "a", "b", "test_accuracy").p_value
                   for _ in range(40)])
    assert np.all((ps > 0) & (ps <= 1))
    assert np.mean(ps < 0.05) < 0.2
    assert stats.kstest(ps, "uniform").pvalue > 1e-3


def test_lrt_huge_effect_gives_finite_log10():
    # An effect of 1 against noise 0.01 over 300 rows: p far below the float range.
    d = simulate(np.random.default_rng(4), shift=1.0, n_iter=50, sd_iter=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # boundary notes are fine here
        r = lmm_lrt(d, "a", "b", "test_accuracy")
    assert r.better == "b"
    assert math.isfinite(r.statistic) and r.statistic > 1600
    assert math.isfinite(r.log10_p_value) and r.log10_p_value < -340
    assert r.p_value == 0.0  # below ~1e-308: reported as 0, the number lives in log10
    # A smaller but still tiny p-value comes out as a positive float that matches its log10.
    d = simulate(np.random.default_rng(5), shift=0.015, n_iter=40)
    r = lmm_lrt(d, "a", "b", "test_accuracy")
    assert 0.0 < r.p_value < 1e-20
    assert math.log10(r.p_value) == pytest.approx(r.log10_p_value, rel=1e-9)


def test_chi2_log10_sf_beyond_underflow():
    # df = 1: sf(x) = 2 Phi(-sqrt(x)) = erfc(sqrt(x / 2)); compare where scipy is finite.
    for x in [0.0, 0.5, 3.0, 40.0, 400.0, 1300.0]:
        assert chi2_log10_sf(x, 1) == pytest.approx(stats.chi2.logsf(x, 1) / math.log(10),
                                                    rel=1e-10, abs=1e-12)
    # Beyond: finite, decreasing, and near the asymptote log10 of e^{-x/2} sqrt(2 / (pi x)).
    xs = [2000.0, 1e4, 1e6, 1e9]
    vals = [chi2_log10_sf(x, 1) for x in xs]
    assert all(math.isfinite(v) for v in vals) and np.all(np.diff(vals) < 0)
    for x, v in zip(xs, vals):
        asym = (-x / 2 + 0.5 * math.log(2 / (math.pi * x))) / math.log(10)
        assert v == pytest.approx(asym, abs=1e-3)
    # df = 2: sf(x) = exp(-x / 2) exactly.
    assert chi2_log10_sf(1e5, 2) == pytest.approx(-1e5 / 2 / math.log(10), rel=1e-12)
    assert chi2_log10_sf(0.0, 1) == 0.0


def _degenerate_table():
    """No iteration effect at all (each seed constant): the default optimizer fails at the
    boundary of the parameter space."""
    rows = [dict(method=m, seed=s, iteration=i, n_acquired=i, test_mse=float(s))
            for m in "ab" for s in range(3) for i in range(6)]
    return pd.DataFrame(rows)


def test_lrt_convergence_problems_reported_once():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        r = lmm_lrt(_degenerate_table(), "a", "b", "test_mse")
    assert r.warnings, "the degenerate fit should report problems"
    assert any("did not converge" in w for w in r.warnings)
    assert any("boundary" in w for w in r.warnings)
    assert r.statistic == pytest.approx(0.0, abs=1e-6) and r.p_value == pytest.approx(1.0)
    # One RuntimeWarning that lists every problem; statsmodels' own warnings do not leak.
    assert [w.category for w in caught] == [RuntimeWarning]
    for msg in r.warnings:
        assert msg in str(caught[0].message)


def test_lrt_all_optimizers_fail(monkeypatch):
    import statsmodels.formula.api as smf

    calls = []

    def starved_fit(formula, data, group, method, reml):
        calls.append(method)
        model = smf.mixedlm(formula, data, groups=data[group])
        return model.fit(reml=reml, method=method, maxiter=1)

    monkeypatch.setattr(st, "_fit_mixedlm", starved_fit)
    d = simulate(np.random.default_rng(6), shift=0.01)
    with pytest.warns(RuntimeWarning, match="did not converge") as rec:
        r = lmm_lrt(d, "a", "b", "test_accuracy")
    assert len([w for w in rec if w.category is RuntimeWarning]) == 1
    assert r.converged is False
    assert calls == list(st.FALLBACK_OPTIMIZERS) * 2  # every optimizer, for both models
    assert any("no optimizer converged" in w for w in r.warnings)
    assert math.isfinite(r.statistic) and math.isfinite(r.log10_p_value)


def test_lrt_fallback_used_when_default_fails(monkeypatch):
    import statsmodels.formula.api as smf

    def default_starved(formula, data, group, method, reml):
        model = smf.mixedlm(formula, data, groups=data[group])
        kw = dict(maxiter=1) if method is None else {}
        return model.fit(reml=reml, method=method, **kw)

    d = simulate(np.random.default_rng(7), shift=0.01)
    clean = lmm_lrt(d, "a", "b", "test_accuracy")
    monkeypatch.setattr(st, "_fit_mixedlm", default_starved)
    with pytest.warns(RuntimeWarning, match="used the powell optimizer"):
        r = lmm_lrt(d, "a", "b", "test_accuracy")
    assert r.converged
    assert r.statistic == pytest.approx(clean.statistic, rel=1e-3, abs=1e-4)


def test_lrt_unfittable_table_raises():
    # The method explains the metric exactly: the likelihood is unbounded, no fit is usable.
    rows = [dict(method=m, seed=s, iteration=i, test_mse=1.0 + (m == "b"))
            for m in "ab" for s in range(2) for i in range(4)]
    with pytest.raises(RuntimeError, match="every optimizer failed"):
        lmm_lrt(pd.DataFrame(rows), "a", "b", "test_mse")


def test_lrt_bad_inputs():
    d = simulate(np.random.default_rng(8), 0.0)
    with pytest.raises(ValueError, match=r"'zzz' is not in results; methods present: \['a', 'b'\]"):
        lmm_lrt(d, "a", "zzz", "test_accuracy")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['test_mse'\]; columns present: .*test_accuracy"):
        lmm_lrt(d, "a", "b", "test_mse")
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['round'\]"):
        lmm_lrt(d, "a", "b", "test_accuracy", group="round")
    with pytest.raises(ValueError, match="at least two iterations"):
        lmm_lrt(d[d["iteration"] == 3], "a", "b", "test_accuracy")
    bad = d.copy()
    bad.loc[5, "test_accuracy"] = np.nan
    with pytest.raises(ValueError, match="1 NaN"):
        lmm_lrt(bad, "a", "b", "test_accuracy")
    with pytest.raises(ValueError, match="same method"):
        lmm_lrt(d, "a", "a", "test_accuracy")
    with pytest.raises(ValueError, match="reml"):
        lmm_lrt(d, "a", "b", "test_accuracy", reml=True)
    with pytest.raises(ValueError, match="constant"):
        lmm_lrt(d.assign(test_accuracy=0.9), "a", "b", "test_accuracy")
    two = pd.concat([d, d.assign(experiment="other")], ignore_index=True)
    with pytest.raises(ValueError, match="several experiments"):
        lmm_lrt(two, "a", "b", "test_accuracy")
    with pytest.raises(ValueError, match="experiments present"):
        lmm_lrt(two, "a", "b", "test_accuracy", experiment="nope")
    with pytest.raises(ValueError, match="higher_is_better"):
        lmm_lrt(d.rename(columns={"test_accuracy": "score"}), "a", "b", "score")
    with pytest.raises(ValueError, match="DataFrame"):
        lmm_lrt(d.to_dict(), "a", "b", "test_accuracy")


def test_higher_is_better_for():
    assert higher_is_better_for("test_accuracy") is True
    assert higher_is_better_for("val-acc") is True
    for name in ["test_mse", "test_rmse", "train_loss", "MAE"]:
        assert higher_is_better_for(name) is False
    for name in ["score", "accuracy_loss"]:
        with pytest.raises(ValueError):
            higher_is_better_for(name)


# ----------------------------------------------------------------------------------------------
# acquisitions_to_threshold
# ----------------------------------------------------------------------------------------------
def _hand_table():
    """Two seeds per method. Pairs are equal where a mean must sit exactly on a threshold.

    Mean accuracy curves (by hand):
        deimos: n=0 -> 0.90, 5 -> 0.95, 10 -> 0.965, 15 -> 0.97
        random: n=0 -> 0.85, 5 -> 0.90, 10 -> 0.95,  15 -> 0.94 (seed 1 alone reaches 0.97)
    Mean MSE curves:
        deimos: 0.10, 0.05, 0.04, 0.03
        random: 0.20, 0.10, 0.05, 0.06 (seed 0 alone reaches 0.02)
    """
    acc = {
        "deimos": [(0.90, 0.90), (0.95, 0.95), (0.96, 0.97), (0.97, 0.97)],
        "random": [(0.85, 0.85), (0.90, 0.90), (0.95, 0.95), (0.91, 0.97)],
    }
    mse = {
        "deimos": [(0.10, 0.10), (0.05, 0.05), (0.03, 0.05), (0.03, 0.03)],
        "random": [(0.20, 0.20), (0.10, 0.10), (0.05, 0.05), (0.02, 0.10)],
    }
    rows = []
    for m in acc:
        for k, n in enumerate([0, 5, 10, 15]):
            for s in range(2):
                rows.append(dict(experiment="mnist", method=m, seed=s, iteration=k,
                                 n_acquired=n, n_labelled=n + 10,
                                 test_accuracy=acc[m][k][s], test_mse=mse[m][k][s]))
    return pd.DataFrame(rows)


def test_threshold_counts_higher_is_better():
    table = acquisitions_to_threshold(_hand_table(), "test_accuracy", [0.9, 0.95, 0.96, 0.97])
    assert list(table.columns) == ["deimos", "random"]
    assert list(table.index) == [0.9, 0.95, 0.96, 0.97] and table.index.name == "threshold"
    assert all(str(t) == "Int64" for t in table.dtypes)
    assert table["deimos"].tolist() == [0, 5, 10, 15]  # equality counts as reached
    assert table["random"].iloc[:2].tolist() == [5, 10]
    assert table["random"].iloc[2:].isna().all()  # the mean never reaches 0.96 / 0.97
    # Order and subset of methods.
    sub = acquisitions_to_threshold(_hand_table(), "test_accuracy", [0.95], methods=["random"])
    assert list(sub.columns) == ["random"] and sub.iloc[0, 0] == 10


def test_threshold_counts_lower_is_better():
    d = _hand_table()
    table = acquisitions_to_threshold(d, "test_mse", [0.1, 0.05, 0.03])
    assert table["deimos"].tolist() == [0, 5, 15]
    assert table["random"].iloc[:2].tolist() == [5, 10]
    assert pd.isna(table.loc[0.03, "random"])
    # The accuracy column read with the opposite direction: first n with mean <= threshold.
    flipped = acquisitions_to_threshold(d, "test_accuracy", [0.9, 0.85], higher_is_better=False)
    assert flipped.loc[0.9, "deimos"] == 0 and pd.isna(flipped.loc[0.85, "deimos"])
    assert flipped.loc[0.9, "random"] == 0 and flipped.loc[0.85, "random"] == 0


def test_threshold_against_literal_loop():
    rng = np.random.default_rng(9)
    d = simulate(rng, 0.01, n_iter=12, n_seeds=3)
    thr = [0.93, 0.95, 0.97, 0.99, 1.2]
    table = acquisitions_to_threshold(d, "test_accuracy", thr)
    for m in ["a", "b"]:
        for t in thr:
            want = pd.NA
            for n in sorted(d["n_acquired"].unique()):
                rows = d[(d["method"] == m) & (d["n_acquired"] == n)]
                if sum(rows["test_accuracy"]) / len(rows) >= t:
                    want = n
                    break
            got = table.loc[t, m]
            assert (pd.isna(got) and pd.isna(want)) or got == want


def test_threshold_bad_inputs():
    d = _hand_table()
    with pytest.raises(ValueError, match="columns present"):
        acquisitions_to_threshold(d, "test_rmse", [0.1])
    with pytest.raises(ValueError, match="methods present"):
        acquisitions_to_threshold(d, "test_accuracy", [0.9], methods=["bald"])
    bad = d.copy()
    bad.loc[0, "test_accuracy"] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        acquisitions_to_threshold(bad, "test_accuracy", [0.9])
    with pytest.raises(ValueError, match="thresholds"):
        acquisitions_to_threshold(d, "test_accuracy", [])
    with pytest.raises(ValueError, match="several experiments"):
        acquisitions_to_threshold(pd.concat([d, d.assign(experiment="x")]), "test_accuracy", [0.9])


def test_format_threshold_table():
    table = acquisitions_to_threshold(_hand_table(), "test_accuracy", [0.95, 0.97])
    plain = format_threshold_table(table)
    assert plain.loc[0.95].tolist() == ["5", "10"]
    assert plain.loc[0.97].tolist() == ["15", NOT_REACHED]
    paper = {"deimos": [20, 41], "random": [48, 158]}
    both = format_threshold_table(table, paper)
    assert both.loc[0.95].tolist() == ["5 (20)", "10 (48)"]
    assert both.loc[0.97].tolist() == ["15 (41)", "not reached (158)"]
    # A DataFrame / nested mapping, with a method and a threshold the paper lacks.
    paper_df = pd.DataFrame({"deimos": {0.97: 41, 0.975: 50}})
    partial = format_threshold_table(table, paper_df)
    assert partial.loc[0.95].tolist() == ["5", "10"]
    assert partial.loc[0.97].tolist() == ["15 (41)", NOT_REACHED]
    assert format_threshold_table(table, {"deimos": {0.95: "not reached"}}).loc[0.95, "deimos"] \
        == "5 (not reached)"
    with pytest.raises(ValueError, match="thresholds"):
        format_threshold_table(table, {"deimos": [1, 2, 3]})


# ----------------------------------------------------------------------------------------------
# batch_diversity
# ----------------------------------------------------------------------------------------------
def literal_diversity(p, eps=1e-12):
    total, pairs = 0.0, 0
    for i in range(len(p)):
        for j in range(i + 1, len(p)):
            kl_ij = sum(p[i][c] * (math.log(max(p[i][c], eps)) - math.log(max(p[j][c], eps)))
                        for c in range(len(p[i])))
            kl_ji = sum(p[j][c] * (math.log(max(p[j][c], eps)) - math.log(max(p[i][c], eps)))
                        for c in range(len(p[i])))
            total += kl_ij + kl_ji
            pairs += 1
    return total / pairs


@pytest.mark.parametrize("b,C", [(2, 2), (5, 3), (25, 10)])
def test_diversity_matches_literal_loop(b, C):
    rng = np.random.default_rng(b * 100 + C)
    p = rng.dirichlet(np.full(C, 0.5), size=b)
    p[0, 0] = 0.0  # an exact zero: clipped inside the logs
    p[0] /= p[0].sum()
    want = literal_diversity(p.tolist())
    assert batch_diversity(p) == pytest.approx(want, rel=1e-10)
    assert batch_diversity(torch.tensor(p, dtype=torch.float64)) == pytest.approx(want, rel=1e-10)
    # Symmetric in the order of the points.
    assert batch_diversity(p[rng.permutation(b)]) == pytest.approx(want, rel=1e-10)


def test_diversity_special_cases():
    row = np.array([0.2, 0.3, 0.5])
    assert batch_diversity(np.tile(row, (4, 1))) == 0.0
    assert math.isnan(batch_diversity(row[None, :]))
    assert math.isnan(batch_diversity(np.zeros((0, 3))))
    # Two one-hot rows: 2 * (1 - 0) * (log 1 - log eps) = -2 log eps.
    assert batch_diversity(np.eye(2)) == pytest.approx(-2 * math.log(1e-12))
    assert batch_diversity(np.eye(2), eps=1e-6) == pytest.approx(-2 * math.log(1e-6))
    # float32 softmax output is accepted.
    logits = torch.randn(6, 10, generator=torch.Generator().manual_seed(0))
    assert batch_diversity(torch.softmax(logits, dim=1)) > 0


def test_diversity_bad_inputs():
    with pytest.raises(ValueError, match="dimensions"):
        batch_diversity(np.ones(3) / 3)
    with pytest.raises(ValueError, match="negative"):
        batch_diversity(np.array([[1.2, -0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="sum to 1"):
        batch_diversity(np.array([[0.2, 0.2], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="NaN"):
        batch_diversity(np.array([[np.nan, 0.5], [0.5, 0.5]]))

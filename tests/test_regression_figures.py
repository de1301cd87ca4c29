"""Tests of deimos_utils.figures.regression: every table against a literal computation.

The shared tables notebooks 03 and 04 also call (what ran, titles, Table 1, the LMM tests) are
tested in test_report.py."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from deimos_utils.figures import regression as rf  # noqa: E402
from deimos_utils.experiment import loop  # noqa: E402
from deimos_utils.analysis import regression_tables as rt  # noqa: E402
from deimos_utils.data.aldata import ALData  # noqa: E402
from deimos_utils.experiment.config import ExperimentConfig, get_config, run_overrides  # noqa: E402
from deimos_utils.experiment.loop import initial_split  # noqa: E402
from deimos_utils.analysis.paper import TABLE1_SPLICING_MSE  # noqa: E402

METHODS = ("deimos", "max_variance", "random")


def fake_results(seed=0, methods=METHODS, seeds=(0, 1, 2), n_iter=12, batch=5, metric="test_mse",
                 offsets=None, noise_sd=0.002):
    """Tidy results: a falling curve per method (plus an offset) with random noise."""
    rng = np.random.default_rng(seed)
    offsets = offsets or {m: 0.0 for m in methods}
    rows = []
    for s in seeds:
        tau = float(rng.uniform(1e-3, 1e-2))
        for m in methods:
            for it in range(n_iter + 1):
                value = 0.12 * math.exp(-it / 6) + 0.05 + (offsets[m] if it else 0.0)
                value += float(rng.normal(0, noise_sd)) if it else 0.001 * s  # iteration 0 shared
                rows.append({"experiment": "splicing", "method": m, "seed": s, "iteration": it,
                             "n_acquired": it * batch, "batch_size": batch, metric: value,
                             "noise": tau, "val_uncertainty_r2": float(rng.uniform(0, 1)),
                             "train_seconds": float(rng.uniform(0, 2)),
                             "eval_seconds": float(rng.uniform(0, 1)),
                             "acquire_seconds": float(rng.uniform(0, 1))})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what ran

def test_run_overrides():
    assert run_overrides() == {}
    assert run_overrides(n_repeats=2) == {"n_repeats": 2}
    assert run_overrides(n_acquired=300) == {"n_acquired": 300, "tag": "n_acquired300"}
    assert run_overrides(n_acquired=300, tag="short") == {"n_acquired": 300, "tag": "short"}
    assert run_overrides(tag="x") == {"tag": "x"}
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n_acquired"):
            run_overrides(n_acquired=bad)
        with pytest.raises(ValueError, match="n_repeats"):
            run_overrides(n_repeats=bad)
    # the overrides are accepted by get_config and land in the run name
    cfg = get_config("utkface_b100", "cpu", **run_overrides(n_acquired=200))
    assert cfg.n_acquired == 200 and cfg.run_name == "cpu-n_acquired200"


# ------------------------------------------------------------------------------------ Appendix E

def test_calibration_table_matches_literal():
    res = fake_results(1)
    sd = {0: 2.0, 1: 0.5, 2: 3.0}
    table = rt.calibration_table(res, 0.1, sd)
    assert len(table) == len(METHODS) * 3
    for (m, s), row in table.iterrows():
        g = res[(res.method == m) & (res.seed == s)].sort_values("iteration")
        assert row["tau_inv"] == g["noise"].iloc[0]
        assert row["tau_inv_y"] == pytest.approx(g["noise"].iloc[0] * sd[s] ** 2)
        assert row["mean_dropout_var"] == pytest.approx(g["noise"].iloc[0] / 0.1)
        assert row["r2_initial"] == g["val_uncertainty_r2"].iloc[0]
        assert row["r2_final"] == g["val_uncertainty_r2"].iloc[-1]
        assert row["r2_mean"] == pytest.approx(sum(g["val_uncertainty_r2"]) / len(g))
    plain = rt.calibration_table(res)
    assert "mean_dropout_var" not in plain and "tau_inv_y" not in plain
    with pytest.raises(ValueError, match="seed"):
        rt.calibration_table(res, 0.1, {0: 1.0})
    with pytest.raises(ValueError, match="noise"):
        rt.calibration_table(res.drop(columns="noise"))


def test_initial_target_sd_is_sd_of_initial_set():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(120, 3)).astype(np.float32)
    y = rng.normal(5, 4, size=120).astype(np.float32)
    data = ALData(x[:100], y[:100], x[100:], y[100:], task="regression", n_classes=None)
    cfg = ExperimentConfig(experiment="toy", dataset="custom", task="regression", methods=("random",),
                           n_initial=15, n_acquired=5, batch_size=5, n_candidates=20, n_validation=10,
                           model="mlp", n_repeats=2)
    out = loop.initial_target_sd(cfg, data)
    assert set(out) == {0, 1}
    for s in (0, 1):
        init, _ = initial_split(cfg, data, s)
        vals = [float(y[i]) for i in init]
        mean = sum(vals) / len(vals)
        assert out[s] == pytest.approx(math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals)), rel=1e-6)
    assert loop.initial_target_sd(cfg.replace(standardize_y=False), data) == {0: 1.0, 1: 1.0}


# ------------------------------------------------------------------------------------ Table 1

def literal_thresholds(res, metric, paper, first, last, tail):
    m0 = res.loc[res.n_acquired == 0, metric].mean()
    ends = []
    for m in dict.fromkeys(res.method):
        steps = sorted(set(res.loc[res.method == m, "n_acquired"]))
        curve = [res.loc[(res.method == m) & (res.n_acquired == n), metric].mean() for n in steps]
        k = max(1, math.ceil(tail * (len(curve) - 1)))
        ends.append(sum(curve[-k:]) / k)
    m_end = sum(ends) / len(ends)
    out = []
    for p in paper:
        pos = (paper[0] - p) / (paper[0] - paper[-1])
        out.append(m0 - (first + pos * (last - first)) * (m0 - m_end))
    return out, m0, m_end


@pytest.mark.parametrize("first,last,tail", [(1 / 3, 1.0, 0.1), (0.0, 0.8, 0.5), (0.2, 1.0, 1.0)])
def test_relative_thresholds_match_literal(first, last, tail):
    res = fake_results(2, offsets={"deimos": -0.01, "max_variance": 0.01, "random": 0.0})
    paper = TABLE1_SPLICING_MSE["thresholds"]
    thr, info = rt.relative_thresholds(res, "test_mse", paper, first=first, last=last, tail=tail)
    want, m0, m_end = literal_thresholds(res, "test_mse", paper, first, last, tail)
    np.testing.assert_allclose(thr, want, rtol=1e-12)
    assert info["initial"] == pytest.approx(m0) and info["final"] == pytest.approx(m_end)
    np.testing.assert_allclose(info["positions"], [0, 0.5, 0.75, 1.0])
    assert info["improved"]
    assert np.all(np.diff(thr) <= 0)  # decreasing like the paper's


def test_relative_thresholds_anchors_and_errors():
    res = fake_results(4)
    thr, info = rt.relative_thresholds(res, "test_mse", [0.11, 0.09], first=0.0, last=1.0)
    assert thr[0] == pytest.approx(info["initial"]) and thr[1] == pytest.approx(info["final"])
    flat = res.assign(test_mse=0.1)
    assert not rt.relative_thresholds(flat, "test_mse", [0.11, 0.09])[1]["improved"]
    with pytest.raises(ValueError, match="monotone"):
        rt.relative_thresholds(res, "test_mse", [0.1, 0.11, 0.09])
    with pytest.raises(ValueError, match="2 or more"):
        rt.relative_thresholds(res, "test_mse", [0.1])
    with pytest.raises(ValueError, match="tail"):
        rt.relative_thresholds(res, "test_mse", [0.11, 0.09], tail=0)
    with pytest.raises(ValueError, match="n_acquired == 0"):
        rt.relative_thresholds(res[res.n_acquired > 0], "test_mse", [0.11, 0.09])
    with pytest.raises(ValueError, match="not in results"):
        rt.relative_thresholds(res, "test_mse", [0.11, 0.09], methods=["bald"])


def test_splicing_thresholds_real_vs_simulated():
    res = fake_results(5)
    paper = TABLE1_SPLICING_MSE["thresholds"]
    thr, rule, info = rt.splicing_thresholds(res, "A5SS (Rosenberg et al. 2015)", paper)
    assert list(thr) == paper and info == {} and "real data" in rule
    thr, rule, info = rt.splicing_thresholds(res, "simulated", paper)
    np.testing.assert_allclose(thr, rt.relative_thresholds(res, "test_mse", paper)[0])
    assert "SIMULATED" in rule and f"{info['initial']:.4f}" in rule


# ------------------------------------------------------------------------------------ final, timing, figures

def test_final_metric_table_matches_literal():
    res = fake_results(8, metric="test_rmse")
    res = res[~((res.method == "random") & (res.iteration == 12))]  # random stops one step early
    table = rt.final_metric_table(res, "test_rmse")
    for m in METHODS:
        g = res[res.method == m]
        last = g.n_acquired.max()
        v = list(g.loc[g.n_acquired == last, "test_rmse"])
        mean = sum(v) / len(v)
        sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (len(v) - 1))
        assert table.at[m, "n_acquired"] == last
        assert table.at[m, "mean"] == pytest.approx(mean) and table.at[m, "sd"] == pytest.approx(sd)
        assert table.at[m, "n_seeds"] == 3
    assert table.at["random", "n_acquired"] == 55
    one = rt.final_metric_table(res[res.seed == 0], "test_rmse")
    assert one["sd"].isna().all() and (one["n_seeds"] == 1).all()


def test_timing_summary_matches_literal():
    res = fake_results(9)
    t = rt.timing_summary(res)
    for (m, s), row in t.iterrows():
        g = res[(res.method == m) & (res.seed == s)]
        assert row["iterations"] == len(g)
        total = sum(g.train_seconds) + sum(g.eval_seconds) + sum(g.acquire_seconds)
        assert row["total"] == pytest.approx(total)


def test_figures():
    res = fake_results(10, metric="test_rmse")
    cfg_a, cfg_b = get_config("utkface_b100", "quick"), get_config("utkface_b200", "quick")
    fig, axes, caption = rf.plot_learning_panels({"a": (res, cfg_a), "b": (res, cfg_b)}, "test_rmse", "UTKFace",
                                                 what="RMSE", ylabel="years")
    assert len(axes) == 2 and caption == ""
    assert [line.get_label() for line in axes[0].get_lines()] == [
        "DEIMOS (3 seeds)", "Max. variance (3 seeds)", "Random (3 seeds)"]
    assert axes[1].get_title() == "RMSE: UTKFace, batch size 10\nquick preset, 3 repeats"
    assert axes[0].get_title() == "RMSE: UTKFace, batch size 5\nquick preset, 3 repeats"
    assert axes[0].get_ylabel() == "years"
    plt.close(fig)
    tables = {"b = 100": rt.final_metric_table(res, "test_rmse"),
              "b = 200": rt.final_metric_table(res[res.method != "random"], "test_rmse")}
    ax = rf.plot_final_metric(tables, ylabel="RMSE")
    assert len(ax.containers) == 3  # one errorbar container per method
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 5 and f"{tables['b = 100'].at['deimos', 'mean']:.2f}" in texts
    plt.close(ax.figure)
    with pytest.raises(ValueError):
        rf.plot_final_metric({})
    with pytest.raises(ValueError):
        rf.plot_learning_panels({}, "test_rmse", "x", what="y")

"""Tests of deimos_utils.analysis.tables (the tables every notebook shares), on hand-made results."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from deimos_utils.analysis import tables as report
from deimos_utils.experiment.config import get_config
from deimos_utils.analysis.paper import TABLE1_SPLICING_MSE, TABLE2_MNIST_7V9_ACCURACY
from deimos_utils.analysis.lmm import lmm_lrt


def fake_results(methods=("deimos", "random"), seeds=(0, 1), n_iter=4, batch_size=2, *,
                 metric="test_accuracy", experiment="mnist_7v9_b25", shift=None, noise_sd=0.01, seed=0):
    """A results table: accuracy rising (or an MSE falling) with the iteration, plus normal
    noise; ``shift[method]`` is added to a method's metric. Diversity rises with the method's
    position in ``methods`` and is NaN in the last row of a run (no batch) and for b = 1."""
    g = np.random.default_rng(seed)
    shift = shift or {}
    rows = []
    for m_i, m in enumerate(methods):
        for s in seeds:
            for it in range(n_iter + 1):
                if metric == "test_accuracy":
                    trend = 0.7 + 0.25 * (1 - math.exp(-it / 10))
                else:
                    trend = 0.05 + 0.12 * math.exp(-it / 6)
                rows.append({"experiment": experiment, "method": m, "seed": s, "iteration": it,
                             "n_acquired": it * batch_size, "batch_size": batch_size,
                             metric: trend + shift.get(m, 0.0) + noise_sd * g.normal(),
                             "diversity": 0.1 * (m_i + 1) + 0.01 * g.normal()
                             if it < n_iter and batch_size > 1 else np.nan})
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------ what ran

def test_config_summary_per_task():
    c1, c25 = get_config("mnist_7v9_b1", "quick"), get_config("mnist_0to9_b25", "cpu")
    table = report.config_summary(c1, c25, provenance=False)
    assert list(table.columns) == ["mnist_7v9_b1 (quick)", "mnist_0to9_b25 (cpu)"]
    assert list(table.index) == list(report.CONFIG_FIELDS["classification"])
    assert table.at["batch_size", "mnist_0to9_b25 (cpu)"] == "25"
    assert table.at["classes", "mnist_7v9_b1 (quick)"] == "7, 9"
    assert table.at["classes", "mnist_0to9_b25 (cpu)"] == "all"
    assert table.at["methods", "mnist_7v9_b1 (quick)"] == "deimos, bald, max_entropy, random, kcenter"
    # a fixed tau_s^-1 makes noise_fraction unused, and the table says so
    assert table.at["noise", "mnist_7v9_b1 (quick)"] == "8.37e-05"
    assert table.at["noise_fraction", "mnist_7v9_b1 (quick)"] == "unused (noise is set)"

    a = get_config("utkface_b100", "quick")
    b = get_config("utkface_b200", "quick", tag="v")
    table = report.config_summary(a, b, provenance=False)
    assert list(table.columns) == ["utkface_b100 (quick)", "utkface_b200 (quick-v)"]
    assert list(table.index) == list(report.CONFIG_FIELDS["regression"])
    for cfg, col in ((a, "utkface_b100 (quick)"), (b, "utkface_b200 (quick-v)")):
        assert table.at["batch_size", col] == str(cfg.batch_size)
        assert table.at["methods", col] == "deimos, max_variance, random"
        assert table.at["n_acquired", col] == str(cfg.n_acquired)
    assert table.at["tag", "utkface_b100 (quick)"] == "-" and table.at["tag", "utkface_b200 (quick-v)"] == "v"


def test_config_summary_shows_each_fields_provenance():
    cpu = get_config("utkface_b100", "cpu")
    changed = get_config("utkface_b100", "cpu", n_masks=20)
    table = report.config_summary(cpu, changed.replace(tag="j20"))
    assert list(table.columns) == [("utkface_b100 (cpu)", "value"), ("utkface_b100 (cpu)", "provenance"),
                                   ("utkface_b100 (cpu-j20)", "value"), ("utkface_b100 (cpu-j20)", "provenance")]
    prov = table["utkface_b100 (cpu)"]["provenance"]
    assert prov["n_masks"] == "paper" and prov["model"] == "authors' code"
    assert prov["resolution"] == "ours (cpu preset)" and prov["n_candidates"] == "ours (cpu preset)"
    assert prov["experiment"] == prov["preset"] == prov["tag"] == "-"
    other = table["utkface_b100 (cpu-j20)"]
    assert other.at["n_masks", "value"] == "20" and other.at["n_masks", "provenance"] == "ours (override)"
    assert table["utkface_b100 (cpu)"].at["n_masks", "value"] == "50"
    # the paper preset: nothing is ours among the fields that set the run, but the initial set
    paper = report.config_summary(get_config("splicing", "paper"))["splicing (paper)"]["provenance"]
    ours = [f for f, p in paper.items() if p.startswith("ours")]
    assert ours == ["initial_set", "noise_fraction"]


def test_config_summary_fields_and_errors():
    c1, a = get_config("mnist_7v9_b1", "quick"), get_config("utkface_b100", "quick")
    mixed = report.config_summary(c1, a)  # the union of both tasks' fields, in order
    cls, reg = report.CONFIG_FIELDS["classification"], report.CONFIG_FIELDS["regression"]
    assert list(mixed.index) == list(cls) + [f for f in reg if f not in cls]
    chosen = report.config_summary(a, fields=["tag", "hidden", "n_test", "classes"], provenance=False)
    assert chosen["utkface_b100 (quick)"].tolist() == ["-", "256, 256, 256", str(a.n_test), "all"]
    with pytest.raises(ValueError, match="at least one"):
        report.config_summary()
    with pytest.raises(ValueError, match="no field"):
        report.config_summary(a, fields=["tag", "nonsense"])
    with pytest.raises(ValueError, match="empty"):
        report.config_summary(a, fields=[])
    with pytest.raises(ValueError, match="distinct tags"):
        report.config_summary(a, a.replace(n_repeats=2))


def test_describe_runs_counts_rows_per_repeat():
    res = fake_results(methods=("deimos", "kcenter"), seeds=(0, 1, 2), n_iter=3, batch_size=5)
    res = res[~((res["method"] == "kcenter") & (res["seed"] == 2) & (res["iteration"] == 3))]
    d = report.describe_runs(res)
    assert list(d.index) == ["deimos", "kcenter"]
    assert d.loc["deimos"].tolist() == [3, 4, 5, 15]
    assert d.loc["kcenter", "rows per repeat"] == "3-4"
    with pytest.raises(ValueError, match="lacks the column"):
        report.describe_runs(res.drop(columns="batch_size"))
    sizes = pd.concat([fake_results(methods=("deimos",), n_iter=2, batch_size=5, seed=k).assign(sample_size=s)
                       for k, s in enumerate((20, 50))], ignore_index=True)
    assert report.describe_runs(sizes, by="sample_size").to_dict(orient="index") == {
        20: {"repeats": 2, "rows per repeat": 3, "batch size": 5, "acquired": 10},
        50: {"repeats": 2, "rows per repeat": 3, "batch size": 5, "acquired": 10}}


# ------------------------------------------------------------------------------------ titles

def test_data_labels():
    assert report.is_simulated("simulated") and not report.is_simulated("A5SS (Rosenberg et al. 2015)")
    assert report.data_label("simulated") == "SIMULATED library"
    assert report.data_label("UTKFace (Aligned & Cropped)") == "UTKFace (Aligned & Cropped)"
    assert report.data_label("MNIST 7 vs 9") == "MNIST 7 vs 9"
    assert report.data_label("") == "unknown source"


def test_figure_title_names_data_batch_size_preset_and_repeats():
    cfg = get_config("mnist_7v9_b25", "quick", tag="samp20")
    assert (report.figure_title("MNIST 7 vs 9", cfg, 3, "test accuracy")
            == "test accuracy: MNIST 7 vs 9, batch size 5\nquick preset (samp20), 3 repeats")
    assert report.figure_title("MNIST", cfg.replace(tag="", n_repeats=1)) == "MNIST, batch size 5\nquick preset, 1 repeat"
    splicing = get_config("splicing", "cpu", tag="t", n_repeats=1)
    assert (report.figure_title("simulated", splicing, what="MSE")
            == "MSE: SIMULATED library, batch size 1\ncpu preset (t), 1 repeat")
    assert (report.figure_title("A5SS (Rosenberg et al. 2015)", splicing, 3, "MSE", batch_size=False)
            == "MSE: A5SS (Rosenberg et al. 2015)\ncpu preset (t), 3 repeats")


# ------------------------------------------------------------------------------------ Tables 1, 2

def first_crossing(res, method, metric, threshold, higher_is_better):
    """The smallest n_acquired whose mean over seeds reaches threshold, by a plain loop."""
    rows = res[res["method"] == method]
    for n in sorted(rows["n_acquired"].unique()):
        mean = rows.loc[rows["n_acquired"] == n, metric].mean()
        if (mean >= threshold) if higher_is_better else (mean <= threshold):
            return int(n)
    return None


def test_threshold_comparison_with_the_papers_thresholds():
    methods = ("deimos", "bald", "max_entropy", "random", "kcenter")
    res = fake_results(methods=methods, seeds=(0, 1, 2), n_iter=60, batch_size=1,
                       experiment="mnist_7v9_b1", shift={"random": -0.03, "deimos": 0.01}, seed=3)
    paper = TABLE2_MNIST_7V9_ACCURACY
    table = report.threshold_comparison(res, "test_accuracy", paper=paper)
    assert list(table.columns) == ["DEIMOS", "BALD", "Max. entropy", "Random", "Robust k-center"]
    assert table.columns.name == "ours (paper)"
    assert list(table.index) == ["0.95", "0.96", "0.97", "0.975"]
    assert table.index.name == "test accuracy threshold"
    assert table.attrs["thresholds"] == [0.95, 0.96, 0.97, 0.975]
    for m in methods:
        for k, t in enumerate(paper["thresholds"]):
            ours = first_crossing(res, m, "test_accuracy", t, True)
            want = f"{'not reached' if ours is None else ours} ({paper[m][k]})"
            assert table.iloc[k][report.method_label(m)] == want
            assert table.attrs["acquisitions"][m][k] == ours
    # at least one threshold is reached and at least one is not: both branches are exercised
    cells = table.to_numpy().ravel().tolist()
    assert any(c.startswith("not reached") for c in cells) and not all(c.startswith("not") for c in cells)
    with pytest.raises(ValueError, match="thresholds"):
        report.threshold_comparison(res, "test_accuracy", paper={"deimos": [1]})


def test_threshold_comparison_with_rescaled_thresholds():
    methods = ("deimos", "max_variance", "random")
    res = fake_results(methods=methods, seeds=(0, 1, 2), n_iter=12, batch_size=5, metric="test_mse",
                       experiment="splicing", shift={"deimos": -0.005, "max_variance": 0.01},
                       noise_sd=0.002, seed=6)
    thr = [0.12, 0.09, 0.07, 0.0]
    paper = TABLE1_SPLICING_MSE
    table = report.threshold_comparison(res, "test_mse", thr, paper, methods=methods)
    assert list(table.columns) == ["DEIMOS", "Max. variance", "Random"]
    assert list(table.index) == ["0.12 (0.11)", "0.09 (0.1)", "0.07 (0.095)", "0 (0.09)"]
    assert table.index.name == "test mse threshold"
    for k, t in enumerate(thr):
        for m, col in zip(methods, table.columns):
            ours = first_crossing(res, m, "test_mse", t, False)
            assert table.iloc[k][col] == f"{'not reached' if ours is None else ours} ({paper[m][k]})"
    assert table.iloc[-1]["DEIMOS"].startswith("not reached")
    assert not table.iloc[0]["DEIMOS"].startswith("not reached")
    # the paper's own thresholds: no brackets in the index
    assert list(report.threshold_comparison(res, "test_mse", paper=paper).index) == ["0.11", "0.1", "0.095", "0.09"]
    # without the paper: bare numbers; close thresholds get enough digits to differ
    plain = report.threshold_comparison(res, "test_mse", [0.1, 0.10001], methods=["random"])
    assert list(plain.columns) == ["Random"] and plain.columns.name is None
    assert list(plain.index) == ["0.1", "0.10001"]
    assert plain["Random"].tolist() == [str(first_crossing(res, "random", "test_mse", t, False))
                                        for t in (0.1, 0.10001)]
    with pytest.raises(ValueError, match="thresholds"):
        report.threshold_comparison(res, "test_mse", [0.1], paper)
    with pytest.raises(ValueError, match="not in results"):
        report.threshold_comparison(res, "test_mse", thr, methods=["bald"])


# ------------------------------------------------------------------------------------ Appendix C

@pytest.mark.parametrize("log10_p, text", [
    (math.log10(0.5), "0.500"), (math.log10(0.25), "0.250"), (math.log10(0.0042), "0.004"),
    (math.log10(2.3e-21), "2.3e-21"), (math.log10(6.9e-34), "6.9e-34"), (-400 + math.log10(5.2), "5.2e-400"),
    (math.log10(2.1) - 400, "2.1e-400"), (math.log10(9.97e-5), "1.0e-4"), (float("nan"), "n/a"),
    (float("-inf"), "n/a"), (None, "n/a"),
])
def test_format_p_value(log10_p, text):
    assert report.format_p_value(log10_p) == text


def test_lmm_comparison_matches_lmm_lrt_and_the_paper():
    res = fake_results(methods=("deimos", "bald", "random"), seeds=(0, 1, 2), n_iter=20,
                       batch_size=1, experiment="mnist_7v9_b1", shift={"deimos": 0.02}, seed=1)
    table = report.lmm_comparison(res)
    assert list(table.index) == ["BALD", "Random"]
    for m in ("bald", "random"):
        ref = lmm_lrt(res, "deimos", m, "test_accuracy")
        row = table.loc[report.method_label(m)]
        assert row["p-value"] == report.format_p_value(ref.log10_p_value)
        assert row["log10 p"] == round(ref.log10_p_value, 2)
        assert row["DEIMOS - method"] == pytest.approx(-ref.effect)
        assert row["DEIMOS - method"] > 0 and row["better"] == "DEIMOS"
    assert table.loc["BALD", "p-value (paper)"] == "2.3e-21"
    assert table.loc["Random", "p-value (paper)"] == "5.2e-133"
    # an experiment the paper reports nothing for, and the order of `others`
    other = report.lmm_comparison(res.assign(experiment="mnist_7v9_b25"), ["random", "bald"])
    assert list(other.index) == ["Random", "BALD"]
    assert other.loc["BALD", "p-value (paper)"] == "-"
    assert other.loc["Random", "p-value (paper)"] == "4.4e-11"


def test_lmm_comparison_on_a_metric_lower_is_better():
    methods = ("deimos", "max_variance", "random")
    res = fake_results(methods=methods, seeds=(0, 1, 2), n_iter=12, batch_size=5, metric="test_mse",
                       experiment="splicing", shift={"deimos": -0.01}, noise_sd=0.003, seed=7)
    table = report.lmm_comparison(res, metric="test_mse")
    assert list(table.index) == ["Max. variance", "Random"]
    for m in ("max_variance", "random"):
        direct = lmm_lrt(res, "deimos", m, "test_mse")
        row = table.loc[report.method_label(m)]
        assert row["log10 p"] == round(direct.log10_p_value, 2) and row["log10 p"] < -3
        assert row["DEIMOS - method"] == pytest.approx(-direct.effect)
        assert row["DEIMOS - method"] < 0 and row["better"] == "DEIMOS"  # a lower MSE
    assert table["p-value (paper)"].tolist() == ["2.1e-278", "6.9e-34"]
    unknown = report.lmm_comparison(res.assign(experiment="no_such_experiment"), ["random"], metric="test_mse")
    assert unknown["p-value (paper)"].tolist() == ["-"]
    # a single iteration: no test possible, reported instead of raised
    one = report.lmm_comparison(res[res["iteration"] == 1], metric="test_mse")
    assert one["log10 p"].isna().all() and (one["p-value"] == "n/a").all()
    assert one["fit notes"].str.startswith("not tested: ").all()
    with pytest.raises(ValueError, match="reference"):
        report.lmm_comparison(res[res["method"] != "deimos"], metric="test_mse")


def test_lmm_comparison_notes_failed_fits(monkeypatch):
    res = fake_results(n_iter=5)

    def failing(*args, **kwargs):
        raise RuntimeError("every optimizer failed to fit the null model")

    monkeypatch.setattr(report, "lmm_lrt", failing)
    table = report.lmm_comparison(res)
    assert table.loc["Random", "p-value"] == "n/a" and table.loc["Random", "better"] == "-"
    assert table.loc["Random", "fit notes"] == "not tested: every optimizer failed to fit the null model"


def test_lmm_comparison_drops_nan_rows_and_reports_untestable_pairs():
    res = fake_results(methods=("deimos", "random", "kcenter"), n_iter=5)
    res.loc[res["method"] == "kcenter", "test_accuracy"] = 0.5
    res.loc[res["method"] == "deimos", "test_accuracy"] = 0.5  # constant over deimos + kcenter
    res.loc[(res["method"] == "random") & (res["iteration"] == 5), "test_accuracy"] = np.nan
    table = report.lmm_comparison(res)
    assert table.loc["Robust k-center", "p-value"] == "n/a"
    assert table.loc["Robust k-center", "fit notes"].startswith("not tested: ")
    assert "constant" in table.attrs["notes"]["kcenter"][0]
    assert table.loc["Random", "p-value"] != "n/a"
    # diversity: NaN in the last rows, direction given explicitly
    div = report.lmm_comparison(fake_results(n_iter=5, seeds=(0, 1, 2)), metric="diversity",
                                higher_is_better=True)
    assert div.loc["Random", "better"] == "Random"  # random's fake diversity is larger
    with pytest.raises(ValueError, match="reference method"):
        report.lmm_comparison(res, reference="bald")
    with pytest.raises(ValueError, match="not in results"):
        report.lmm_comparison(res, ["bald"])
    two = pd.concat([res, res.assign(experiment="other")])
    with pytest.raises(ValueError, match="several experiments"):
        report.lmm_comparison(two)


def test_methods_present_keeps_the_given_order_and_drops_methods_without_rows():
    res = fake_results(methods=("random", "deimos"))
    assert report.methods_present(res, ("deimos", "max_entropy", "random")) == ["deimos", "random"]
    assert report.methods_present(res.iloc[:0], ("deimos",)) == []

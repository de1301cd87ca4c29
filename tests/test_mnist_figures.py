"""Tests for deimos_utils.figures.mnist on hand-made results tables (quick and cpu sizes).

The shared tables the MNIST notebooks also call (what ran, Table 2, the LMM tests) are tested
in test_report.py; here only their use at the cpu preset's size."""
from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from deimos_utils.figures import mnist as mf  # noqa: E402
from deimos_utils.analysis import mnist_tables as mt  # noqa: E402
from deimos_utils.experiment import sample_sizes as ss  # noqa: E402
from deimos_utils.analysis import tables as report  # noqa: E402
from deimos_utils.data.aldata import ALData  # noqa: E402
from deimos_utils.experiment.config import get_config  # noqa: E402
from deimos_utils.analysis.paper import TABLE2_MNIST_7V9_ACCURACY  # noqa: E402
from deimos_utils.analysis.lmm import lmm_lrt  # noqa: E402
from deimos_utils.experiment.store import COLUMNS, format_picked  # noqa: E402


def fake_results(methods=("deimos", "random"), seeds=(0, 1), n_iter=4, batch_size=2,
                 experiment="mnist_7v9_b25", preset="quick", tag="", shift=None, seed=0,
                 diversity=True, id_base=1000):
    """A results table with the store's columns; picks are distinct ids per (method, seed).

    Accuracy rises with the iteration plus noise; ``shift[method]`` is added to a method's.
    """
    g = np.random.default_rng(seed)
    shift = shift or {}
    rows = []
    for m_i, m in enumerate(methods):
        for s in seeds:
            ids = id_base + g.permutation(50_000)[: n_iter * batch_size]
            for it in range(n_iter + 1):
                picked = ids[it * batch_size:(it + 1) * batch_size] if it < n_iter else []
                acc = 0.7 + 0.25 * (1 - math.exp(-it / 10)) + shift.get(m, 0.0) + 0.01 * g.normal()
                row = {c: np.nan for c in COLUMNS}
                row.update(experiment=experiment, preset=preset, tag=tag, method=m, seed=s,
                           iteration=it, n_acquired=it * batch_size, n_labelled=10 + it * batch_size,
                           batch_size=batch_size, n_candidates=50 if it < n_iter else 0,
                           test_accuracy=acc, picked=format_picked(picked),
                           diversity=(0.1 * (m_i + 1) + 0.01 * g.normal())
                           if diversity and it < n_iter and batch_size > 1 else np.nan)
                rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


# ------------------------------------------------------------------------------------ queries

def test_queried_ids_follow_iteration_then_pick_order():
    res = fake_results(n_iter=4, batch_size=3, seed=5)
    shuffled = res.sample(frac=1.0, random_state=0)  # row order must not matter
    got = mt.queried_ids(shuffled, "deimos")
    assert sorted(got) == [0, 1]
    for s in (0, 1):
        rows = res[(res["method"] == "deimos") & (res["seed"] == s)].sort_values("iteration")
        want = []
        for text in rows["picked"]:
            want.extend(int(t) for t in text.split())
        assert got[s].tolist() == want and len(want) == 12
    with pytest.raises(ValueError, match="not in results"):
        mt.queried_ids(res, "bald")
    both = pd.concat([res, res.assign(tag="samp20")])
    with pytest.raises(ValueError, match="several runs"):
        mt.queried_ids(both, "deimos")


def test_first_last_queries_and_short_runs():
    res = fake_results(n_iter=4, batch_size=3, seed=2)
    q = mt.first_last_queries(res)
    assert q.columns.tolist() == ["seed", "query", "id"]
    ids = mt.queried_ids(res)
    for s in (0, 1):
        sub = q[q["seed"] == s]
        assert sub["query"].tolist() == [1, 2, 3, 11, 12]
        assert sub["id"].tolist() == [int(ids[s][k - 1]) for k in (1, 2, 3, 11, 12)]
    short = mt.first_last_queries(fake_results(n_iter=3, batch_size=1))
    assert short[short["seed"] == 0]["query"].tolist() == [1, 2, 3]  # overlap shown once
    with pytest.raises(ValueError):
        mt.first_last_queries(res, first=0, last=0)


def test_positions_of_ids_against_a_dict():
    g = np.random.default_rng(0)
    pool_ids = g.permutation(10_000)[:700] * 3 + 11
    ids = g.choice(pool_ids, 50, replace=False)
    lookup = {int(v): k for k, v in enumerate(pool_ids)}
    x = np.zeros((700, 2), dtype=np.float32)
    data = ALData(x, np.zeros(700), x[:5], np.zeros(5), task="regression", n_classes=None, pool_ids=pool_ids)
    assert data.positions_of(ids).tolist() == [lookup[int(i)] for i in ids]
    assert data.positions_of([]).tolist() == []
    with pytest.raises(ValueError, match=r"queried ids \[12\] are not in the pool"):
        data.positions_of([12], "queried ids")
    with pytest.raises(ValueError, match="repeated"):
        ALData(x[:3], np.zeros(3), x[:1], np.zeros(1), task="regression", n_classes=None, pool_ids=[1, 1, 2])


def fake_mnist(n=60, seed=0):
    g = np.random.default_rng(seed)
    x = g.random((n, 1, 28, 28), dtype=np.float32)
    y = np.arange(n) % 2
    return ALData(x, y, x[:10], y[:10], task="classification", n_classes=2, name="fake 7 vs 9",
                  pool_ids=5000 + 3 * np.arange(n), class_names=("7", "9"))


def test_plot_queried_images_grid_and_labels():
    data = fake_mnist()
    queries = pd.DataFrame({"seed": [0, 0, 0, 1, 1, 1], "query": [1, 2, 10, 1, 2, 10],
                            "id": [5000, 5003, 5030, 5003, 5006, 5033]})
    fig = mf.plot_queried_images(data, queries, title="Fig 3c")
    axes = np.array(fig.axes).reshape(3, 2)
    # ids 5000, 5003, 5030 are positions 0, 1, 10: classes 0 ("7"), 1 ("9"), 0 ("7")
    assert [axes[r, 0].get_title() for r in range(3)] == ["query 1: a 7", "query 2: a 9", "query 10: a 7"]
    assert [axes[r, 1].get_title() for r in range(3)] == ["query 1: a 9", "query 2: a 7", "query 10: a 9"]
    shown = axes[2, 0].get_images()[0].get_array()
    np.testing.assert_array_equal(np.asarray(shown), data.x_pool[10, 0].numpy())
    plt.close(fig)
    bad = queries.assign(id=queries["id"] + 1)
    with pytest.raises(ValueError, match="not in the pool"):
        mf.plot_queried_images(data, bad)


# ------------------------------------------------------------------------------------ diversity

def test_diversity_wins_against_a_literal_loop():
    res = fake_results(methods=("deimos", "batchbald", "random"), seeds=(0, 1, 2), n_iter=6, seed=4)
    res.loc[(res["method"] == "deimos") & (res["iteration"] == 2), "diversity"] = 5.0
    table = mt.diversity_wins(res)
    for m in ("batchbald", "random"):
        wins, ref_means, other_means = [], [], []
        for it in range(6):  # the last row (iteration 6) has no batch
            a = res[(res["method"] == "deimos") & (res["iteration"] == it)]["diversity"].mean()
            b = res[(res["method"] == m) & (res["iteration"] == it)]["diversity"].mean()
            wins.append(a > b)
            ref_means.append(a)
            other_means.append(b)
        row = table.loc[report.method_label(m)]
        assert row["iterations"] == 6
        assert row["DEIMOS higher"] == pytest.approx(np.mean(wins))
        assert row["mean DEIMOS"] == pytest.approx(np.mean(ref_means))
        assert row["mean method"] == pytest.approx(np.mean(other_means))
    assert table.loc["BatchBALD", "DEIMOS higher"] == pytest.approx(1 / 6)  # only iteration 2
    with pytest.raises(ValueError, match="no finite diversity"):
        mt.diversity_wins(fake_results(batch_size=1))


def test_plots_title_lines_and_axes():
    cfg = get_config("mnist_7v9_b25", "quick")
    res = fake_results(methods=("deimos", "batchbald", "random"), seeds=(0, 1, 2), n_iter=4, batch_size=5)
    fig, (a1, a2) = plt.subplots(1, 2)
    mf.plot_accuracy_curves(res, cfg, "MNIST 7 vs 9", ax=a1)
    assert [t.get_text() for t in a1.get_legend().get_texts()] == [
        "DEIMOS (3 seeds)", "BatchBALD (3 seeds)", "Random (3 seeds)"]
    # the repeats are counted in the results (3), not taken from the config (1)
    assert a1.get_title() == "test accuracy: MNIST 7 vs 9, batch size 5\nquick preset, 3 repeats"
    assert a1.get_ylabel() == "Test accuracy" and "10 initial" in a1.get_xlabel()
    mf.plot_batch_diversity(res, cfg, "MNIST 7 vs 9", ax=a2)
    xs = a2.get_lines()[0].get_xdata()
    assert list(xs) == [1, 2, 3, 4]  # batches 1..4; the last row has none
    means = res[res["method"] == "deimos"].groupby("iteration")["diversity"].mean().dropna()
    np.testing.assert_allclose(a2.get_lines()[0].get_ydata(), means.to_numpy())
    assert "batch of 5" in a2.get_xlabel()
    assert a2.get_title() == "batch diversity: MNIST 7 vs 9, batch size 5\nquick preset, 3 repeats"
    plt.close(fig)
    with pytest.raises(ValueError, match="not in results"):
        mf.plot_accuracy_curves(res, cfg, "x", methods=["kcenter"])


# ------------------------------------------------------------------------------------ sample sizes

def test_sample_size_configs_tag_all_but_the_configured_size():
    cfg = get_config("mnist_7v9_b25", "quick")
    assert ss.sample_sizes_for("quick") == (20, 50, 100)
    assert ss.sample_sizes_for("paper") == (500, 2500, 5000)
    cfgs = ss.sample_size_configs(cfg, ss.sample_sizes_for("quick"))
    assert list(cfgs) == [20, 50, 100]
    assert cfgs[50] is cfg  # the same run as the main experiment's DEIMOS
    assert (cfgs[20].n_candidates, cfgs[20].run_name) == (20, "quick-samp20")
    assert (cfgs[100].n_candidates, cfgs[100].run_name) == (100, "quick-samp100")
    paper = ss.sample_size_configs(get_config("mnist_7v9_b25", "paper"), (500, 2500, 5000))
    assert paper[2500].tag == "" and paper[5000].tag == "samp5000"
    tagged = ss.sample_size_configs(cfg.replace(tag="random-initial"), (20, 50))
    assert tagged[20].run_name == "quick-random-initial-samp20" and tagged[50].run_name == "quick-random-initial"
    with pytest.raises(ValueError, match="distinct"):
        ss.sample_size_configs(cfg, (20, 20))
    with pytest.raises(ValueError, match="preset"):
        ss.sample_sizes_for("huge")


def fake_sizes(sizes=(20, 50, 100), **kw):
    frames = [fake_results(methods=("deimos",), seed=k, tag=f"samp{s}", **kw).assign(sample_size=s)
              for k, s in enumerate(sizes)]
    return pd.concat(frames, ignore_index=True)


def test_sample_size_plot_and_tests():
    cfg = get_config("mnist_7v9_b25", "quick")
    res = fake_sizes(n_iter=8, seeds=(0, 1))
    ax = mf.plot_sample_sizes(res, cfg, "MNIST 7 vs 9")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [f"DEIMOS, sample of {s} (2 repeats)" for s in (20, 50, 100)]
    plt.close(ax.figure)
    tests = mt.sample_size_tests(res)
    assert list(tests.index) == ["20 vs 50", "20 vs 100", "50 vs 100"]
    a = res[res["sample_size"].isin([20, 100])].assign(
        method=lambda d: np.where(d["sample_size"] == 20, "a", "b")).drop(columns="experiment")
    ref = lmm_lrt(a, "a", "b", "test_accuracy")
    assert tests.loc["20 vs 100", "p-value"] == report.format_p_value(ref.log10_p_value)
    assert tests.loc["20 vs 100", "larger - smaller"] == pytest.approx(ref.effect)
    assert list(tests.attrs["p_values"]) == [(20, 50), (20, 100), (50, 100)]
    assert tests.attrs["p_values"][(20, 100)] == pytest.approx(ref.p_value)
    with pytest.raises(ValueError, match="two or more"):
        mt.sample_size_tests(fake_sizes(sizes=(20,)))


# ------------------------------------------------------------------------------------ cpu size

def test_helpers_on_cpu_size_tables():
    """The notebook's calls on tables the size of the cpu preset (b = 1: 201 rows per run;
    b = 25: 41 rows, 1,000 queries)."""
    c1, c25 = get_config("mnist_7v9_b1", "cpu"), get_config("mnist_7v9_b25", "cpu")
    r1 = fake_results(methods=c1.methods, seeds=(0,), n_iter=c1.n_iterations, batch_size=1,
                      experiment="mnist_7v9_b1", preset="cpu", shift={"random": -0.02}, seed=7)
    r25 = fake_results(methods=c25.methods, seeds=(0,), n_iter=c25.n_iterations, batch_size=25,
                       experiment="mnist_7v9_b25", preset="cpu", seed=8)
    assert report.describe_runs(r1)["rows per repeat"].tolist() == [201] * 5
    table = report.threshold_comparison(r1, "test_accuracy", paper=TABLE2_MNIST_7V9_ACCURACY, methods=c1.methods)
    assert table.shape == (4, 5)
    lmm = report.lmm_comparison(r1)
    assert lmm.shape[0] == 4 and (lmm["p-value"] != "n/a").all()
    q = mt.first_last_queries(r25)
    assert q["query"].tolist() == [1, 2, 3, 999, 1000]
    assert mt.diversity_wins(r25)["iterations"].tolist() == [40] * 4
    fig, ax = plt.subplots()
    mf.plot_accuracy_curves(r1, c1, "MNIST 7 vs 9", ax=ax)
    mf.plot_batch_diversity(r25, c25, "MNIST 7 vs 9", ax=ax)
    plt.close(fig)
    sizes = fake_sizes(sizes=(500, 2500, 5000), n_iter=c25.n_iterations, batch_size=25, seeds=(0,),
                       preset="cpu")
    assert len(mt.sample_size_tests(sizes)) == 3

"""The authors' results beside ours: curves on our axes, the settings line, three-number
tables, the LMM table on their arrays, Appendix A and the 1D experiment beside theirs.

Most tests write small arrays of known values in the authors' layout to a temporary folder,
so they run without the real arrays; the tests marked ``needs_arrays`` check the real ones."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from deimos_utils.analysis import authors_comparison as ac  # noqa: E402
from deimos_utils.figures import authors_overlay as ao  # noqa: E402
from deimos_utils.toy import greedy_optimality as optimality, synthetic_1d as synthetic  # noqa: E402
from deimos_utils.figures import common as plots
from deimos_utils.analysis import tables as report, significance_table as significance
from deimos_utils.data.authors import AUTHORS_EXPERIMENTS  # noqa: E402
from deimos_utils.experiment.config import get_config  # noqa: E402
from deimos_utils.data.paths import resolve_data_dir  # noqa: E402
from deimos_utils.analysis.paper import TABLE1_SPLICING_MSE, TABLE2_MNIST_7V9_ACCURACY  # noqa: E402

ROOT = resolve_data_dir(None)
HAVE = (ROOT / "authors" / "MNIST" / "Binary_7_9_AL_Results" / "Rand_BS1_Acc_Ind1.npy").is_file()
needs_arrays = pytest.mark.skipif(not HAVE, reason=f"the authors' arrays are not under {ROOT}/authors")


@pytest.fixture
def made_up_arrays(monkeypatch):
    """Let arrays of made-up values pass as the authors' (their sha256 check is tested in
    test_authors.py; here the values must be known)."""
    from deimos_utils.data import authors

    monkeypatch.setattr(authors, "verify_authors_file", lambda path, rel: None)


def write_arrays(root, experiment, curve, extra=None):
    """Arrays of ``experiment`` in the authors' layout under ``root/authors``: method m, seed k
    holds ``curve(m, k, n)`` for its n entries (``extra[(m, k)]`` entries more)."""
    spec = AUTHORS_EXPERIMENTS[experiment]
    for method, (pattern, n_acquired) in spec.files.items():
        for k in range(3):
            n = n_acquired // spec.batch_size + 1 + (extra or {}).get((method, k), 0)
            dest = root / "authors" / pattern.format(k=k + 1)
            dest.parent.mkdir(parents=True, exist_ok=True)
            np.save(dest, np.asarray(curve(method, k, n), dtype=np.float64))


def rising(method, k, n):
    """Accuracy rising with the entry, a shift per seed and per method."""
    shift = {"deimos": 0.02, "random": -0.02}.get(method, 0.0)
    return 0.6 + 0.3 * (1 - np.exp(-np.arange(n) / 8)) + 0.01 * k + shift


# ------------------------------------------------------------------------------------ curves

def test_curves_are_the_mean_and_sd_of_their_seeds(tmp_path, made_up_arrays):
    write_arrays(tmp_path, "mnist_7v9_b25", rising, extra={("random", 2): 3})
    arrays = ac.load_arrays("mnist_7v9_b25", tmp_path)
    assert arrays.available and arrays.message == "" and arrays.batch_size == 25
    assert any("500 acquisitions" in n for n in arrays.notes)
    curves = ac.authors_curves(arrays.results, "test_accuracy")
    assert curves["n_acquired"].max() == 500  # the paper's range by default
    row = curves[(curves.method == "deimos") & (curves.n_acquired == 50)].iloc[0]
    seeds = [rising("deimos", k, 41)[2] for k in range(3)]  # entry 2 = 50 acquisitions at b = 25
    assert row["mean"] == pytest.approx(np.mean(seeds)) and row["n_seeds"] == 3
    assert row["sd"] == pytest.approx(np.std(seeds, ddof=1))
    # beyond their runs' length only the longer seed counts, with sd 0
    long = ac.authors_curves(arrays.results, "test_accuracy", x_max=2000)
    tail = long[(long.method == "random") & (long.n_acquired == 1025)].iloc[0]
    assert tail["n_seeds"] == 1 and tail["sd"] == 0.0
    assert tail["mean"] == pytest.approx(rising("random", 2, 44)[41])
    assert list(dict.fromkeys(curves.method)) == list(AUTHORS_EXPERIMENTS["mnist_7v9_b25"].files)
    with pytest.raises(ValueError, match="test_mse"):
        ac.authors_curves(arrays.results, "test_mse")


def test_overlay_draws_dashed_lines_in_our_colours_on_our_axes(tmp_path, made_up_arrays):
    write_arrays(tmp_path, "mnist_0to9_b100", rising)
    arrays = ac.load_arrays("mnist_0to9_b25", tmp_path)  # our b = 25 gets their b = 100 arrays
    assert arrays.authors_experiment == "mnist_0to9_b100"
    cfg = get_config("mnist_0to9_b25", "quick")
    ours = pd.DataFrame({"method": "deimos", "seed": 0, "n_acquired": [0, 5, 10],
                         "test_accuracy": [0.5, 0.6, 0.7]})
    fig, ax = plt.subplots()
    plots.plot_learning_curves(ours, "test_accuracy", ax=ax)
    text = ao.beside(fig, ax, arrays, cfg, ours, "test_accuracy")
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 5  # deimos, batchbald, max entropy, random, k-center
    deimos = next(ln for ln in dashed if ln.get_label().startswith("DEIMOS"))
    assert deimos.get_label() == "DEIMOS: authors (their arrays, b = 100), 3 seeds"
    assert deimos.get_color() == plots.METHOD_COLORS["deimos"]
    x, y = deimos.get_xdata(), deimos.get_ydata()
    assert x.max() == 1000  # their horizon, longer than our 10 acquisitions
    k = int(np.flatnonzero(x == 300)[0])
    assert y[k] == pytest.approx(np.mean([rising("deimos", s, 11)[3] for s in range(3)]))
    assert "batches of 100 (the paper's b = 25 run is not in their repository)" in text
    assert "batches of 100" in fig._deimos_caption.get_text()
    plt.close(fig)


def test_absent_arrays_say_what_to_do_and_draw_nothing(tmp_path):
    arrays = ac.load_arrays("splicing", tmp_path)
    assert not arrays.available and arrays.results is None
    assert arrays.message.startswith("authors' arrays not found: ")
    assert str(tmp_path / "authors") in arrays.message and "DEIMOS_DATA_DIR" in arrays.message
    fig, ax = plt.subplots()
    assert ao.plot_authors_curves(ax, arrays, "test_mse") is None and not ax.get_lines()
    cfg = get_config("splicing", "quick")
    flat = " ".join(ac.caption(cfg, arrays).split())  # the caption wraps its lines
    assert flat.endswith(" ".join(arrays.message.split())) and flat.startswith("ours: quick preset (")
    assert ac.authors_thresholds(arrays, "test_mse", [0.1]) == {}
    plt.close(fig)
    with pytest.raises(ValueError, match="no arrays for our experiment"):
        ac.load_arrays("mnist_7v9_b3", tmp_path)


def test_caption_stacks_under_the_figure():
    fig, _ = plt.subplots()
    plots.add_caption(fig, "first")
    artist = plots.add_caption(fig, "second")
    assert artist.get_text() == "first\nsecond" and len(fig.texts) == 1
    plt.close(fig)


def test_runs_on_their_initial_sets_fall_back_when_absent(tmp_path, made_up_arrays):
    cfg = get_config("mnist_7v9_b1", "quick")
    assert cfg.initial_set == "authors"
    fallback, message = ac.runnable_config(cfg, tmp_path)
    assert (fallback.initial_set, fallback.run_name) == ("random", "quick-random-initial")
    assert message.startswith("authors' arrays not found") and "quick-random-initial" in message
    tagged, _ = ac.runnable_config(cfg.replace(tag="v2"), tmp_path)
    assert tagged.run_name == "quick-v2-random-initial"
    other = get_config("splicing", "quick")  # random initial sets anyway: nothing to change
    assert ac.runnable_config(other, tmp_path) == (other, "")
    folder = tmp_path / "authors" / "MNIST" / "Binary_7_9_AL_Scripts"
    folder.mkdir(parents=True)
    for k in (1, 2, 3):
        np.save(folder / f"trainindices{k}.npy", np.arange(10 * k, 10 * k + 10))
    assert ac.runnable_config(cfg, tmp_path) == (cfg, "")


# ------------------------------------------------------------------------------------ settings

def test_settings_line_names_what_ours_changed():
    cpu = get_config("utkface_b100", "cpu")
    diffs = ac.settings_differences(cpu)
    assert diffs == [("n_candidates", "1,000", "5,000"), ("resolution", "64", "200"),
                     ("n_test", "2,000", "all"), ("test_mc_passes", "20", "300")]
    line = ac.settings_line(cpu)
    assert line.startswith("ours: cpu preset (") and "resolution 64 (theirs 200)" in line
    assert line.endswith("theirs: the paper preset's settings on 200 px faces")
    assert ac.settings_differences(get_config("mnist_7v9_b1", "paper")) == []
    assert "the authors' settings throughout" in ac.settings_line(get_config("mnist_7v9_b1", "paper"))
    override = get_config("mnist_7v9_b1", "paper", n_masks=10)
    assert ac.settings_differences(override) == [("n_masks", "10", "50")]
    # a setting the paper preset itself takes from us says why
    spl = ac.settings_differences(get_config("splicing", "paper"))
    assert spl == [("initial_set", "random", "ours (the authors' sets index the real A5SS file)")]
    line = ac.settings_line(get_config("splicing", "paper"), data_source="simulated")
    assert "initial_set random (ours: the authors' sets index the real A5SS file)" in line
    assert "on the real A5SS library (ours: the SIMULATED library)" in line


# ------------------------------------------------------------------------------------ tables

def test_their_thresholds_count_the_papers_entries(tmp_path, made_up_arrays):
    def mse(method, k, n):
        # every curve falls by 1e-4 an entry from 0.2; max variance crosses 0.13 at entry 700,
        # inside its 750 entries; DEIMOS would cross 0.12 at entry 800, beyond its 600
        return 0.2 - 1e-4 * np.arange(n) + 1e-6 * k
    write_arrays(tmp_path, "splicing", mse, extra={("deimos", 0): 300, ("deimos", 1): 300,
                                                   ("deimos", 2): 300, ("random", 0): 200,
                                                   ("max_variance", 0): 100})
    arrays = ac.load_arrays("splicing", tmp_path)
    got = ac.authors_thresholds(arrays, "test_mse", [0.15, 0.13, 0.12])
    # mean over seeds = 0.2 - 1e-4 i + 1e-6: crosses 0.15 at i = 501, 0.13 at 701, 0.12 at 801
    assert got == {"deimos": [501, None, None], "max_variance": [501, 701, None], "random": [501, None, None]}


def test_three_numbers_a_cell():
    res = pd.DataFrame({"method": np.repeat(["deimos", "random"], 4), "seed": 0,
                        "n_acquired": np.tile([0, 1, 2, 3], 2),
                        "test_accuracy": [0.90, 0.95, 0.96, 0.97, 0.90, 0.91, 0.95, 0.955]})
    paper = {"thresholds": [0.95, 0.96], "deimos": [20, 24], "random": [48, 55]}
    theirs = {"deimos": [20, 24], "kcenter": [1, 2]}
    table = report.threshold_comparison(res, "test_accuracy", paper=paper, authors=theirs)
    assert table.columns.name == "ours / their arrays / paper"
    assert table["DEIMOS"].tolist() == ["1 / 20 / 20", "2 / 24 / 24"]
    assert table["Random"].tolist() == ["2 / - / 48", "not reached / - / 55"]
    assert table.attrs["authors"] == theirs and table.attrs["acquisitions"]["random"] == [2, None]
    absent = report.threshold_comparison(res, "test_accuracy", paper=paper, authors={})
    assert absent["DEIMOS"].tolist() == ["1 / - / 20", "2 / - / 24"]
    with pytest.raises(ValueError, match=r"authors\['deimos'\] has 1 values for 2 thresholds"):
        report.threshold_comparison(res, "test_accuracy", paper=paper, authors={"deimos": [3]})


@needs_arrays
def test_their_tables_are_the_papers():
    t2 = ac.authors_thresholds(ac.load_arrays("mnist_7v9_b1"), "test_accuracy",
                               TABLE2_MNIST_7V9_ACCURACY["thresholds"])
    assert t2 == {m: v for m, v in TABLE2_MNIST_7V9_ACCURACY.items() if m != "thresholds"}
    t1 = ac.authors_thresholds(ac.load_arrays("splicing"), "test_mse", TABLE1_SPLICING_MSE["thresholds"])
    assert t1 == {m: v for m, v in TABLE1_SPLICING_MSE.items() if m != "thresholds"}


@needs_arrays
def test_overlay_mean_is_the_arrays_mean_on_the_real_arrays():
    arrays = ac.load_arrays("utkface_b100")
    fig, ax = plt.subplots()
    ao.plot_authors_curves(ax, arrays, "test_rmse")
    line = next(ln for ln in ax.get_lines() if ln.get_label().startswith("DEIMOS"))
    rel = AUTHORS_EXPERIMENTS["utkface_b100"].files["deimos"][0]
    raw = [np.load(ROOT / "authors" / rel.format(k=k)) for k in (1, 2, 3)]
    k = int(np.flatnonzero(line.get_xdata() == 1000)[0])  # entry 10 at b = 100
    assert line.get_ydata()[k] == pytest.approx(np.mean([np.sqrt(r[10]) for r in raw]))
    plt.close(fig)


# ------------------------------------------------------------------------------------ Appendix C

def test_lmm_table_beside_theirs():
    def row(experiment, method, p, better, paper="-"):
        return {"experiment": experiment, "metric": "test_accuracy", "method": method, "repeats": 3,
                "p-value": p, "log10 p": -1.0, "DEIMOS - method": 0.01, "better": better,
                "p-value (paper)": paper, "fit notes": ""}
    ours = pd.DataFrame([row("mnist_0to9_b25", "Random", "0.020", "DEIMOS", "9e-3"),
                         row("mnist_7v9_b1", "BALD", "0.500", "BALD", "2.3e-21")])
    theirs = pd.DataFrame([row("mnist_7v9_b1", "BALD", "2.3e-21", "DEIMOS", "2.3e-21"),
                           row("mnist_0to9_b100", "Random", "0.198", "DEIMOS"),
                           row("mnist_0to9_b100", "Robust k-center", "0.559", "Robust k-center")])
    out = significance.beside_authors(ours, theirs)
    assert list(out.columns) == ["experiment", "method", "their arrays", "repeats", "p (ours)",
                                 "better (ours)", "p (their arrays)", "better (their arrays)", "p (paper)"]
    assert out[["experiment", "method"]].values.tolist() == [
        ["mnist_7v9_b1", "BALD"], ["mnist_0to9_b25", "Random"], ["mnist_0to9_b25", "Robust k-center"]]
    assert out.iloc[0][["p (ours)", "p (their arrays)", "p (paper)"]].tolist() == ["0.500", "2.3e-21", "2.3e-21"]
    r = out.iloc[1]
    assert (r["their arrays"], r["p (ours)"], r["p (their arrays)"], r["p (paper)"]) == (
        "mnist_0to9_b100", "0.020", "0.198", "9e-3")
    assert out.iloc[2]["p (ours)"] == "-" and out.iloc[2]["p (paper)"] == "-"
    assert [str(v) for v in out["repeats"]] == ["3", "3", "-"]
    alone = significance.beside_authors(pd.DataFrame(), theirs)
    assert alone["p (ours)"].tolist() == ["-", "-", "-"] and alone.iloc[1]["p (paper)"] == "9e-3"


@needs_arrays
def test_lmm_on_their_arrays_reproduces_the_papers_p_values():
    table, missing = significance.authors_significance_table(experiments=("mnist_7v9_b25",))
    assert missing == []
    got = dict(zip(table["method"], table["p-value"]))
    assert got["Random"] == "4.4e-11" and got["Robust k-center"] == "1.9e-11"


# ------------------------------------------------------------------------------------ Appendix A

def test_presets_are_fig_a1s_cells():
    for scale in ("quick", "cpu", "paper"):
        assert optimality.PRESETS[scale]["mask_counts"] == [2, 3, 50]
    assert optimality.PRESETS["paper"]["pool_sizes"] == {2: 200, 5: 30, 10: 20}
    assert optimality.PRESETS["paper"]["n_instances"] == 200
    assert optimality.PRESETS["cpu"]["pool_sizes"] == optimality.PRESETS["paper"]["pool_sizes"]


def test_ratios_beside_theirs(tmp_path, made_up_arrays):
    folder = tmp_path / "authors" / "BatchOptimality" / "EmpiricalOptimalityRatios"
    folder.mkdir(parents=True)
    for b in (2, 5, 10):
        for j in (2, 3, 50):
            np.save(folder / f"BS{b}Samp{j}OptRatios.npy", np.linspace(0.97 + 0.001 * j / 50 + 0.001 * b, 1.0, 200))
    theirs, message = optimality.authors_ratio_table([2, 5], [2, 3], tmp_path)
    assert message == "" and len(theirs) == 4 * 200 and set(theirs["pool"]) == {200, 30}
    ours = optimality.greedy_vs_optimal([2, 5], [2, 3], {2: 6, 5: 7}, {2: 4, 5: 3}, seed=1, progress=False)
    assert ours.groupby("batch_size").size().to_dict() == {2: 8, 5: 6}  # instances per batch size
    both = optimality.compare_ratios(ours, theirs)
    assert both.loc[(5, 3), ("ours", "instances")] == 3 and both.loc[(5, 3), ("ours", "pool")] == 7
    assert both.loc[(2, 3), (ac.AUTHORS_LABEL, "min_ratio")] == pytest.approx(0.97 + 0.003 / 50 + 0.002)
    assert both.loc[(2, 3), (ac.AUTHORS_LABEL, "instances")] == 200
    fig = optimality.plot_ratio_histograms(ours, theirs)
    title = fig.axes[1].get_title()  # b = 2, J = 3
    assert title == f"b = 2, J = 3: min {ours.query('batch_size == 2 and n_masks == 3').ratio.min():.4f}" \
                    f" / theirs {0.97 + 0.003 / 50 + 0.002:.4f}"
    plt.close(fig)
    none, message = optimality.authors_ratio_table([2], [2], tmp_path / "nothing")
    assert none is None and message.startswith("authors' arrays not found")
    alone = optimality.compare_ratios(ours, None)
    assert alone[ac.AUTHORS_LABEL]["min_ratio"].isna().all()


# ------------------------------------------------------------------------------------ Fig 1

def fake_1d(n_train=20, seed=0):
    g = np.random.default_rng(seed)
    x_pool = np.linspace(-9.95, 10.05, 41)
    return {"x_train": np.sort(np.concatenate([g.uniform(-10, -3, n_train // 2), g.uniform(3, 10, n_train // 2)])),
            "y_train": g.normal(size=n_train), "x_pool": x_pool, "y_pool": np.sin(x_pool),
            "x_test": np.linspace(-10, 10, 41), "y_test": np.sin(np.linspace(-10, 10, 41)),
            "queried": np.array([-0.55, 2.05, -9.15, -2.95, 10.05]), "ei": np.linspace(0.1, 1.0, 41)}


def test_run_authors_labels_its_batch_from_their_pool():
    d = fake_1d()
    r = synthetic.run_authors(d, seed=1, batch_size=3, n_masks=8, epochs=2, train_batch_size=32)
    assert r["source"] == "the authors' 1D data" and r["sparse"] == (-2.0, 2.0)
    assert r["ei"].shape == (41,) and r["preds_before"].shape == (41, 8)
    np.testing.assert_array_equal(r["x_new"], d["x_pool"][r["picked"]])
    np.testing.assert_array_equal(r["y_new"], d["y_pool"][r["picked"]])
    assert len(set(r["picked"].tolist())) == 3 and np.all(np.diff(r["gains"]) <= 0)
    assert r["noise"] == pytest.approx(0.15 * r["preds_before"].var(axis=1, ddof=1).mean(), rel=1e-6)
    lines = synthetic.checks(r)
    assert lines[0] == f"training points: 20 ({int(np.sum(np.abs(d['x_train']) < 2))} in [-2, 2])"
    cmp = synthetic.compare_with_authors(r, d)
    assert cmp["same_candidates"] and cmp["argmax_theirs"] == pytest.approx(10.05)
    ours = synthetic.normalised_ei(r["ei"])
    assert ours.max() == 1.0
    assert cmp["ei_correlation"] == pytest.approx(np.corrcoef(ours, d["ei"])[0, 1])
    np.testing.assert_array_equal(cmp["theirs_sorted"], [-9.15, -2.95, -0.55, 2.05, 10.05])
    fig = synthetic.plot_beside_authors(r, d)
    dashed = [ln for ln in fig.axes[0].get_lines() if ln.get_linestyle() == "--"]
    assert len(dashed) == 1 and dashed[0].get_label().startswith("authors (their arrays)")
    np.testing.assert_array_equal(dashed[0].get_ydata(), d["ei"])
    plt.close(fig)
    assert synthetic.plot_beside_authors(r, None) is None


def test_run_preset_falls_back_to_generated_data(tmp_path, monkeypatch):
    calls = []

    def fake_run(**kwargs):
        calls.append(kwargs)
        return {"message": ""}
    monkeypatch.setattr(synthetic, "run", fake_run)
    result, theirs = synthetic.run_preset("paper", data_dir=tmp_path)
    assert theirs is None and calls[0]["train_steps"] == 4000
    assert result["message"].startswith("authors' arrays not found") and "generated data instead" in result["message"]
    result, theirs = synthetic.run_preset("quick", data_dir=tmp_path)
    assert calls[1]["train_steps"] == 1500 and result["message"].startswith("authors' arrays not found")
    with pytest.raises(ValueError, match="unknown scale"):
        synthetic.run_preset("huge")
    assert synthetic.PRESETS["cpu"]["data"] == synthetic.PRESETS["paper"]["data"] == "authors"
    assert synthetic.AUTHORS_MODEL == {"epochs": 300, "train_batch_size": 32, "p": 0.2, "lam": 5e-4,
                                       "noise_fraction": 0.15}


@needs_arrays
def test_their_1d_arrays_feed_the_paper_preset(monkeypatch):
    seen = {}

    def fake_authors(d, seed, batch_size, **settings):
        seen.update(settings, n=len(d["x_pool"]))
        return {"message": ""}
    monkeypatch.setattr(synthetic, "run_authors", fake_authors)
    result, theirs = synthetic.run_preset("cpu")
    assert seen["n"] == 201 and seen["epochs"] == 300 and theirs["queried"].shape == (5,)

"""One experiment's results at several presets beside the authors' arrays: the means table
against a plain loop over rows, the loader's choice of tables, and the per-method figure."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from deimos_utils.analysis import presets as pr  # noqa: E402
from deimos_utils.analysis.authors_comparison import AUTHORS_LABEL, AuthorsArrays  # noqa: E402
from deimos_utils.experiment.store import COLUMNS  # noqa: E402
from deimos_utils.figures.presets import plot_presets  # noqa: E402


def fake_rows(rng, preset, methods, seeds, n_acquired):
    """One row per (method, seed, point); a run may stop early (a random prefix of the points)."""
    rows = []
    for m in methods:
        for s in seeds:
            stop = int(rng.integers(1, len(n_acquired) + 1))
            for i, n in enumerate(n_acquired[:stop]):
                rows.append({"experiment": "x", "preset": preset, "tag": "", "method": m, "seed": s,
                             "iteration": i, "n_acquired": n, "test_accuracy": float(rng.random())})
    return pd.DataFrame(rows)


def reference_mean(rows, method, n, metric):
    values = [r[metric] for _, r in rows.iterrows() if r["method"] == method and r["n_acquired"] == n]
    return (sum(values) / len(values), len(values)) if values else (np.nan, 0)


@pytest.mark.parametrize("seed", range(5))
def test_means_at_agrees_with_a_plain_loop(seed):
    rng = np.random.default_rng(seed)
    points = [0, 5, 10, 15, 20]
    by_preset = {"cpu": fake_rows(rng, "cpu", ["deimos", "random"], [0, 1, 2], points),
                 "paper": fake_rows(rng, "paper", ["deimos", "random", "kcenter"], [0, 1], points)}
    theirs = fake_rows(rng, "authors", ["deimos", "random"], [0, 1, 2], points)
    arrays = AuthorsArrays("x", "x", theirs)
    at = sorted(rng.choice(points + [7], size=3, replace=False).tolist())
    table = pr.means_at(by_preset, "test_accuracy", at, arrays=arrays)
    assert list(table.index) == ["deimos", "random", "kcenter"]
    sources = {**by_preset, AUTHORS_LABEL: theirs}
    for method in table.index:
        for n in at:
            for source, rows in sources.items():
                want, count = reference_mean(rows, method, n, "test_accuracy")
                got = table.loc[method, (n, source)]
                assert (np.isnan(want) and np.isnan(got)) or got == pytest.approx(want)
                assert table.attrs["n_seeds"].loc[method, (n, source)] == count


def test_means_at_bad_input():
    rows = fake_rows(np.random.default_rng(0), "cpu", ["deimos"], [0], [0, 5])
    with pytest.raises(ValueError, match="at"):
        pr.means_at({"cpu": rows}, "test_accuracy", [])
    with pytest.raises(ValueError, match="test_rmse"):
        pr.means_at({"cpu": rows}, "test_rmse", [5])


def write_table(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    full = rows.reindex(columns=COLUMNS)
    full["picked"] = "1 2"
    full = full.fillna({"n_labelled": 10, "batch_size": 5, "n_candidates": 50}).fillna(0.0)
    full.to_csv(path, index=False)


def test_load_presets_reads_untagged_runs_of_each_preset(tmp_path):
    rng = np.random.default_rng(1)
    cpu = fake_rows(rng, "cpu", ["deimos"], [0], [0, 5, 10])
    tagged = fake_rows(rng, "cpu", ["deimos"], [0], [0, 5]).assign(tag="samp500")
    paper = fake_rows(rng, "paper", ["random"], [1], [0, 5])
    write_table(tmp_path / "x" / "cpu" / "deimos__seed0.csv", cpu)
    write_table(tmp_path / "x" / "cpu-samp500" / "deimos__seed0.csv", tagged)
    write_table(tmp_path / "x" / "paper" / "random__seed1.csv", paper)
    got = pr.load_presets("x", tmp_path)
    assert list(got) == ["cpu", "paper"]
    assert len(got["cpu"]) == len(cpu) and set(got["cpu"]["tag"].fillna("")) == {""}
    assert list(got["paper"]["method"].unique()) == ["random"]
    assert list(pr.load_presets("x", tmp_path, presets=("paper",))) == ["paper"]
    assert pr.load_presets("nothing", tmp_path) == {}


def test_plot_presets_one_panel_per_method_one_curve_per_preset():
    rng = np.random.default_rng(2)
    points = [0, 5, 10]
    by_preset = {"cpu": fake_rows(rng, "cpu", ["deimos", "random"], [0, 1], points),
                 "paper": fake_rows(rng, "paper", ["deimos"], [0], points)}
    arrays = AuthorsArrays("x", "x", fake_rows(rng, "authors", ["random"], [0, 1], points))
    fig = plot_presets(by_preset, "test_accuracy", arrays=arrays, y_range=(0, 1))
    deimos, random_ = fig.axes
    labels = lambda ax: [line.get_label() for line in ax.get_lines()]  # noqa: E731
    assert [l.split(" preset")[0] for l in labels(deimos)] == ["ours, cpu", "ours, paper"]
    assert labels(random_)[0].startswith("ours, cpu preset (2 seeds")
    assert any("authors" in l for l in labels(random_)) and not any("authors" in l for l in labels(deimos))
    assert deimos.get_ylim() == (0, 1)
    plt.close(fig)
    with pytest.raises(ValueError, match="by_preset"):
        plot_presets({}, "test_accuracy")

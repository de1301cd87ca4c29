"""Learning curves (seaborn, mean +-1 sd over seeds) and the p-value heatmap draw what they say."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from deimos_utils.figures import significance
from deimos_utils.figures import common as plots


def test_curves_are_the_mean_and_their_band_one_sd_over_seeds():
    rng = np.random.default_rng(0)
    rows = pd.DataFrame([{"method": m, "seed": s, "n_acquired": x, "test_mse": rng.normal()}
                         for m in ("deimos", "random") for s in range(3) for x in (0, 5, 10)])
    fig, ax = plt.subplots()
    plots.plot_learning_curves(rows, "test_mse", ax=ax)
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    assert set(lines) == {"DEIMOS (3 seeds)", "Random (3 seeds)"}
    deimos = rows[rows.method == "deimos"].groupby("n_acquired")["test_mse"]
    np.testing.assert_allclose(lines["DEIMOS (3 seeds)"].get_ydata(), deimos.mean(), rtol=1e-12)
    assert matplotlib.colors.same_color(lines["DEIMOS (3 seeds)"].get_color(), plots.METHOD_COLORS["deimos"])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    expected = np.concatenate([deimos.mean() - deimos.std(ddof=1), deimos.mean() + deimos.std(ddof=1)])
    np.testing.assert_allclose(np.sort(np.unique(band.round(12))), np.sort(expected.round(12)))
    plt.close(fig)


def test_heatmap_cells_print_p_and_colour_by_who_is_better():
    table = pd.DataFrame({"experiment": ["a", "a", "b"], "method": ["Random", "BALD", "Random"],
                          "log10 p": [-3.0, -20.0, -1.0], "better": ["DEIMOS", "BALD", "DEIMOS"],
                          "p-value": ["1e-03", "1e-20", "0.1"]})
    fig = significance.plot_significance(table)
    ax = fig.axes[0]
    texts = sorted(t.get_text() for t in ax.texts)
    assert texts == ["0.1", "1e-03", "1e-20"]
    mesh = ax.collections[0]
    values = mesh.get_array().reshape(2, 2)    # rows a, b; columns Random, BALD (first seen)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["Random", "BALD"]
    assert values[0, 0] == pytest.approx(3.0) and values[0, 1] == pytest.approx(-20.0)
    assert values[1, 0] == pytest.approx(1.0) and np.ma.is_masked(values[1, 1])
    plt.close(fig)


def test_output_writes_figures_and_numbers_under_its_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("DEIMOS_OUTPUT_DIR", str(tmp_path / "env"))
    default, chosen = plots.Output(), plots.Output(tmp_path / "mine")
    assert default.folder == tmp_path / "env" and chosen.folder == tmp_path / "mine"
    fig, _ = plt.subplots()
    assert chosen.savefig(fig, "f") == tmp_path / "mine" / "figures" / "f.png"
    assert (tmp_path / "mine" / "figures" / "f.png").stat().st_size > 0
    path = chosen.save_numbers("n", {"a": np.float64("nan"), "b": np.int64(3), 4: [np.float32(0.5)]})
    assert path.read_text().replace(" ", "").replace("\n", "") == '{"4":[0.5],"a":null,"b":3}'
    assert not (tmp_path / "env" / "n.json").exists()
    plt.close(fig)

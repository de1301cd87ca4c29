"""Seed-level comparisons: AUC against a hand computation, the exact permutation p-values, and
the authors' arrays, where the LMM's tiny p-values meet 3 seeds."""
import pandas as pd
import pytest

from deimos_utils.analysis.seed_tests import curve_auc, paired_auc_test, seed_level_table


def _runs(curves):
    rows = []
    for (method, seed), ys in curves.items():
        for k, y in enumerate(ys):
            rows.append({"method": method, "seed": seed, "n_acquired": 10 * k, "m": y})
    return pd.DataFrame(rows)


def test_auc_is_the_trapezoid_mean():
    df = _runs({("a", 0): [0.0, 1.0, 1.0], ("a", 1): [2.0]})
    auc = curve_auc(df, "m").set_index("seed")["auc"]
    assert auc[0] == pytest.approx((0.5 * 10 + 1.0 * 10) / 20)
    assert auc[1] == 2.0
    assert curve_auc(df, "m", max_acquired=10).set_index("seed")["auc"][0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="column 'x'"):
        curve_auc(df, "x")


def test_exact_permutation_p_values():
    base = [0.0, 0.0, 0.0]
    # every seed favours b by the same amount: only the all-same flips reach it, p = 2 / 8
    df = _runs({("a", s): base for s in range(3)} | {("b", s): [1.0] * 3 for s in range(3)})
    t = paired_auc_test(df, "a", "b", "m")
    assert t["p_permutation"] == 0.25 == t["p_min"] and t["diff"] == pytest.approx(1.0)
    # differences 1, 1, -0.1: 4 of the 8 sign flips reach |mean| >= 0.633
    df = _runs({("a", s): base for s in range(3)}
               | {("b", 0): [1.0] * 3, ("b", 1): [1.0] * 3, ("b", 2): [-0.1] * 3})
    t = paired_auc_test(df, "a", "b", "m")
    assert t["p_permutation"] == 0.5
    assert t["diffs"] == pytest.approx([1.0, 1.0, -0.1])
    assert t["ci_low"] <= t["diff"] <= t["ci_high"]
    # the common range: b's runs are cut to a's length
    df = _runs({("a", 0): [0.0, 0.0], ("b", 0): [1.0, 1.0, 100.0]})
    assert paired_auc_test(df, "a", "b", "m")["diff"] == pytest.approx(1.0)


def test_on_the_authors_arrays_the_lmm_and_three_seeds_disagree():
    from deimos_utils.data.authors import load_authors_results, within_horizon
    from deimos_utils.data.paths import resolve_data_dir

    if not (resolve_data_dir(None) / "authors" / "MNIST").is_dir():
        pytest.skip("the authors' arrays are absent")
    df = within_horizon(load_authors_results("mnist_7v9_b1"))
    table = seed_level_table(df, "test_accuracy").set_index("method")
    assert table.loc["random", "lmm_p"] < 1e-100          # the paper's 5.2e-133
    assert table.loc["random", "auc_diff"] > 0            # DEIMOS above random on average
    assert (table["p_permutation"] >= 0.25).all()         # 3 seeds cannot give less
    assert not table.loc["random", "agree"]

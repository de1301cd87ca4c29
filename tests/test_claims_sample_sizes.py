"""Fig 3f's verdict: the finished runs of each representative sample size are collected from the
store's tagged rows (an unfinished size leaves the claim untested), then judged by the LMM."""
import numpy as np
import pandas as pd

from deimos_utils.analysis.claims import claims_table, finished_sample_size_runs
from deimos_utils.experiment.config import get_config
from deimos_utils.experiment.sample_sizes import sample_sizes_for

CLAIM = "Fig 3f: DEIMOS does not depend on the representative sample size (500 / 2,500 / 5,000)"


def _rows(tag, n_iterations, shift=0.0, method="deimos", seed=0):
    rng = np.random.default_rng(len(tag) + seed)
    return pd.DataFrame({"method": method, "seed": seed, "tag": tag, "iteration": range(n_iterations + 1),
                         "n_acquired": [25 * k for k in range(n_iterations + 1)],
                         "test_accuracy": 0.7 + 0.02 * np.arange(n_iterations + 1) + shift
                         + rng.normal(0, 0.01, n_iterations + 1)})


def test_sizes_are_collected_only_when_every_size_finished_and_then_judged():
    cfg = get_config("mnist_7v9_b25", "cpu")
    sizes = sample_sizes_for("cpu")
    n = cfg.n_iterations
    # the untagged main run is the size the preset already uses (if any); others are tagged
    parts = {s: _rows("" if s == cfg.n_candidates else f"samp{s}", n) for s in sizes}
    other = _rows("", n, method="random")
    unfinished = pd.concat([*list(parts.values())[:-1], _rows(f"samp{sizes[-1]}", n)[: n], other])
    assert finished_sample_size_runs(unfinished, cfg, sizes) is None
    runs = finished_sample_size_runs(pd.concat([*parts.values(), other]), cfg, sizes)
    assert sorted(runs.sample_size.unique()) == sorted(sizes) and set(runs.method) == {"deimos"}
    assert len(runs) == len(sizes) * (n + 1)
    row = claims_table({}, sample_sizes=runs).set_index("claim").loc[CLAIM]
    assert row["verdict"] == "reproduced" and "(1 seed each)" in row["ours"]
    worse = pd.concat([parts[sizes[0]], parts[sizes[1]], _rows(f"samp{sizes[2]}", n, shift=-0.2)])
    worse = finished_sample_size_runs(worse, cfg, sizes)
    assert claims_table({}, sample_sizes=worse).set_index("claim").loc[CLAIM, "verdict"] == "not reproduced"
    assert claims_table({}).set_index("claim").loc[CLAIM, "verdict"] == "not testable here"


def test_a_size_the_lmm_cannot_fit_leaves_the_claim_untested_and_names_the_pairs():
    cfg = get_config("mnist_7v9_b25", "cpu")
    sizes = sample_sizes_for("cpu")
    n = cfg.n_iterations
    parts = {s: _rows("" if s == cfg.n_candidates else f"samp{s}", n) for s in sizes}
    parts[sizes[-1]] = parts[sizes[-1]].assign(test_accuracy=np.nan)  # finished, but nothing measured
    runs = finished_sample_size_runs(pd.concat(parts.values()), cfg, sizes)
    row = claims_table({}, sample_sizes=runs).set_index("claim").loc[CLAIM]
    assert row["verdict"] == "not testable here"
    assert row["reason"] == (f"the LMM could not be fitted for {sizes[0]} vs {sizes[2]}, {sizes[1]} vs {sizes[2]}")
    assert f"{sizes[0]} vs {sizes[1]}: p 0." in row["ours"]

"""A quick run's tables, compared with tables recorded before a refactor (timing columns aside).

The runs are real runs of the loop (training, MC dropout, acquisition, store) on the quick
preset, shrunk by overrides to a few seconds each. ``python tests/test_golden_tables.py``
rewrites the recorded tables: do that only for a change that is meant to alter results.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest

from deimos_utils import get_config, run_all

GOLDEN = Path(__file__).parent / "data" / "golden"
DATA_DIR = os.environ.get("DEIMOS_DATA_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data"))
TIMING = ("train_seconds", "eval_seconds", "acquire_seconds")

#: name -> (experiment, overrides); methods and seeds are in the overrides
RUNS = {
    "mnist_7v9_b25": ("mnist_7v9_b25", dict(methods=("deimos", "kcenter", "random"), n_acquired=10,
                                            n_candidates=40, n_test=100, train_epochs=1)),
    "mnist_7v9_b25_fitted_noise": ("mnist_7v9_b25", dict(methods=("deimos",), noise=None,
                                                         noise_fraction=0.01, n_acquired=5, n_candidates=30, n_test=100,
                                                         train_epochs=1)),
    "splicing": ("splicing", dict(methods=("deimos", "max_variance"), n_acquired=2, n_candidates=40,
                                  n_test=100, train_epochs=1)),
    "splicing_fitted_noise": ("splicing", dict(methods=("deimos",), noise=None, standardize_y=True, noise_fraction=0.01,
                                               n_acquired=2, n_candidates=40, n_test=100,
                                               train_epochs=1)),
}


def _table(name: str, results_dir) -> pd.DataFrame:
    experiment, overrides = RUNS[name]
    config = get_config(experiment, preset="quick", n_repeats=1, **overrides)
    out = run_all(config, data_dir=DATA_DIR, results_dir=results_dir, device="cpu", progress=False)
    return out.drop(columns=list(TIMING))


def _data_missing(name: str) -> bool:
    experiment = RUNS[name][0]
    return experiment.startswith("mnist") and not (Path(DATA_DIR) / "MNIST").exists()


@pytest.mark.slow  # about 75 s in all, most of it loading MNIST and simulating the splicing library
@pytest.mark.parametrize("name", sorted(RUNS))
def test_quick_tables_match_the_recorded_ones(name, tmp_path):
    if _data_missing(name):
        pytest.skip(f"no MNIST under {DATA_DIR}")
    got = _table(name, tmp_path)
    want = pd.read_csv(GOLDEN / f"{name}.csv", keep_default_na=False, dtype={"picked": str, "tag": str})
    got.to_csv(tmp_path / "got.csv", index=False)
    got = pd.read_csv(tmp_path / "got.csv", keep_default_na=False, dtype={"picked": str, "tag": str})
    pd.testing.assert_frame_equal(got, want, check_exact=True)


if __name__ == "__main__":
    import tempfile

    GOLDEN.mkdir(parents=True, exist_ok=True)
    for name in (sys.argv[1:] or sorted(RUNS)):
        with tempfile.TemporaryDirectory() as tmp:
            _table(name, tmp).to_csv(GOLDEN / f"{name}.csv", index=False)
            print("wrote", GOLDEN / f"{name}.csv")

"""The command line over a tiny registered experiment, ``toy``, for tests with real processes.

    python tests/toy_cli.py toy --results-dir R [any option of deimos_utils.experiment.cli]

Importing this file registers the experiment ``toy`` (preset ``quick``: the synthetic data of
``test_loop.toy_data``, an MLP, four iterations of two points) and its data. Worker processes
started with ``spawn`` import the main script again, so they see the same. The environment
variable ``DEIMOS_TEST_HOLD`` names a file: while it exists, every run waits after each row it
appends (up to two minutes), so that a test can act while runs are in progress.
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deimos_utils.experiment import config, loop, store  # noqa: E402

TOY = dict(dataset="custom", task="classification", methods=("deimos", "random"), n_initial=6,
           n_acquired=6, batch_size=2, n_candidates=20, n_validation=5, model="mlp", hidden=(16,),
           dropout=0.2, train_steps=4, train_epochs=0, train_batch_size=8, n_masks=6,
           n_repeats=1, weight_decay_c=0.5, predict_batch_size=7)
config.EXPERIMENTS.setdefault("toy", {"quick": TOY})

_load_data = loop.load_data


def load_data(cfg, data_dir=None):
    if cfg.experiment == "toy":
        from test_loop import toy_data

        return toy_data(cfg.task)
    return _load_data(cfg, data_dir)


loop.load_data = load_data

_hold = os.environ.get("DEIMOS_TEST_HOLD")
if _hold and not getattr(store.RunTable.append, "_held", False):
    _append = store.RunTable.append

    def append(self, row):
        _append(self, row)
        deadline = time.monotonic() + 120
        while os.path.exists(_hold) and time.monotonic() < deadline:
            time.sleep(0.05)

    append._held = True
    store.RunTable.append = append

if __name__ == "__main__":
    from deimos_utils.experiment.cli import main

    sys.exit(main())

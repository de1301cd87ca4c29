"""The cpu preset's epoch rule: the recorded objective equals a separate shorter training, and
the rule picks the smallest count within tolerance on both sets."""
import pandas as pd
import pytest
import torch

from deimos_utils.uncertainty.calibration import weight_decay
from deimos_utils.experiment.config import ExperimentConfig
from deimos_utils.experiment.epoch_rule import choose_epochs, objective_by_epoch, training_objective
from deimos_utils.experiment.models import build_model
from deimos_utils.runtime import derive_seed
from deimos_utils.experiment.training import train_model


def _config(task):
    return ExperimentConfig(experiment="toy", dataset="custom", task=task, methods=("random",),
                            n_initial=6, n_acquired=2, batch_size=1, n_candidates=5, n_validation=2,
                            model="mlp", hidden=(8,), dropout=0.2, train_steps=0, train_epochs=6,
                            train_batch_size=4, weight_decay_c=0.5,
                            optimizer="rmsprop" if task == "regression" else "adam")


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_recorded_objective_is_a_shorter_training(task):
    cfg = _config(task)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(10, 3, generator=g)
    y = (torch.arange(10) % 2) if task == "classification" else torch.randn(10, generator=g)
    recorded = objective_by_epoch(cfg, x, y, (2, 5), seed=3)
    for e in (2, 5):  # literal: a fresh training of e epochs
        torch.manual_seed(derive_seed(3, "weights", 0))
        model = build_model(cfg, (3,), 2 if task == "classification" else 1)
        lam = weight_decay(cfg.weight_decay_c, 10)
        train_model(model, x, y, task=task, epochs=e, batch_size=4, lr=cfg.learning_rate,
                    weight_decay=lam, seed=derive_seed(3, "train", 0), optimizer=cfg.optimizer)
        assert recorded[e] == pytest.approx(training_objective(model, x, y, task, lam), rel=1e-9)
    assert recorded[5] != recorded[2]


def test_rule_takes_the_smallest_count_good_on_both_sets():
    rows = []
    for set_, values in (("initial", [0.50, 0.104, 0.103, 0.100]), ("largest", [0.9, 0.30, 0.212, 0.20])):
        for e, v in zip((25, 50, 100, 300), values):
            rows.append(dict(family="f", set=set_, epochs=e, objective=v, task="classification",
                             target_var=float("nan")))
    # initial: 50 is within 5% + 0.005 of 0.100 (limit 0.11); largest: 0.30 > 0.215, 0.212 ok
    assert choose_epochs(pd.DataFrame(rows)) == {"f": 100}
    reg = pd.DataFrame([dict(family="r", set=s, epochs=e, objective=v, task="regression", target_var=100.0)
                        for s in ("initial", "largest") for e, v in ((25, 10.9), (50, 10.2), (300, 10.0))])
    # limit 10 * 1.05 + 0.005 * 100 = 11.0: 25 epochs pass
    assert choose_epochs(reg) == {"r": 25}

"""Our training against theirs: the paper preset's iteration-0 model on the authors' three MNIST
7 vs 9 initial sets (10 images, 300 epochs, test accuracy of the mean of 100 MC passes) reaches
their arrays' entry-0 mean within 0.04."""
import numpy as np
import pytest
import torch

from deimos_utils.data.authors import load_authors_results
from deimos_utils.uncertainty.calibration import weight_decay
from deimos_utils.experiment.config import get_config
from deimos_utils.data.paths import resolve_data_dir
from deimos_utils.data.aldata import load_data
from deimos_utils.experiment.loop import _test_metrics, initial_split
from deimos_utils.experiment.models import build_model
from deimos_utils.runtime import derive_seed
from deimos_utils.experiment.training import train_model

ROOT = resolve_data_dir(None)
pytestmark = pytest.mark.skipif(
    not ((ROOT / "authors" / "MNIST").is_dir() and (ROOT / "MNIST" / "raw").is_dir()),
    reason=f"needs MNIST and the authors' arrays under {ROOT}")


def test_iteration0_accuracy_matches_the_authors():
    cfg = get_config("mnist_7v9_b1", "paper")
    data = load_data(cfg)
    assert float(data.x_pool.max()) == 255.0  # raw pixels, as their code
    accs = []
    for seed in range(3):
        init, val = initial_split(cfg, data, seed)
        assert len(init) == 10 and not set(init) & set(val)
        torch.manual_seed(derive_seed(seed, "weights", 0))
        model = build_model(cfg, data.input_shape, data.n_classes)
        train_model(model, data.x_pool[init], data.y_pool[init], task=cfg.task,
                    epochs=cfg.train_epochs, steps=cfg.train_steps, batch_size=cfg.train_batch_size,
                    lr=cfg.learning_rate, weight_decay=weight_decay(cfg.weight_decay_c, len(init)),
                    seed=derive_seed(seed, "train", 0), optimizer=cfg.optimizer)
        accs.append(_test_metrics(model, data.x_test, data.y_test, cfg, seed, 0, 0.0, 1.0)["test_accuracy"])
    theirs = load_authors_results("mnist_7v9_b1")
    their_mean = theirs[theirs.iteration == 0].test_accuracy.mean()
    assert round(their_mean, 3) == 0.836
    print(f"iteration-0 MC test accuracy: ours {np.mean(accs):.3f} {np.round(accs, 3)}, theirs {their_mean:.3f}")
    assert abs(np.mean(accs) - their_mean) <= 0.04

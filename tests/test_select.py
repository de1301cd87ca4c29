"""select_batch on a user's own model equals the pipeline written out step by step."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from deimos_utils.acquisition import deimos_batch
from deimos_utils.uncertainty.mc_dropout import FixedMaskDropout, mc_predict
from deimos_utils.acquisition.select import select_batch


def user_model(n_out):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 32),
                         nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, n_out))


@pytest.mark.parametrize("n_out", [1, 4])
def test_select_batch_equals_the_manual_pipeline(n_out):
    rng = np.random.default_rng(0)
    x_pool = torch.as_tensor(rng.normal(size=(60, 3)), dtype=torch.float32)
    x_sample = torch.as_tensor(rng.normal(size=(40, 3)), dtype=torch.float32)
    model = user_model(n_out)
    sel = select_batch(model, x_pool, 5, x_sample=x_sample, noise=0.01, n_masks=20, seed=3)
    assert sum(isinstance(m, FixedMaskDropout) for m in model.modules()) == 2
    preds = torch.cat([mc_predict(model, x, n_masks=20, seed=3) for x in (x_pool, x_sample)])
    picked, gains = deimos_batch(preds.double(), 5, candidates=np.arange(60), noise=0.01)
    np.testing.assert_array_equal(sel.picked, picked)
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-12)
    assert sel.task == ("regression" if n_out == 1 else "classification")
    assert sel.picked.max() < 60


def test_default_noise_follows_appendix_e():
    rng = np.random.default_rng(1)
    x_pool = torch.as_tensor(rng.normal(size=(30, 3)), dtype=torch.float32)
    model = user_model(3)
    sel = select_batch(model, x_pool, 2, n_masks=10)
    probs = mc_predict(model, x_pool, n_masks=10).double().numpy()
    assert sel.noise == pytest.approx(0.005 * probs.var(axis=2, ddof=1).mean(), rel=1e-6)


def test_batch_larger_than_pool_is_refused():
    model = user_model(1)
    with pytest.raises(ValueError, match="larger than the number of candidates"):
        select_batch(model, torch.zeros(4, 3), 5, noise=0.1, n_masks=5)

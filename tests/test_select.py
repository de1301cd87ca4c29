"""select_batch on a user's own model equals the pipeline written out step by step."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from deimos_utils.acquisition import deimos_batch, deimos_scores
from deimos_utils.uncertainty.mc_dropout import FixedMaskDropout, convert_dropout, mc_predict
from deimos_utils.acquisition.select import select_batch


def user_model(n_out):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 32),
                         nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, n_out))


def pool_and_sample(n_pool=60, n_sample=40, seed=0):
    rng = np.random.default_rng(seed)
    return (torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32)
            for n in (n_pool, n_sample))


@pytest.mark.parametrize("n_out", [1, 4])
def test_select_batch_equals_the_manual_pipeline(n_out):
    x_pool, x_sample = pool_and_sample()
    model = user_model(n_out)
    sel = select_batch(model, x_pool, 5, x_sample=x_sample, noise=0.01, n_masks=20, seed=3,
                       inplace=True)
    assert sum(isinstance(m, FixedMaskDropout) for m in model.modules()) == 2
    preds = torch.cat([mc_predict(model, x, n_masks=20, seed=3) for x in (x_pool, x_sample)])
    picked, gains = deimos_batch(preds.double(), 5, candidates=np.arange(60), noise=0.01)
    np.testing.assert_array_equal(sel.picked, picked)
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-12)
    assert sel.task == ("regression" if n_out == 1 else "classification")
    assert sel.picked.max() < 60
    assert sel.scores is None


def test_the_model_is_left_unchanged_by_default():
    x_pool, _ = pool_and_sample()
    model = user_model(3)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    sel = select_batch(model, x_pool, 4, noise=0.01, n_masks=10)
    assert [type(m) for m in model if isinstance(m, (nn.Dropout, FixedMaskDropout))] == \
        [nn.Dropout, nn.Dropout]
    assert model.training and all(m.training for m in model.modules())
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
    inplace = select_batch(model, x_pool, 4, noise=0.01, n_masks=10, inplace=True)
    np.testing.assert_array_equal(sel.picked, inplace.picked)
    assert isinstance(model[2], FixedMaskDropout)


def test_every_nn_dropout_is_converted_beside_fixed_mask_layers():
    x_pool, _ = pool_and_sample()
    mixed = user_model(3)
    mixed[2] = FixedMaskDropout(0.3)          # one layer already fixed-mask, one nn.Dropout
    sel = select_batch(mixed, x_pool, 4, noise=0.01, n_masks=10, seed=1)
    reference = convert_dropout(user_model(3))
    preds = mc_predict(reference, x_pool, n_masks=10, seed=1).double()
    picked, gains = deimos_batch(preds, 4, candidates=np.arange(60), noise=0.01)
    np.testing.assert_array_equal(sel.picked, picked)
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-12)


def test_integer_inputs_are_cast_to_the_model_dtype():
    rng = np.random.default_rng(2)
    x_int = torch.as_tensor(rng.integers(0, 5, size=(40, 3)), dtype=torch.uint8)
    model = user_model(3)
    from_int = select_batch(model, x_int, 3, noise=0.01, n_masks=10)
    from_float = select_batch(model, x_int.float(), 3, noise=0.01, n_masks=10)
    np.testing.assert_array_equal(from_int.picked, from_float.picked)
    np.testing.assert_allclose(from_int.gains, from_float.gains, rtol=1e-12)


def test_an_input_the_model_cannot_take_names_the_expected_shape():
    model = user_model(2)
    with pytest.raises(ValueError, match=r"x_pool has shape \(10, 4\).*expects \(N, 3\)"):
        select_batch(model, torch.zeros(10, 4), 2, noise=0.01, n_masks=5)
    conv = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Dropout(0.5), nn.LazyLinear(3))
    with pytest.raises(ValueError, match=r"x_sample has shape \(5, 3, 8, 8\).*expects "
                                         r"\(N, 1, H, W\)"):
        select_batch(conv, torch.rand(6, 1, 8, 8), 2, x_sample=torch.rand(5, 3, 8, 8),
                     noise=0.01, n_masks=5)


def test_a_model_without_dropout_is_refused():
    with pytest.raises(ValueError, match="no dropout layer"):
        select_batch(nn.Linear(3, 2), torch.zeros(5, 3), 1, noise=0.01)


@pytest.mark.parametrize("pool_in_sample", [True, False])
def test_candidates_and_every_candidates_ei(pool_in_sample):
    x_pool, x_sample = pool_and_sample(seed=4)
    model = convert_dropout(user_model(3))
    cand = np.array([3, 7, 11, 20, 21, 40, 59])
    sel = select_batch(model, x_pool, 3, candidates=cand, x_sample=x_sample, noise=0.01,
                       n_masks=20, seed=2, pool_in_sample=pool_in_sample, return_scores=True)
    pool, sample = (mc_predict(model, x, n_masks=20, seed=2).double() for x in (x_pool, x_sample))
    if pool_in_sample:
        both = torch.cat([pool, sample])
        picked, gains = deimos_batch(both, 3, candidates=cand, noise=0.01)
        ei = deimos_scores(both, candidates=cand, noise=0.01)
    else:
        picked, gains = deimos_batch(sample, 3, candidate_preds=pool[cand], noise=0.01)
        picked = cand[picked]
        ei = deimos_scores(sample, candidate_preds=pool[cand], noise=0.01)
    np.testing.assert_array_equal(sel.picked, picked)
    np.testing.assert_allclose(sel.gains, gains, rtol=1e-12)
    assert set(sel.picked) <= set(cand)
    assert sel.scores.shape == (60,)
    np.testing.assert_allclose(sel.scores[cand], ei, rtol=1e-12)
    assert np.isnan(np.delete(sel.scores, cand)).all()
    assert int(np.nanargmax(sel.scores)) == sel.picked[0]
    np.testing.assert_allclose(sel.scores[sel.picked[0]], sel.gains[0], rtol=1e-10)


def test_bad_candidates_are_refused():
    x_pool, _ = pool_and_sample()
    with pytest.raises(ValueError, match="candidates"):
        select_batch(user_model(2), x_pool, 1, candidates=[0, 60], noise=0.01, n_masks=5)


def test_default_noise_follows_appendix_e():
    rng = np.random.default_rng(1)
    x_pool = torch.as_tensor(rng.normal(size=(30, 3)), dtype=torch.float32)
    model = user_model(3)
    sel = select_batch(model, x_pool, 2, n_masks=10, inplace=True)
    probs = mc_predict(model, x_pool, n_masks=10).double().numpy()
    assert sel.noise == pytest.approx(0.005 * probs.var(axis=2, ddof=1).mean(), rel=1e-6)


def test_batch_larger_than_pool_is_refused():
    model = user_model(1)
    with pytest.raises(ValueError, match="larger than the number of candidates"):
        select_batch(model, torch.zeros(4, 3), 5, noise=0.1, n_masks=5)

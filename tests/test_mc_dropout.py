"""Fixed-mask MC dropout: batched prediction against the literal per-mask reference."""
import numpy as np
import pytest
import torch
import torch.nn as nn

from deimos_utils.uncertainty.mc_dropout import (
    FixedMaskDropout,
    convert_dropout,
    dropout_layers,
    embed,
    fixed_masks,
    mc_predict,
    mc_predict_reference,
)
from deimos_utils.runtime import derive_seed

ATOL = 1e-5


class RowCounter(nn.Module):
    """Identity that counts the rows (points) it has seen."""

    def __init__(self):
        super().__init__()
        self.rows = 0

    def forward(self, x):
        self.rows += x.shape[0]
        return x


def mlp(seed=0, d_in=5, width=32):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(d_in, width), nn.ReLU(), FixedMaskDropout(0.3),
        nn.Linear(width, width), nn.ReLU(), FixedMaskDropout(0.2),
        nn.Linear(width, 1),
    )


def cnn(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), FixedMaskDropout(0.25),
        nn.Flatten(), nn.Linear(4 * 3 * 3, 16), nn.ReLU(), FixedMaskDropout(0.5),
        nn.Linear(16, 3),
    )


class Custom(nn.Module):
    """Not a Sequential: dropout used inside forward, a residual after the first dropout,
    attributes declared in an order different from the call order, output (B,)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.head_drop = FixedMaskDropout(0.4)  # first in modules() order, second in forward
        self.trunk = nn.Linear(4, 16)
        self.count_trunk = RowCounter()
        self.first_drop = FixedMaskDropout(0.3)
        self.fc = nn.Linear(16, 16)
        self.count_head = RowCounter()
        self.out = nn.Linear(16, 1)

    def forward(self, x):
        h = self.count_trunk(torch.tanh(self.trunk(x)))
        h = self.first_drop(h)
        h = h + torch.sin(self.fc(self.count_head(h)))
        return self.out(self.head_drop(h)).squeeze(-1)


def test_batched_equals_reference_mlp_regression():
    model = mlp()
    X = torch.randn(40, 5)
    fast = mc_predict(model, X, n_masks=7, seed=3, batch_size=16)
    ref = mc_predict_reference(model, X, n_masks=7, seed=3)
    assert fast.shape == (40, 7) and fast.dtype == torch.float32
    torch.testing.assert_close(fast, ref, atol=ATOL, rtol=0)
    assert fast.std(dim=1).min() > 0  # the masks really act


def test_reference_matches_hand_written_forward():
    """The per-mask reference against the MLP written out by hand with each layer's masks,
    indexed by position in model.modules() and seeded as documented."""
    model = mlp()
    X = torch.randn(12, 5)
    J, seed = 5, 11
    d1, d2 = dropout_layers(model)
    for i, p in enumerate((0.3, 0.2)):  # masks come from the documented generator
        g = torch.Generator().manual_seed(derive_seed(seed, "dropout-mask", i))
        keep = torch.rand((J, 32), generator=g, dtype=torch.float64) >= p
        layer = (d1, d2)[i]
        want = keep.float() / (1 - p)
        torch.testing.assert_close(layer.masks((32,), J, seed, i), want, atol=1e-7, rtol=0)
    m1 = d1.masks((32,), J, seed, 0)
    m2 = d2.masks((32,), J, seed, 1)
    lin1, lin2, lin3 = model[0], model[3], model[6]
    with torch.no_grad():
        hand = torch.stack(
            [lin3(torch.relu(lin2(torch.relu(lin1(X)) * m1[j])) * m2[j]).squeeze(-1)
             for j in range(J)],
            dim=-1,
        )
    ref = mc_predict_reference(model, X, n_masks=J, seed=seed)
    fast = mc_predict(model, X, n_masks=J, seed=seed)
    torch.testing.assert_close(ref, hand, atol=ATOL, rtol=0)
    torch.testing.assert_close(fast, hand, atol=ATOL, rtol=0)


def test_batched_equals_reference_cnn_classifier():
    model = cnn()
    X = torch.randn(30, 1, 8, 8)
    fast = mc_predict(model, X, n_masks=6, seed=0, batch_size=8)
    ref = mc_predict_reference(model, X, n_masks=6, seed=0)
    assert fast.shape == (30, 3, 6)
    torch.testing.assert_close(fast, ref, atol=ATOL, rtol=0)
    torch.testing.assert_close(fast.sum(dim=1), torch.ones(30, 6), atol=1e-6, rtol=0)
    assert (fast >= 0).all()
    assert fast.std(dim=2).max() > 1e-3


def test_batched_equals_reference_custom_module_and_trunk_runs_once():
    model = Custom()
    X = torch.randn(25, 4)
    J = 8
    fast = mc_predict(model, X, n_masks=J, seed=5, batch_size=10)
    assert model.count_trunk.rows == 25  # the trunk saw every point once, not J times
    assert model.count_head.rows == 25 * J
    ref = mc_predict_reference(model, X, n_masks=J, seed=5)
    assert fast.shape == (25, J)
    torch.testing.assert_close(fast, ref, atol=ATOL, rtol=0)
    assert fast.std(dim=1).min() > 0


def test_seed_determinism():
    model = cnn()
    X = torch.randn(10, 1, 8, 8)
    a = mc_predict(model, X, n_masks=5, seed=4)
    b = mc_predict(model, X, n_masks=5, seed=4)
    c = mc_predict(model, X, n_masks=5, seed=5)
    assert torch.equal(a, b)
    assert not torch.allclose(a, c, atol=1e-4)


def test_same_masks_for_every_point():
    """A model linear in its input: identical inputs get identical J predictions, and those
    J predictions differ across masks; each equals w . (mask_j * x)."""
    torch.manual_seed(0)
    model = nn.Sequential(FixedMaskDropout(0.5), nn.Linear(20, 1, bias=False))
    x = torch.randn(1, 20)
    X = torch.cat([x, torch.randn(3, 20), x, x])
    J = 9
    preds = mc_predict(model, X, n_masks=J, seed=2, batch_size=2)
    assert torch.equal(preds[0], preds[4]) and torch.equal(preds[0], preds[5])
    assert torch.unique(preds[0]).numel() == J
    masks = model[0].masks((20,), J, 2, 0)
    w = model[1].weight[0].detach()
    want = torch.stack([(masks[j] * X) @ w for j in range(J)], dim=-1)
    torch.testing.assert_close(preds, want, atol=ATOL, rtol=0)


def test_keep_fraction_and_scale():
    p, J, d = 0.3, 4, 20000
    layer = FixedMaskDropout(p)
    with fixed_masks(layer, n_masks=J, seed=0):
        out = layer(torch.ones(1, d))
    assert out.shape == (J, d)
    values = torch.unique(out)
    torch.testing.assert_close(values, torch.tensor([0.0, 1 / (1 - p)]))
    frac = (out != 0).float().mean(dim=1)
    assert torch.all((frac - (1 - p)).abs() < 0.015), frac
    assert not torch.equal(out[0], out[1])  # distinct masks


def test_training_mode_is_ordinary_dropout_and_flags_restored():
    p = 0.5
    model = nn.Sequential(FixedMaskDropout(p))
    model.train()
    x = torch.ones(1, 5000)
    a, b = model(x), model(x)
    assert not torch.equal(a, b)
    assert set(torch.unique(a).tolist()) == {0.0, 2.0}
    assert abs((a != 0).float().mean().item() - (1 - p)) < 0.03
    with fixed_masks(model, n_masks=3):
        assert not model.training and not model[0].training
        assert model(x).shape == (3, 5000)
    assert model.training and model[0].training
    c, d = model(x), model(x)
    assert not torch.equal(c, d)
    model.eval()
    assert torch.equal(model(x), x)  # eval outside the context: identity


def test_state_restored_on_exception_and_mixed_flags():
    model = mlp()
    model.train()
    model[3].eval()  # a submodule with its own flag
    with pytest.raises(KeyError):
        with fixed_masks(model, n_masks=4):
            raise KeyError("boom")
    assert model.training and model[0].training and not model[3].training
    assert all(layer._state is None for layer in dropout_layers(model))
    assert not model._forward_pre_hooks
    model.eval()
    x = torch.randn(3, 5)
    assert model(x).shape == (3, 1)  # no expansion after the context
    with fixed_masks(model, n_masks=4):
        assert model(x).shape == (12, 1)
        assert model(x).shape == (12, 1)  # the pre-hook resets the state per call


def test_convert_dropout():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(3)
            self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2))
            self.heads = nn.ModuleList([nn.Linear(16, 16), nn.Dropout(0.4)])
            self.out = nn.Linear(16, 2)

        def forward(self, x):
            h = self.body(x)
            h = self.heads[1](torch.relu(self.heads[0](h)))
            return self.out(h)

    net = Net()
    with pytest.raises(ValueError, match="convert_dropout"):
        mc_predict(net, torch.randn(4, 6))
    out = convert_dropout(net)
    assert out is net
    assert not any(isinstance(m, nn.Dropout) for m in net.modules())
    assert [m.p for m in dropout_layers(net)] == [0.2, 0.4]
    X = torch.randn(9, 6)
    fast = mc_predict(net, X, n_masks=5, seed=1, batch_size=4)
    ref = mc_predict_reference(net, X, n_masks=5, seed=1)
    assert fast.shape == (9, 2, 5)
    torch.testing.assert_close(fast, ref, atol=ATOL, rtol=0)
    assert fast.std(dim=2).max() > 1e-3


def test_chunking_and_numpy_input():
    model = cnn()
    X = torch.randn(23, 1, 8, 8)
    one = mc_predict(model, X, n_masks=4, seed=9, batch_size=1000)
    many = mc_predict(model, X, n_masks=4, seed=9, batch_size=5)
    single = mc_predict(model, X, n_masks=4, seed=9, batch_size=1)
    from_numpy = mc_predict(model, X.numpy().astype(np.float64), n_masks=4, seed=9)
    torch.testing.assert_close(many, one, atol=1e-6, rtol=0)
    torch.testing.assert_close(single, one, atol=1e-6, rtol=0)
    torch.testing.assert_close(from_numpy, one, atol=1e-6, rtol=0)
    assert from_numpy.dtype == torch.float32


def test_task_argument():
    model = cnn()
    X = torch.randn(4, 1, 8, 8)
    with pytest.raises(ValueError, match="regression"):
        mc_predict(model, X, n_masks=3, task="regression")
    reg = mlp()
    with pytest.raises(ValueError, match="classification"):
        mc_predict(reg, torch.randn(4, 5), n_masks=3, task="classification")
    with pytest.raises(ValueError, match="task"):
        mc_predict(reg, torch.randn(4, 5), task="ranking")
    r = mc_predict(reg, torch.randn(4, 5), n_masks=3, task="regression")
    assert r.shape == (4, 3)


@pytest.mark.parametrize(
    "X, kwargs, match",
    [
        (torch.tensor([[np.nan] * 5]), {}, "NaN"),
        (torch.tensor([[0.0, 1.0, np.inf, 0.0, 0.0]]), {}, "NaN or infinite"),
        (torch.zeros(0, 5), {}, "empty"),
        (torch.zeros(3, 5), {"n_masks": 0}, "n_masks"),
        (torch.zeros(3, 5), {"batch_size": 0}, "batch_size"),
    ],
)
def test_bad_input(X, kwargs, match):
    with pytest.raises(ValueError, match=match):
        mc_predict(mlp(), X, **kwargs)


def test_bad_layers_and_models():
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="0 <= p < 1"):
            FixedMaskDropout(p)
    with pytest.raises(ValueError, match="no FixedMaskDropout"):
        with fixed_masks(nn.Linear(3, 1)):
            pass
    with pytest.raises(ValueError, match="n_masks"):
        with fixed_masks(mlp(), n_masks=0):
            pass

    class Bypass(nn.Module):
        """Two dropout layers fed from the trunk in parallel: not supported."""

        def __init__(self):
            super().__init__()
            self.a, self.b = FixedMaskDropout(0.2), FixedMaskDropout(0.2)
            self.out = nn.Linear(4, 1)

        def forward(self, x):
            return self.out(self.a(x) + self.b(x))

    with pytest.raises(RuntimeError, match="bypass"):
        mc_predict(Bypass(), torch.randn(3, 4), n_masks=2)


def test_embed():
    model = mlp()
    model.train()
    X = torch.randn(11, 5)
    emb = embed(model, X, model[6], batch_size=4)
    with torch.no_grad():
        want = model[:6].eval()(X)
    model.train()
    assert emb.shape == (11, 32)
    torch.testing.assert_close(emb, want, atol=1e-6, rtol=0)
    assert model.training and model[5].training
    with pytest.raises(ValueError, match="submodule"):
        embed(model, X, nn.Linear(32, 1))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = cnn()
    X = torch.randn(16, 1, 8, 8)
    cpu = mc_predict(model, X, n_masks=5, seed=7)
    layer = dropout_layers(model)[0]
    m_cpu = layer.masks((4, 3, 3), 5, 7, 0).clone()
    m_gpu = layer.masks((4, 3, 3), 5, 7, 0, device="cuda")
    assert torch.equal(m_gpu.cpu(), m_cpu)
    gpu = mc_predict(model.cuda(), X, n_masks=5, seed=7)
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=0)


def test_mc_predict_warns_when_dropout_is_off():
    import warnings

    from deimos_utils._checks import NoVarianceWarning
    from deimos_utils.experiment.models import MLP

    torch.manual_seed(0)
    x = torch.randn(30, 4)
    with pytest.warns(NoVarianceWarning, match="every dropout layer of the model has p = 0"):
        preds = mc_predict(MLP(4, hidden=(16, 16), p=0.0), x, n_masks=8, batch_size=7)
    assert preds.shape == (30, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", NoVarianceWarning)
        mc_predict(MLP(4, hidden=(16, 16), p=0.1), x, n_masks=8)

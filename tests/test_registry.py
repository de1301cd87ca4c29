"""The acquisition registry: names, calling convention, task and field checks."""
from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch

from deimos_utils.acquisition.batchbald import batchbald_batch
from deimos_utils.acquisition.kcenter import kcenter_batch
from deimos_utils.acquisition.registry import (
    ACQUISITIONS,
    Acquisition,
    AcquisitionContext,
    get_acquisition,
    kcenter_acquisition,
)
from deimos_utils.acquisition.scores import bald_scores, entropy_scores, top_k, variance_scores

NAMES = {"deimos", "random", "max_variance", "max_entropy", "bald", "batchbald", "kcenter"}
N, C, J, B = 40, 4, 12, 5


def random_probs(rng, n, c=C, j=J):
    logits = rng.normal(size=(n, c, j)) * 2
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def make_ctx(task, seed=0, **overrides):
    rng = np.random.default_rng(100 + seed)
    fields = dict(
        batch_size=B,
        rng=np.random.default_rng(seed),
        task=task,
        cand_preds=random_probs(rng, N) if task == "classification" else rng.normal(size=(N, J)),
        emb_labelled=rng.normal(size=(6, 8)),
        emb_candidates=rng.normal(size=(N, 8)),
        noise=0.01,
    )
    fields.update(overrides)
    return AcquisitionContext(**fields)


def deimos_available() -> bool:
    try:
        from deimos_utils.acquisition.deimos import deimos_batch  # noqa: F401
    except Exception:
        return False
    return True


def test_every_name_registered():
    assert set(ACQUISITIONS) == NAMES
    for name, method in ACQUISITIONS.items():
        assert isinstance(method, Acquisition) and method.name == name
        assert get_acquisition(name) is method
        assert method.needs <= {"preds", "sample", "embeddings"}
        assert method.tasks <= {"regression", "classification"} and method.tasks
    assert ACQUISITIONS["max_variance"].tasks == {"regression"}
    for name in ("max_entropy", "bald", "batchbald"):
        assert ACQUISITIONS[name].tasks == {"classification"}
    assert ACQUISITIONS["kcenter"].needs == {"embeddings"}
    assert ACQUISITIONS["random"].needs == frozenset()
    assert ACQUISITIONS["deimos"].needs == {"preds", "sample"}


def test_needs_are_checked_when_a_method_is_made():
    with pytest.raises(ValueError, match="unknown needs.*valid needs: preds, sample, embeddings"):
        Acquisition("mine", frozenset({"labels"}), frozenset({"regression"}), lambda ctx: None)
    with pytest.raises(ValueError, match="'sample' comes with 'preds'"):
        Acquisition("mine", frozenset({"sample"}), frozenset({"regression"}), lambda ctx: None)


@pytest.mark.parametrize("name", sorted(NAMES))
def test_each_method_returns_valid_batch(name):
    method = get_acquisition(name)
    if name == "deimos" and not deimos_available():
        pytest.skip("deimos_batch is not importable")
    for task in sorted(method.tasks):
        picked = method(make_ctx(task))
        assert isinstance(picked, np.ndarray) and picked.dtype == np.int64
        assert picked.shape == (B,)
        assert len(set(picked.tolist())) == B
        assert picked.min() >= 0 and picked.max() < N


def test_single_point_methods_take_top_scores():
    cls, reg = make_ctx("classification", 1), make_ctx("regression", 1)
    assert get_acquisition("max_entropy")(cls).tolist() == top_k(entropy_scores(cls.cand_preds), B).tolist()
    assert get_acquisition("bald")(cls).tolist() == top_k(bald_scores(cls.cand_preds), B).tolist()
    assert get_acquisition("max_variance")(reg).tolist() == top_k(variance_scores(reg.cand_preds), B).tolist()
    assert get_acquisition("batchbald")(cls).tolist() == batchbald_batch(cls.cand_preds, B)[0].tolist()
    ctx = make_ctx("regression", 2)
    assert get_acquisition("kcenter")(ctx).tolist() == kcenter_batch(
        ctx.emb_labelled, ctx.emb_candidates, B, outlier_fraction=1e-4).tolist()


def test_torch_inputs():
    ctx = make_ctx("classification", 3)
    tctx = make_ctx("classification", 3, cand_preds=torch.as_tensor(ctx.cand_preds),
                    emb_candidates=torch.as_tensor(ctx.emb_candidates))
    for name in ("bald", "max_entropy", "batchbald", "kcenter"):
        assert get_acquisition(name)(tctx).tolist() == get_acquisition(name)(ctx).tolist()


def test_random_is_seeded():
    a = get_acquisition("random")(AcquisitionContext(B, np.random.default_rng(7), "regression", n_candidates=N))
    b = get_acquisition("random")(AcquisitionContext(B, np.random.default_rng(7), "classification", n_candidates=N))
    c = get_acquisition("random")(AcquisitionContext(B, np.random.default_rng(8), "regression", n_candidates=N))
    assert a.tolist() == b.tolist() == np.random.default_rng(7).choice(N, B, replace=False).tolist()
    assert a.tolist() != c.tolist()
    # N may also come from the predictions
    d = get_acquisition("random")(make_ctx("regression", 7))
    assert d.tolist() == a.tolist()


@pytest.mark.parametrize("name, task", [("max_variance", "classification"), ("bald", "regression"),
                                        ("max_entropy", "regression"), ("batchbald", "regression")])
def test_wrong_task(name, task):
    with pytest.raises(ValueError, match=f"'{name}' does not support task '{task}'"):
        get_acquisition(name)(make_ctx(task))


def test_unknown_task_and_name():
    with pytest.raises(ValueError, match="task must be one of"):
        get_acquisition("random")(make_ctx("ranking"))
    with pytest.raises(ValueError, match="unknown acquisition 'bold'.*deimos, random, max_variance"):
        get_acquisition("bold")


@pytest.mark.parametrize("name, field", [("bald", "cand_preds"), ("batchbald", "cand_preds"),
                                         ("max_entropy", "cand_preds"), ("deimos", "cand_preds"),
                                         ("kcenter", "emb_labelled"), ("kcenter", "emb_candidates")])
def test_missing_fields(name, field):
    with pytest.raises(ValueError, match=f"needs ctx.{field}"):
        get_acquisition(name)(make_ctx("classification", **{field: None}))


def test_inconsistent_fields():
    with pytest.raises(ValueError, match="number of candidates is unknown"):
        get_acquisition("random")(AcquisitionContext(B, np.random.default_rng(0), "regression"))
    with pytest.raises(ValueError, match="disagrees"):
        get_acquisition("random")(make_ctx("regression", n_candidates=N + 1))
    with pytest.raises(ValueError, match=r"must be \(N, C, J\)"):
        get_acquisition("bald")(make_ctx("classification", cand_preds=np.ones((N, J)) / 2))
    with pytest.raises(ValueError, match=r"must be \(N, J\)"):
        get_acquisition("max_variance")(make_ctx("regression", cand_preds=random_probs(np.random.default_rng(0), N)))
    with pytest.raises(ValueError, match="larger than the number"):
        get_acquisition("bald")(make_ctx("classification", batch_size=N + 1))
    with pytest.raises(ValueError, match="numpy Generator"):
        get_acquisition("random")(make_ctx("regression", rng=0))


def test_kcenter_factory():
    ctx = make_ctx("classification", 4)
    m = kcenter_acquisition(outlier_fraction=0.1)
    assert m.name == "kcenter"
    assert m(ctx).tolist() == kcenter_batch(ctx.emb_labelled, ctx.emb_candidates, B,
                                            outlier_fraction=0.1).tolist()


def test_deimos_entry_passes_candidates_and_extra_points(monkeypatch):
    """The plumbing of the DEIMOS entry, with a stand-in for deimos_batch."""
    calls = {}

    def fake_deimos_batch(preds, batch_size, *, candidates=None, noise=0.0, smoothing=None):
        calls.update(preds=preds, batch_size=batch_size, candidates=candidates, noise=noise)
        return np.asarray(candidates[::-1][:batch_size]), np.zeros(batch_size)

    fake = types.ModuleType("deimos_utils.acquisition.deimos")
    fake.deimos_batch = fake_deimos_batch
    monkeypatch.setitem(sys.modules, "deimos_utils.acquisition.deimos", fake)
    rng = np.random.default_rng(0)
    extra = random_probs(rng, 7)
    ctx = make_ctx("classification", extra_preds=extra, noise=0.01)
    picked = get_acquisition("deimos")(ctx)
    assert picked.tolist() == list(range(N - 1, N - 1 - B, -1))
    assert calls["preds"].shape == (N + 7, C, J)
    np.testing.assert_array_equal(calls["preds"][:N], ctx.cand_preds)
    np.testing.assert_array_equal(calls["preds"][N:], extra)
    assert calls["candidates"].tolist() == list(range(N)) and calls["noise"] == 0.01
    # torch inputs stay tensors
    tctx = make_ctx("regression", cand_preds=torch.randn(N, J), extra_preds=np.zeros((3, J)))
    get_acquisition("deimos")(tctx)
    assert isinstance(calls["preds"], torch.Tensor) and calls["preds"].shape == (N + 3, J)
    with pytest.raises(ValueError, match="extra_preds"):
        get_acquisition("deimos")(make_ctx("classification", extra_preds=np.ones((3, C + 1, J))))
    with pytest.raises(ValueError, match="noise"):
        get_acquisition("deimos")(make_ctx("classification", noise=-1.0))


@pytest.mark.skipif(not deimos_available(), reason="deimos_batch is not importable")
def test_deimos_entry_matches_direct_call():
    from deimos_utils.acquisition.deimos import deimos_batch

    for task in ("regression", "classification"):
        ctx = make_ctx(task, 5)
        rng = np.random.default_rng(1)
        extra = rng.normal(size=(9, J)) if task == "regression" else random_probs(rng, 9)
        ctx.extra_preds, ctx.noise = extra, 0.05
        direct, _ = deimos_batch(np.concatenate([ctx.cand_preds, extra]), B,
                                 candidates=np.arange(N), noise=0.05)
        picked = get_acquisition("deimos")(ctx)
        assert picked.tolist() == np.asarray(direct).tolist()
        assert picked.max() < N


# --- nothing silent: probabilities, dtypes, predictions without variance -----------------------

PROB_METHODS = ["deimos", "max_entropy", "bald", "batchbald"]


def _logits(rng, n=N):
    return rng.normal(size=(n, C, J)) * 2


@pytest.mark.parametrize("name", PROB_METHODS)
@pytest.mark.parametrize("bad, match", [
    ("logits", "negative values .*logits"),
    ("unnormalised", "must sum to 1 .*logits"),
    ("one class", "C >= 2 classes"),
])
def test_classification_acquisitions_check_probabilities(name, bad, match):
    rng = np.random.default_rng(3)
    probs = random_probs(rng, N)
    preds = {"logits": _logits(rng), "unnormalised": probs * 1.5,
             "one class": np.ones((N, 1, J))}[bad]
    with pytest.raises(ValueError, match=match):
        get_acquisition(name)(make_ctx("classification", cand_preds=preds))
    assert len(get_acquisition(name)(make_ctx("classification", cand_preds=probs))) == B


def test_deimos_batch_checks_probabilities_and_dtype():
    from deimos_utils.acquisition import deimos_batch, deimos_scores

    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="preds holds negative values"):
        deimos_batch(_logits(rng), 3, noise=1e-3)
    with pytest.raises(ValueError, match=r"C >= 2 classes .*\(C = 1\)"):
        deimos_batch(np.ones((N, 1, J)), 3, noise=1e-3)
    for dtype in (torch.int64, torch.bool, np.float64, "float64"):
        with pytest.raises(ValueError, match="dtype must be a floating-point torch dtype"):
            deimos_batch(random_probs(rng, N), 3, noise=1e-3, dtype=dtype)
        with pytest.raises(ValueError, match="dtype must be a floating-point"):
            deimos_scores(rng.normal(size=(N, J)), dtype=dtype)
    picked, _ = deimos_batch(random_probs(rng, N), 3, noise=1e-3, dtype=torch.float32)
    assert len(picked) == 3


def test_predictions_without_variance_warn():
    from deimos_utils._checks import NoVarianceWarning
    from deimos_utils.acquisition import deimos_batch

    rng = np.random.default_rng(5)
    flat = np.repeat(rng.normal(size=(N, 1)), J, axis=1)  # the same under every mask
    with pytest.warns(NoVarianceWarning, match="same under all 12 MC-dropout masks"):
        picked, gains = deimos_batch(flat, 3, noise=0.1)
    assert picked.tolist() == [0, 1, 2] and np.all(gains == gains[0])  # nothing tells points apart
    flat_probs = np.repeat(random_probs(rng, N, j=1), J, axis=2)
    with pytest.warns(NoVarianceWarning):
        deimos_batch(flat_probs, 3, noise=1e-3)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", NoVarianceWarning)
        deimos_batch(rng.normal(size=(N, J)), 3, noise=0.1)  # real spread: no warning

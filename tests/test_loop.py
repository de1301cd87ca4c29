"""The active-learning loop on tiny synthetic data: protocol, resumption, and early failures."""
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from deimos_utils.experiment import loop, store
from deimos_utils.acquisition.registry import Acquisition
from deimos_utils.uncertainty.calibration import DEFAULT_NOISE_FRACTION, noise_from_validation, weight_decay
from deimos_utils.data.aldata import ALData
from deimos_utils.experiment.config import ExperimentConfig
from deimos_utils.uncertainty.mc_dropout import mc_predict
from deimos_utils.experiment.models import build_model
from deimos_utils.runtime import derive_seed, make_rng
from deimos_utils.experiment.store import TIMING_COLUMNS
from deimos_utils.experiment.training import train_model

TESTS = Path(__file__).resolve().parent


def toy_data(task="classification", n=160, n_test=40, C=3, d=4, seed=0):
    g = np.random.default_rng(seed)
    centres = g.normal(0, 3, (C, d))
    y = np.arange(n + n_test) % C
    g.shuffle(y)
    x = (centres[y] + g.normal(size=(n + n_test, d))).astype(np.float32)
    if task == "regression":
        w = g.normal(size=d)
        y = (np.sin(x @ w) + 0.1 * g.normal(size=n + n_test) + 5.0).astype(np.float32)
    ids = 1000 + 7 * np.arange(n)  # ids differ from positions: the mapping is exercised
    return ALData(x[:n], y[:n], x[n:], y[n:], task=task, n_classes=C if task == "classification" else None,
                  name="toy", pool_ids=ids)


def toy_config(**kw):
    base = dict(experiment="toy", dataset="custom", task="classification", preset="test",
                methods=("deimos", "random"), n_initial=6, n_acquired=6, batch_size=2,
                n_candidates=20, n_validation=5, model="mlp", hidden=(16,), dropout=0.2,
                train_steps=4, train_epochs=0, train_batch_size=8, n_masks=6, n_repeats=1,
                weight_decay_c=0.5, predict_batch_size=7)
    base.update(kw)
    return ExperimentConfig(**base)


def run(cfg, method, tmp, seed=0, data=None, **kw):
    return loop.run_experiment(cfg, method, seed, data=data if data is not None else toy_data(cfg.task),
                               results_dir=tmp, progress=False, device="cpu", **kw)


def same_rows(a: pd.DataFrame, b: pd.DataFrame):
    cols = [c for c in a.columns if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(a[cols].reset_index(drop=True), b[cols].reset_index(drop=True),
                                  check_exact=True)


# ------------------------------------------------------------------------------------ sets

def test_initial_split_balanced_disjoint_and_per_seed():
    data, cfg = toy_data(), toy_config(n_initial=7)
    init, val = loop.initial_split(cfg, data, 0)
    assert len(init) == 7 and len(val) == 5 and not set(init) & set(val)
    counts = np.bincount(data.y_pool.numpy()[init], minlength=3)
    assert sorted(counts.tolist()) == [2, 2, 3]
    init2, val2 = loop.initial_split(cfg.replace(batch_size=1, methods=("bald",)), data, 0)
    assert init.tolist() == init2.tolist() and val.tolist() == val2.tolist()  # method-independent
    init3, _ = loop.initial_split(cfg, data, 1)
    assert init.tolist() != init3.tolist()
    reg = toy_data("regression")
    init_r, val_r = loop.initial_split(toy_config(task="regression", methods=("random",)), reg, 0)
    assert len(init_r) == 6 and not set(init_r) & set(val_r)


def reference_draw(labelled_mask, eligible, n_candidates, rng):
    """Read a random order of the eligible points until n_candidates unlabelled ones are seen."""
    perm = rng.permutation(eligible)
    cand, extra = [], []
    target = min(n_candidates, int((~labelled_mask[eligible]).sum()))
    for p in perm:
        if len(cand) == target:
            break
        (extra if labelled_mask[p] else cand).append(int(p))
    return cand, extra


@pytest.mark.parametrize("n_candidates", [1, 5, 30, 1000])
def test_draw_candidates_matches_reference(n_candidates):
    g = np.random.default_rng(5)
    mask = g.random(60) < 0.3
    eligible = np.sort(g.choice(60, 50, replace=False))
    cand, extra = loop.draw_candidates(mask, eligible, n_candidates, make_rng(3, "c"))
    ref_c, ref_e = reference_draw(mask, eligible, n_candidates, make_rng(3, "c"))
    assert cand.tolist() == ref_c and extra.tolist() == ref_e
    assert not mask[cand].any() and mask[extra].all()


# ------------------------------------------------------------------------------------ a run

def test_run_rows_follow_the_protocol(tmp_path):
    cfg, data = toy_config(), toy_data()
    df = run(cfg, "deimos", tmp_path, data=data)
    assert list(df.columns) == list(store.COLUMNS)
    assert df["iteration"].tolist() == [0, 1, 2, 3]
    assert df["n_acquired"].tolist() == [0, 2, 4, 6]
    assert df["n_labelled"].tolist() == [6, 8, 10, 12]
    assert (df["experiment"] == "toy").all() and (df["preset"] == "test").all()
    assert (df["batch_size"] == 2).all() and (df["n_candidates"][:3] == 20).all()
    picks = [store.parse_picked(p) for p in df["picked"]]
    assert [len(p) for p in picks] == [2, 2, 2, 0]
    ids = np.concatenate(picks)
    assert len(set(ids.tolist())) == 6 and set(ids.tolist()) <= set(data.pool_ids.tolist())
    init, val = loop.initial_split(cfg, data, 0)
    assert not set(ids.tolist()) & set(data.pool_ids[np.concatenate([init, val])].tolist())
    assert df["test_accuracy"].between(0, 1).all() and (df["test_nll"] > 0).all()
    assert df["test_mse"].isna().all()
    assert np.isfinite(df["diversity"][:3]).all() and np.isnan(df["diversity"][3])
    assert df["noise"].nunique() == 1 and df["noise"][0] > 0
    path = loop.run_results_path(cfg, "deimos", 0, tmp_path)
    assert path == tmp_path / "toy" / "test" / "deimos__seed0.csv" and path.with_suffix(".json").exists()
    same_rows(df, store.read_table(path))


def test_first_row_replays_by_hand(tmp_path):
    """Row 0 equals a model trained by hand with the documented seed streams, and the noise is
    Appendix E's fraction of its mean class dropout variance on the validation set."""
    cfg, data = toy_config(), toy_data()
    df = run(cfg, "random", tmp_path, data=data)
    init, val = loop.initial_split(cfg, data, 0)
    torch.manual_seed(derive_seed(0, "weights", 0))
    model = build_model(cfg, data.input_shape, 3)
    train_model(model, data.x_pool[init], data.y_pool[init], task="classification", steps=4,
                batch_size=8, weight_decay=weight_decay(0.5, 6), seed=derive_seed(0, "train", 0))
    with torch.no_grad():
        logits = model(data.x_test)
    acc = float((logits.argmax(1) == data.y_test).double().mean())
    assert df["test_accuracy"][0] == acc
    probs = mc_predict(model, data.x_pool[val], n_masks=6, seed=derive_seed(0, "val-masks")).double()
    assert df["noise"][0] == pytest.approx(noise_from_validation(probs.numpy(), "classification", DEFAULT_NOISE_FRACTION["classification"]),
                                           rel=1e-12)


def test_methods_share_the_initial_set_and_first_model(tmp_path):
    data = toy_data()
    cfg = toy_config()
    a = run(cfg, "deimos", tmp_path, data=data)
    b = run(cfg, "random", tmp_path, data=data)
    assert a["test_accuracy"][0] == b["test_accuracy"][0] and a["noise"][0] == b["noise"][0]
    assert a["picked"][0] != b["picked"][0] or a["picked"][1] != b["picked"][1]


def test_deimos_gets_the_representative_sample(tmp_path, monkeypatch):
    """DEIMOS scores the candidates plus the labelled points drawn into X_samp; predictions
    are those of mc_predict with the iteration's masks; other methods get no extra points."""
    seen = []
    real = loop.get_acquisition

    def spy(name):
        acq = real(name)

        def fn(ctx):
            seen.append((name, ctx))
            return acq.fn(ctx)
        return Acquisition(acq.name, acq.needs, acq.tasks, fn)

    monkeypatch.setattr(loop, "get_acquisition", spy)
    data = toy_data()
    cfg = toy_config(n_candidates=40, n_acquired=2, n_initial=30, n_validation=5)
    run(cfg, "deimos", tmp_path, data=data)
    run(cfg, "bald", tmp_path, data=data)
    (n1, ctx_d), (n2, ctx_b) = seen
    init, val = loop.initial_split(cfg, data, 0)
    mask = np.zeros(data.n_pool, dtype=bool)
    mask[init] = True
    eligible = np.setdiff1d(np.arange(data.n_pool), val)
    cand, extra = reference_draw(mask, eligible, 40, make_rng(0, "candidates", 0))
    assert len(extra) > 0  # 30 of 155 eligible points are labelled
    assert ctx_d.cand_preds.shape == (40, 3, 6) and ctx_d.extra_preds.shape == (len(extra), 3, 6)
    assert ctx_b.extra_preds is None and ctx_b.cand_preds.shape == (40, 3, 6)
    # rebuild the iteration-0 model and compare the predictions of candidates and extras
    torch.manual_seed(derive_seed(0, "weights", 0))
    model = build_model(cfg, data.input_shape, 3)
    train_model(model, data.x_pool[init], data.y_pool[init], task="classification", steps=4,
                batch_size=8, weight_decay=weight_decay(0.5, 30), seed=derive_seed(0, "train", 0))
    ref = mc_predict(model, data.x_pool[np.array(cand + extra)], n_masks=6, seed=derive_seed(0, "masks", 0))
    torch.testing.assert_close(ctx_d.cand_preds, ref[:40], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ctx_d.extra_preds, ref[40:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ctx_b.cand_preds, ref[:40], rtol=1e-5, atol=1e-6)


def test_a_registered_method_gets_the_sample_when_it_declares_the_need(tmp_path, monkeypatch):
    """The sample goes by the declared need, not by the method's name: a variant registered
    under another name that needs "sample" gets X_samp's labelled points, one that does not
    (even if named "deimos") gets none."""
    from deimos_utils.acquisition import ACQUISITIONS

    seen = {}
    deimos_fn = ACQUISITIONS["deimos"].fn

    def recording(name, needs):
        def fn(ctx):
            seen[name] = ctx
            return deimos_fn(ctx)
        return Acquisition(name, frozenset(needs), frozenset({"classification"}), fn)

    monkeypatch.setitem(ACQUISITIONS, "my_deimos", recording("my_deimos", {"preds", "sample"}))
    monkeypatch.setitem(ACQUISITIONS, "deimos", recording("deimos", {"preds"}))
    data = toy_data()
    cfg = toy_config(n_candidates=40, n_acquired=2, n_initial=30, n_validation=5)
    run(cfg, "my_deimos", tmp_path, data=data)
    run(cfg, "deimos", tmp_path, data=data)
    init, val = loop.initial_split(cfg, data, 0)
    mask = np.zeros(data.n_pool, dtype=bool)
    mask[init] = True
    _, extra = reference_draw(mask, np.setdiff1d(np.arange(data.n_pool), val), 40,
                              make_rng(0, "candidates", 0))
    assert len(extra) > 0
    assert seen["my_deimos"].extra_preds.shape == (len(extra), 3, 6)
    assert seen["deimos"].extra_preds is None


@pytest.mark.parametrize("method", ["bald", "max_entropy", "batchbald", "kcenter"])
def test_every_classification_method_runs(tmp_path, method):
    df = run(toy_config(n_acquired=2), method, tmp_path)
    assert len(df) == 2 and len(store.parse_picked(df["picked"][0])) == 2


def test_regression_run(tmp_path):
    cfg = toy_config(task="regression", methods=("deimos", "max_variance", "random"), noise_fraction=0.1,
                     n_acquired=4)
    data = toy_data("regression")
    for m in cfg.methods:
        df = run(cfg, m, tmp_path, data=data)
        assert len(df) == 3 and df["test_accuracy"].isna().all() and df["diversity"].isna().all()
        np.testing.assert_allclose(df["test_rmse"], np.sqrt(df["test_mse"]), rtol=1e-12)
        assert (df["test_mse"] > 0).all() and (df["noise"] > 0).all()
    # targets are standardised with the initial set: the test MSE is in the units of y
    # (y ~ 5 +- 1 here: a model that ignored the offset would have MSE ~ 25)
    assert df["test_mse"].max() < 10


# ------------------------------------------------------------------------------------ resumption

@pytest.mark.parametrize("fail_at", [1, 3])
def test_resume_after_exception_equals_uninterrupted(tmp_path, monkeypatch, fail_at):
    cfg, data = toy_config(), toy_data()
    full = run(cfg, "deimos", tmp_path / "full", data=data)
    calls = {"n": 0}
    real = loop.evaluate

    def flaky(*a, **k):
        calls["n"] += 1
        if calls["n"] == fail_at + 1:
            raise KeyboardInterrupt("interrupted")
        return real(*a, **k)

    monkeypatch.setattr(loop, "evaluate", flaky)
    with pytest.raises(KeyboardInterrupt):
        run(cfg, "deimos", tmp_path / "cut", data=data)
    path = loop.run_results_path(cfg, "deimos", 0, tmp_path / "cut")
    assert len(store.read_table(path)) == fail_at
    monkeypatch.setattr(loop, "evaluate", real)
    resumed = run(cfg, "deimos", tmp_path / "cut", data=data)
    same_rows(resumed, full)


def test_resume_drops_a_partial_line(tmp_path):
    cfg, data = toy_config(), toy_data()
    full = run(cfg, "kcenter", tmp_path, data=data)
    path = loop.run_results_path(cfg, "kcenter", 0, tmp_path)
    text = path.read_bytes()
    cut = text.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(text[: cut] + text[cut: cut + 25])  # the last row half written
    assert len(store.read_table(path)) == len(full) - 1
    resumed = run(cfg, "kcenter", tmp_path, data=data)
    same_rows(resumed, full)
    assert path.read_bytes().count(b"\n") == len(full) + 1


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_loop import toy_config, toy_data
from deimos_utils.experiment import loop, store

real = store.RunTable.append
count = {{"n": 0}}

def append(self, row):
    count["n"] += 1
    if count["n"] == 3:  # third row: write half of it, then die without cleanup
        line = ",".join(str(row[c]) for c in self.columns)
        with open(self.path, "ab") as fh:
            fh.write(line[: len(line) // 2].encode())
            fh.flush()
            os.fsync(fh.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, row)

store.RunTable.append = append
loop.run_experiment(toy_config(), "deimos", 0, data=toy_data(), results_dir=sys.argv[1],
                    progress=False, device="cpu")
"""


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    cfg, data = toy_config(), toy_data()
    full = run(cfg, "deimos", tmp_path / "full", data=data)
    script = tmp_path / "killed.py"
    script.write_text(textwrap.dedent(KILL_SCRIPT.format(tests=str(TESTS))))
    env = dict(os.environ, TQDM_DISABLE="1")
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "cut")], env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    path = loop.run_results_path(cfg, "deimos", 0, tmp_path / "cut")
    assert not path.read_bytes().endswith(b"\n")  # a partial third row is there
    assert len(store.read_table(path)) == 2
    resumed = run(cfg, "deimos", tmp_path / "cut", data=data)
    same_rows(resumed, full)


def test_completed_run_trains_nothing_and_extension_continues(tmp_path, monkeypatch):
    data = toy_data()
    short, long_ = toy_config(n_acquired=2), toy_config(n_acquired=6)
    reference = run(long_, "deimos", tmp_path / "ref", data=data)
    first = run(short, "deimos", tmp_path / "x", data=data)
    assert len(first) == 2

    def no_training(*a, **k):
        raise AssertionError("a completed run must not train")

    monkeypatch.setattr(loop, "train_model", no_training)
    same_rows(run(short, "deimos", tmp_path / "x", data=data), first)
    monkeypatch.undo()
    extended = run(long_, "deimos", tmp_path / "x", data=data)  # redoes row 1, with its picks
    same_rows(extended, reference)
    monkeypatch.setattr(loop, "train_model", no_training)
    shorter = run(short, "deimos", tmp_path / "x", data=data)  # the longer table stays on disk
    same_rows(shorter, reference.iloc[:2])
    assert len(store.read_table(loop.run_results_path(short, "deimos", 0, tmp_path / "x"))) == 4


def test_resume_with_another_config_is_refused(tmp_path):
    data = toy_data()
    run(toy_config(n_acquired=2), "random", tmp_path, data=data)
    with pytest.raises(ValueError, match="n_candidates"):
        run(toy_config(n_acquired=2, n_candidates=25), "random", tmp_path, data=data)
    # a tag puts the variant in its own folder
    df = run(toy_config(n_acquired=2, n_candidates=25, tag="c25"), "random", tmp_path, data=data)
    assert (df["tag"] == "c25").all()
    assert (tmp_path / "toy" / "test-c25" / "random__seed0.csv").exists()


# ------------------------------------------------------------------------------------ early failures

@pytest.fixture
def no_training(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("training started before the configuration was checked")
    monkeypatch.setattr(loop, "train_model", fail)


@pytest.mark.parametrize(
    "change, method, words",
    [
        (dict(), "best_method", ["best_method", "valid methods", "deimos", "kcenter"]),
        (dict(), "max_variance", ["max_variance", "classification"]),
        (dict(n_initial=2), "random", ["n_initial", "3"]),
        (dict(n_acquired=150, batch_size=2), "random", ["n_acquired", "pool holds 160"]),
        (dict(task="regression", methods=("random",)), "random", ["task"]),
        (dict(model="mnist_cnn"), "random", ["mnist_cnn"]),
    ],
)
def test_bad_runs_fail_before_training(tmp_path, no_training, change, method, words):
    cfg = toy_config(**change)
    with pytest.raises(ValueError) as err:
        run(cfg, method, tmp_path, data=toy_data())
    for w in words:
        assert w in str(err.value)
    assert not (tmp_path / "toy").exists()


def test_more_initial_points_than_a_class_has(tmp_path, no_training):
    data = toy_data()
    y = data.y_pool.clone()
    rare = torch.nonzero(y == 2).flatten()
    y[rare[4:]] = 0  # class 2 keeps 4 pool points
    data = ALData(data.x_pool, y, data.x_test, data.y_test, "classification", 3, pool_ids=data.pool_ids)
    with pytest.raises(ValueError) as err:
        run(toy_config(n_initial=15, n_acquired=2), "random", tmp_path, data=data)
    assert "n_initial" in str(err.value) and "class 2 has 4" in str(err.value)


def test_batch_larger_than_candidates_is_a_config_error():
    with pytest.raises(ValueError, match="batch_size"):
        toy_config(batch_size=25, n_acquired=25, n_candidates=20)


def test_run_all_checks_every_method_first(tmp_path, no_training):
    with pytest.raises(ValueError, match="max_entropy"):
        loop.run_all(toy_config(task="regression", methods=("random", "max_entropy")),
                     data=toy_data("regression"), results_dir=tmp_path, progress=False)


def test_run_all_and_load_results(tmp_path):
    cfg = toy_config(n_acquired=2, n_repeats=2)
    df = loop.run_all(cfg, data=toy_data(), results_dir=tmp_path, progress=False, device="cpu")
    assert len(df) == 2 * 2 * 2
    loaded = loop.load_results("toy", tmp_path)
    assert len(loaded) == 8 and set(loaded["method"]) == {"deimos", "random"}
    assert set(loaded["seed"]) == {0, 1}
    a = loaded[(loaded.method == "random") & (loaded.seed == 1)]
    b = df[(df.method == "random") & (df.seed == 1)]
    same_rows(a, b)


def test_load_data_custom_needs_data():
    with pytest.raises(ValueError, match="data=ALData"):
        loop.load_data(toy_config())


# ------------------------------------------------------------------------------------ models, training

from deimos_utils.experiment import models as M  # noqa: E402
from deimos_utils.uncertainty.mc_dropout import FixedMaskDropout, embed  # noqa: E402
from deimos_utils.experiment.training import evaluate, n_train_steps  # noqa: E402


def call_order(model, x):
    """Leaf modules in the order the forward pass calls them."""
    order = []
    hooks = [m.register_forward_pre_hook(lambda mod, args: order.append(mod))
             for m in model.modules() if not list(m.children())]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return order


@pytest.mark.parametrize(
    "make, x, out_shape, first_linear_exempt",
    [
        (lambda: M.MnistCNN(3), torch.rand(4, 1, 28, 28), (4, 3), False),
        (lambda: M.MLP(5, hidden=(8, 8), p=0.2), torch.rand(4, 5), (4,), True),
        (lambda: M.SpliceCNN(), torch.rand(4, 4, 101), (4,), False),
        (lambda: M.FaceCNN(resolution=16), torch.rand(4, 3, 16, 16), (4,), False),
    ],
)
def test_models_put_dropout_before_every_dense_layer(make, x, out_shape, first_linear_exempt):
    torch.manual_seed(0)
    model = make().eval()
    assert tuple(model(x).shape) == out_shape
    order = call_order(model, x)
    linears = [i for i, m in enumerate(order) if isinstance(m, torch.nn.Linear)]
    checked = linears[1:] if first_linear_exempt else linears
    assert checked and all(isinstance(order[i - 1], FixedMaskDropout) for i in checked)
    assert model.embedding_layer is order[linears[-1]]  # the output layer
    assert model.dense_layers == [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    emb = embed(model, x, model.embedding_layer)
    assert emb.shape == (4, model.embedding_layer.in_features)
    preds = mc_predict(model, x, n_masks=5)
    assert preds.shape == ((4, 3, 5) if out_shape == (4, 3) else (4, 5))


def test_splice_cnn_accepts_sequences_last():
    torch.manual_seed(0)
    model = M.SpliceCNN().eval()
    x = torch.rand(3, 4, 101)
    torch.testing.assert_close(model(x), model(x.transpose(1, 2)))


def test_build_model_errors_name_the_model():
    cfg = toy_config(model="face_cnn")
    with pytest.raises(ValueError, match="face_cnn"):
        M.build_model(cfg, (4,), 3)
    assert isinstance(M.build_model(toy_config(model="mnist_cnn"), (1, 28, 28), 2), M.MnistCNN)


def test_n_train_steps():
    assert n_train_steps(10, steps=5, epochs=0, batch_size=4) == 5
    assert n_train_steps(10, steps=5, epochs=3, batch_size=4) == 9  # 3 * ceil(10 / 4)
    assert n_train_steps(100, steps=200, epochs=1, batch_size=32) == 200
    with pytest.raises(ValueError, match="steps > 0 or epochs > 0"):
        n_train_steps(10, 0, 0, 4)


def reference_train(model, x, y, steps, bs, lr, wd, seed, optimizer="adam"):
    """Literal loop: epochs of random permutations cut into full batches; CE + wd * sum W^2
    over the Linear layers only; Keras' default Adam / RMSprop settings."""
    gen = torch.Generator().manual_seed(derive_seed(seed, "minibatches"))
    torch.manual_seed(derive_seed(seed, "train-dropout"))
    if optimizer == "adam":
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=(0.9, 0.999), eps=1e-7)
    else:
        opt = torch.optim.RMSprop(model.parameters(), lr=lr, alpha=0.9, eps=1e-7)
    batches = []
    while len(batches) < steps:
        perm = torch.randperm(len(y), generator=gen)
        batches += [perm[k:k + bs] for k in range(0, len(y) - bs + 1, bs)]
    model.train()
    for idx in batches[:steps]:
        loss = torch.nn.functional.cross_entropy(model(x[idx]), y[idx])
        for m in model.modules():
            if isinstance(m, torch.nn.Linear):
                loss = loss + wd * (m.weight ** 2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop"])
def test_train_model_matches_literal_loop(optimizer):
    x = torch.rand(10, 1, 12, 12)
    y = torch.arange(10) % 2
    torch.manual_seed(1)
    a = M.MnistCNN(2, image_size=12, dense_units=16)
    b = M.MnistCNN(2, image_size=12, dense_units=16)
    b.load_state_dict(a.state_dict())
    train_model(a, x, y, task="classification", steps=7, batch_size=4, lr=1e-2, weight_decay=0.3, seed=5,
                optimizer=optimizer)
    reference_train(b, x, y, steps=7, bs=4, lr=1e-2, wd=0.3, seed=5, optimizer=optimizer)
    for (name, pa), pb in zip(a.named_parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, rtol=1e-5, atol=1e-6, msg=name)
    assert not a.training


def test_evaluate_literal():
    class Const(torch.nn.Module):
        def __init__(self, out):
            super().__init__()
            self.out = torch.nn.Parameter(torch.as_tensor(out, dtype=torch.float32))

        def forward(self, x):
            return self.out.expand(x.shape[0], *self.out.shape)

    x = torch.zeros(4, 2)
    logits = [0.0, np.log(3.0)]  # p = (0.25, 0.75)
    m = evaluate(Const(logits), x, torch.tensor([1, 1, 0, 1]), "classification")
    assert m["test_accuracy"] == 0.75
    assert m["test_nll"] == pytest.approx(-(3 * np.log(0.75) + np.log(0.25)) / 4)
    r = evaluate(Const(0.5), x, torch.tensor([10.0, 12.0, 8.0, 11.0]), "regression", y_mean=10.0, y_std=2.0)
    # prediction 0.5 * 2 + 10 = 11
    assert r["test_mse"] == pytest.approx((1 + 1 + 9 + 0) / 4) and r["test_rmse"] == pytest.approx(np.sqrt(11 / 4))


# ------------------------------------------------------------------------------------ nothing silent

def test_a_copied_row_is_refused_on_resume(tmp_path):
    cfg, data = toy_config(n_acquired=4), toy_data()
    run(cfg, "random", tmp_path, data=data)
    path = loop.run_results_path(cfg, "random", 0, tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines) + lines[-1])
    for extended in (cfg, toy_config(n_acquired=6)):
        with pytest.raises(ValueError, match=r"random__seed0.csv, line 5: .*repeated iteration"):
            run(extended, "random", tmp_path, data=data)
    with pytest.raises(ValueError, match="repeated iteration"):
        loop.load_results("toy", tmp_path)


def test_a_table_without_its_sidecar_is_not_continued(tmp_path):
    data = toy_data()
    run(toy_config(n_acquired=2), "random", tmp_path, data=data)
    path = loop.run_results_path(toy_config(), "random", 0, tmp_path)
    path.with_suffix(".json").unlink()
    rows = path.read_bytes()
    with pytest.raises(ValueError, match="random__seed0.json is missing"):
        run(toy_config(n_acquired=4, n_candidates=25), "random", tmp_path, data=data)
    assert path.read_bytes() == rows and not path.with_suffix(".json").exists()
    # the lock was released with the error: the same thread can start the run again
    path.unlink()
    assert len(run(toy_config(n_acquired=2, n_candidates=25), "random", tmp_path, data=data)) == 2


def test_regression_without_dropout_warns(tmp_path):
    from deimos_utils._checks import NoVarianceWarning

    cfg = toy_config(task="regression", methods=("deimos",), dropout=0.0, n_acquired=2,
                     noise_fraction=0.1)
    with pytest.warns(NoVarianceWarning, match="p = 0"):
        run(cfg, "deimos", tmp_path, data=toy_data("regression"))


def test_run_all_without_training_reads_what_the_tables_hold(tmp_path, monkeypatch):
    cfg = toy_config(n_acquired=4, n_repeats=2)
    data = toy_data()
    full = loop.run_all(cfg, data=data, results_dir=tmp_path, progress=False, device="cpu")
    # a grid another process is writing: its lock is held, one table is cut mid-run
    # (a partial last line), one run has not started
    cut = loop.run_results_path(cfg, "random", 1, tmp_path)
    text = cut.read_text().splitlines(keepends=True)
    cut.write_text("".join(text[:3]) + text[3][:10])
    for suffix in (".csv", ".json"):
        loop.run_results_path(cfg, "deimos", 1, tmp_path).with_suffix(suffix).unlink()
    monkeypatch.setattr(loop, "train_model", lambda *a, **k: pytest.fail("train=False trained"))
    held, done = threading.Event(), threading.Event()

    def writer():  # another writer holds the cut table's lock (a second writer would be refused)
        with store.RunLock(cut):
            held.set()
            done.wait(60)
    other = threading.Thread(target=writer)
    other.start()
    try:
        assert held.wait(10)
        with pytest.raises(store.RunLockedError):
            loop.run_experiment(cfg, "random", 1, data=data, results_dir=tmp_path, progress=False, device="cpu")
        with pytest.warns(UserWarning, match=r"2 of 4 runs .*deimos seed 1 \(0 of 3 rows\); "
                                             r"random seed 1 \(2 of 3 rows\)"):
            read = loop.run_all(cfg, data=data, results_dir=tmp_path, progress=False, device="cpu", train=False)
    finally:
        done.set()
        other.join()
    key = ["method", "seed", "iteration"]
    expected = full[~((full.method == "deimos") & (full.seed == 1)) & ~((full.method == "random") & (full.seed == 1)
                                                                       & (full.iteration == 2))]
    same_rows(read.sort_values(key).reset_index(drop=True), expected.sort_values(key).reset_index(drop=True))


def test_reading_a_run_checks_its_configuration(tmp_path):
    cfg = toy_config(n_acquired=2)
    with pytest.raises(FileNotFoundError, match=r"no rows under .*toy.test to read .*cli toy --preset test"):
        loop.run_all(cfg, data=toy_data(), results_dir=tmp_path, progress=False, device="cpu", train=False)
    loop.run_all(cfg, data=toy_data(), results_dir=tmp_path, progress=False, device="cpu")
    with pytest.raises(ValueError, match="another configuration.*dropout"):
        loop.run_all(cfg.replace(dropout=0.3), data=toy_data(), results_dir=tmp_path, progress=False,
                     device="cpu", train=False)

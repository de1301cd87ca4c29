"""Tests of deimos_utils.toy.teaching: the interactive DEIMOS view, driven without a browser.

Every acquisition the view shows is checked against the literal Algorithm 1 on the dense V
(greedy_batch_dense) built from the same predictions. Models are tiny (a few tenths of a second
to train); the Fig 1 agreement test uses Fig 1's architecture for a few steps only.

Not asserted: that "label the batch and retrain" lowers the EI near the new labels. A network
retrained from scratch is not the Bayesian update DEIMOS assumes, and MC dropout with a fixed p
does not reliably shrink its variance where labels were added. Measured with the same initial
weights before and after: tiny networks [32, 32], 10 seeds, 4 labels each: the model's error at
the new labels fell in all 10, its dropout variance there in 5; the Fig 1 network at the quick
preset (800 steps; grids of 201 and 401 points), 6 seeds, 5 labels each: the mean EI within 0.5
of the labels fell in 4, and that EI relative to the mean EI in 5 (notebook 08, seed 5, is the
one where it rose).
"""
from __future__ import annotations

import time
import types

import matplotlib

matplotlib.use("Agg")
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from deimos_utils.toy import synthetic_1d as synthetic, teaching  # noqa: E402
from deimos_utils.acquisition import greedy_batch_dense, predictive_covariance  # noqa: E402
from deimos_utils.uncertainty.mc_dropout import dropout_layers  # noqa: E402

TINY = dict(train_steps=150, n_grid=81, hidden=(32, 32), device="cpu")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny networks train several times faster on one thread (no thread hand-offs)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_demo(seed=0, controls=None, max_masks=60, render=False, **kwargs):
    session = teaching.TeachingSession(seed, max_masks=max_masks, **{**TINY, **kwargs})
    session.retrain()
    return teaching.InteractiveDemo(session, controls, clicks=False, render=render)


@pytest.fixture(scope="module")
def demo():
    """A shared demo for the tests that only move the cheap controls (no labelling)."""
    return make_demo(seed=1)


def dense_batch(state, b=None):
    """The literal Algorithm 1 on the dense V of the state's sample: (grid indices, gains)."""
    sample = state["sample"]
    V = predictive_covariance(state["preds"][sample], noise=state["noise"])
    picked, gains = greedy_batch_dense(V, b or state["controls"]["batch_size"])
    return sample[picked], gains


# ------------------------------------------------------------------------------ the batch

def test_b1_picks_the_ei_argmax(demo):
    state = demo.update(batch_size=1, sample_fraction=1.0)
    ei = state["ei"]
    assert len(state["picked"]) == 1
    assert state["picked_index"][0] == np.nanargmax(ei)
    assert state["picked"][0] == state["grid"][np.nanargmax(ei)]
    assert state["gains"][0] == pytest.approx(np.nanmax(ei), rel=1e-10)


def test_first_pick_of_b5_is_the_b1_pick_and_the_batch_is_algorithm_1(demo):
    one = demo.update(batch_size=1)["picked"].copy()
    state = demo.update(batch_size=5)
    assert len(state["picked"]) == 5 and state["picked"][0] == one[0]
    index, gains = dense_batch(state)
    np.testing.assert_array_equal(state["picked_index"], index)
    np.testing.assert_allclose(state["gains"], gains, rtol=1e-8)
    assert np.all(np.diff(state["gains"]) <= 1e-12)  # greedy gains never grow


def test_ei_is_the_dense_formula(demo):
    """EI(n) = ||V[:, n]||^2 / V[n, n] on the dense V (METHOD.md, eq. 5)."""
    state = demo.update(n_masks=23, noise_fraction=0.4)
    V = predictive_covariance(state["preds"], noise=state["noise"])
    np.testing.assert_allclose(state["ei"], (V ** 2).sum(axis=0) / np.diag(V), rtol=1e-8)
    assert state["preds"].shape == (TINY["n_grid"], 23)


def test_larger_noise_makes_each_observation_less_informative(demo):
    """With V = C + s I (C the dropout covariance, s = tau^-1),

        EI(n) = ||V[:, n]||^2 / V_nn = sum_{i != n} C_in^2 / (C_nn + s) + (C_nn + s):

    the candidate's own row leaves V once its noisy value is known (C_nn + s), and what it
    tells about every other point shrinks as s grows. So the EI minus the own term falls with
    s, at every candidate, and the greedy gains stay those of Algorithm 1 on the new V."""
    small = demo.update(noise_fraction=0.1, batch_size=5, n_masks=50)
    small = {k: np.copy(small[k]) for k in ("ei", "var", "noise", "preds")}
    large = demo.update(noise_fraction=3.0)
    assert large["noise"] == pytest.approx(30 * small["noise"])
    np.testing.assert_array_equal(large["preds"], small["preds"])  # the model is kept
    others_small = small["ei"] - (small["var"] + small["noise"])
    others_large = large["ei"] - (large["var"] + large["noise"])
    C = predictive_covariance(large["preds"])
    literal = ((C ** 2).sum(axis=0) - np.diag(C) ** 2) / (np.diag(C) + large["noise"])
    np.testing.assert_allclose(others_large, literal, rtol=1e-6, atol=1e-12)
    assert np.all(others_large < others_small)
    index, gains = dense_batch(large)
    np.testing.assert_array_equal(large["picked_index"], index)
    np.testing.assert_allclose(large["gains"], gains, rtol=1e-8)


def test_a_random_part_of_the_grid_as_representative_sample(demo):
    state = demo.update(sample_fraction=0.4, batch_size=4)
    sample, n_grid = state["sample"], TINY["n_grid"]
    assert len(sample) == round(0.4 * n_grid) and np.all(np.diff(sample) > 0)
    assert np.all(np.isnan(np.delete(state["ei"], sample)))
    assert not np.any(np.isnan(state["ei"][sample]))
    assert set(state["picked_index"]) <= set(sample)
    index, gains = dense_batch(state)
    np.testing.assert_array_equal(state["picked_index"], index)
    np.testing.assert_allclose(state["gains"], gains, rtol=1e-8)
    # the same fraction gives the same sample; the whole grid at fraction 1
    np.testing.assert_array_equal(demo.session.sample_indices(0.4), sample)
    np.testing.assert_array_equal(demo.session.sample_indices(1.0), np.arange(n_grid))
    assert len(demo.session.sample_indices(0.05)) == teaching.MAX_BATCH  # never below b's max


def test_baselines_pick_the_top_variance_and_distinct_random_points(demo):
    state = demo.update(sample_fraction=0.5, batch_size=6, show_baselines=True)
    sample = state["sample"]
    top = sample[np.argsort(-state["var"][sample], kind="stable")[:6]]
    np.testing.assert_array_equal(np.sort(state["max_variance"]), np.sort(state["grid"][top]))
    assert len(set(state["random"])) == 6 and set(state["random"]) <= set(state["grid"][sample])
    demo.draw()
    labels = {t.get_text() for t in demo.figure.legends[0].get_texts()}
    assert {"Max. variance", "Random"} <= labels
    demo.update(show_baselines=False)
    demo.draw()
    labels = {t.get_text() for t in demo.figure.legends[0].get_texts()}
    assert not {"Max. variance", "Random"} & labels


# -------------------------------------------------------------------- predictions and masks

def test_sliced_predictions_are_mc_predict_with_j_masks(demo):
    s = demo.session
    for J in (2, 7, 50):
        grid_preds, val_preds = s.predictions(J)
        assert teaching._masks_are_prefixes(s.model, J, s.max_masks, s.seed)
        direct = synthetic.mc_grid(s.model, s.grid, J, s.seed)
        np.testing.assert_allclose(grid_preds, direct, rtol=1e-5, atol=1e-6)
        direct_val = synthetic.mc_grid(s.reference, s.data.x_val, J, s.seed)
        np.testing.assert_allclose(val_preds, direct_val, rtol=1e-5, atol=1e-6)


def test_unnested_masks_fall_back_to_mc_predict(monkeypatch):
    session = teaching.TeachingSession(2, max_masks=20, **TINY)
    session.retrain()
    monkeypatch.setattr(teaching, "_masks_are_prefixes", lambda *a: False)
    grid_preds, _ = session.predictions(9)
    np.testing.assert_array_equal(grid_preds, synthetic.mc_grid(session.model, session.grid, 9, 2))


def test_fig1_settings_reproduce_synthetic_run():
    """The Fig 1 architecture, seeds and tau^-1 rule: the demo's first state is the left panel
    of synthetic.run (a few training steps, a coarse grid, to stay fast)."""
    settings = dict(train_steps=15, n_grid=41)
    run = synthetic.run(seed=5, batch_size=5, n_masks=50, noise_fraction=0.15, **settings)
    session = teaching.TeachingSession(5, data_seed=5, device="cpu", **settings)
    session.retrain()
    state = session.acquire({"n_masks": 50, "noise_fraction": 0.15, "batch_size": 5})
    assert state["noise"] == pytest.approx(run["noise"], rel=1e-5)
    np.testing.assert_allclose(state["ei"], run["ei"], rtol=1e-4)
    np.testing.assert_array_equal(state["picked_index"], run["picked"])
    np.testing.assert_allclose(state["gains"], run["gains"], rtol=1e-4)


def test_fit_model_is_fit_mlp_and_reports_every_step():
    data = synthetic.make_data(5)
    calls = []
    ours = teaching.fit_model(data.x_train, data.y_train, seed=3, steps=6, device="cpu",
                              on_step=lambda done, total: calls.append((done, total)))
    ref = synthetic.fit_mlp(data.x_train, data.y_train, seed=3, steps=6, device="cpu")
    for (name, a), (_, b) in zip(ours.state_dict().items(), ref.state_dict().items()):
        assert torch.equal(a, b), name
    assert calls == [(k, 6) for k in range(1, 7)]


# --------------------------------------------------------------------- labelling and clicks

def test_label_batch_grows_the_training_set_by_b_and_retrains():
    demo = make_demo(seed=3, controls={"batch_size": 4})
    before = demo.state
    assert before["ei_previous"] is None and len(before["last_labelled"]) == 0
    x_new = demo.label_batch()
    after = demo.state
    np.testing.assert_array_equal(x_new, before["picked"])
    assert len(after["x_train"]) == len(before["x_train"]) + 4 and after["n_labelled"] == 4
    np.testing.assert_array_equal(after["x_train"][-4:], x_new)
    np.testing.assert_array_equal(after["last_labelled"], x_new)
    f = demo.session.data.f
    assert np.all(np.abs(after["y_train"][-4:] - f(x_new)) < 5 * demo.session.data.noise_sd)
    # retrained from scratch on the new set; tau^-1 keeps the reference model's variance; the
    # model before the labels is kept for the comparison
    assert demo.session.n_fits == 2 and demo.session.reference is not demo.session.model
    assert after["mean_dropout_variance"] == before["mean_dropout_variance"]
    assert not np.array_equal(after["preds"], before["preds"])
    np.testing.assert_allclose(after["ei_previous"], before["ei"], rtol=1e-12)
    # the new model has learnt the new labels (10 of 10 seeds in our runs); its dropout
    # variance there need not fall (5 of 10), see the module docstring
    y_new, idx = after["y_train"][-4:], before["picked_index"]
    assert np.abs(after["mean"][idx] - y_new).mean() < np.abs(before["mean"][idx] - y_new).mean()
    assert "points labelled last" in demo._summary.value


def test_ei_near_is_the_literal_mean():
    grid = np.linspace(-1, 1, 21)
    ei = np.arange(21.0)
    ei[3] = np.nan
    mean, rel = teaching.ei_near(ei, grid, [-0.8, 0.5], width=0.15)
    literal = [ei[i] for i in range(21)
               if i != 3 and (abs(grid[i] + 0.8) <= 0.15 or abs(grid[i] - 0.5) <= 0.15)]
    assert mean == pytest.approx(np.mean(literal)) and rel == pytest.approx(mean / np.nanmean(ei))
    with pytest.raises(ValueError, match="within"):
        teaching.ei_near(ei, grid, [5.0])


def test_a_click_adds_a_labelled_point_there():
    demo = make_demo(seed=4, render=True)
    n = len(demo.state["x_train"])
    ax, ax_ei = demo._axes
    demo._on_click(types.SimpleNamespace(inaxes=None, xdata=None, button=1))  # outside the plot
    demo._on_click(types.SimpleNamespace(inaxes=ax_ei, xdata=1.5, button=3))  # right button
    assert len(demo.state["x_train"]) == n
    demo._on_click(types.SimpleNamespace(inaxes=ax_ei, xdata=1.2345, button=1))
    assert len(demo.state["x_train"]) == n + 1 and demo.state["x_train"][-1] == 1.2345
    assert demo.state["n_labelled"] == 1 and demo._x_box.value == 1.23
    y = demo.add_point(-7.5)
    assert demo.state["x_train"][-1] == -7.5 and demo.state["y_train"][-1] == y
    with pytest.raises(ValueError, match="x must be finite inputs in"):
        demo.add_point(11.0)


# ------------------------------------------------------------------------- widget and controls

def test_moving_a_control_is_update(demo):
    demo.inputs["batch_size"].value = 3
    assert demo.controls["batch_size"] == 3 and len(demo.state["picked"]) == 3
    moved = demo.state["picked_index"].copy()
    state = demo.update(batch_size=7)
    assert demo.inputs["batch_size"].value == 7
    state = demo.update(batch_size=3)
    np.testing.assert_array_equal(state["picked_index"], moved)
    demo.inputs["show_baselines"].value = True
    assert demo.state["controls"]["show_baselines"] is True
    png = bytes(demo._plot_view.value)
    demo.update(batch_size=4)
    assert bytes(demo._plot_view.value) == png  # render=False: updates leave the plot alone
    demo.draw()
    assert demo.widget.children and demo._plot_view.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert bytes(demo._plot_view.value) != png


def test_bad_controls_are_refused_with_their_name(demo):
    before = demo.state
    with pytest.raises(ValueError, match="valid names: batch_size"):
        demo.update(bogus=1)
    for name, bad in (("batch_size", 11), ("batch_size", 2.5), ("n_masks", 1),
                      ("noise_fraction", -0.1), ("sample_fraction", 1.5), ("show_baselines", 1)):
        with pytest.raises(ValueError, match=name):
            demo.update(**{name: bad})
    with pytest.raises(ValueError, match="at most 60"):
        demo.update(n_masks=61)
    demo._guarded(demo.update, batch_size=0)  # what a widget callback does with a bad value
    assert "batch_size" in demo._status.value and demo.state is before
    with pytest.raises(ValueError, match="scale must be one of quick, cpu, paper"):
        teaching.interactive_demo(scale="huge")


def test_dropout_retrains_with_a_progress_bar():
    demo = make_demo(seed=5)
    var_before = demo.state["mean_dropout_variance"]
    state = demo.update(dropout=0.4)
    assert demo.session.n_fits == 2
    assert all(layer.p == 0.4 for layer in dropout_layers(demo.session.model))
    assert demo._progress.value == demo._progress.max == TINY["train_steps"]
    assert demo.session.reference is demo.session.model  # a new p: a new tau^-1 reference
    assert state["mean_dropout_variance"] != var_before
    assert state["controls"]["dropout"] == 0.4 and demo.inputs["dropout"].value == 0.4


def test_presets_and_backend_fallback():
    assert tuple(teaching.PRESETS) == ("quick", "cpu", "paper")
    # Fig 1's generated-data settings (notebook 01's cpu and paper presets read the authors' data)
    for key in ("train_steps", "n_grid", "n_masks"):
        assert teaching.PRESETS["cpu"][key] == synthetic.PRESETS["quick"][key]
    assert teaching.PRESETS["paper"] == synthetic.PRESETS["paper"]["fallback"]
    session = teaching.TeachingSession(0, max_masks=10, **TINY)
    session.retrain()
    with pytest.warns(UserWarning, match="ipympl"):
        demo = teaching.InteractiveDemo(session, {"n_masks": 10}, clicks=True)
    assert demo.clickable is False
    for scale in ("cpu", "paper"):  # the grid and J of each preset (tiny training)
        demo = teaching.interactive_demo(scale=scale, train_steps=3, hidden=(8,), device="cpu",
                                         clicks=False, progress=False)
        assert len(demo.state["grid"]) == teaching.PRESETS[scale]["n_grid"]
        assert demo.state["preds"].shape[1] == teaching.PRESETS[scale]["n_masks"]


def test_update_time_is_measured(demo):
    """The cost of moving a cheap control, measured and printed (not asserted: CI machines
    vary; benchmarks/bench_teaching.py measures the presets)."""
    demo.render = True
    try:
        t0 = time.perf_counter()
        state = demo.update(noise_fraction=0.7)
        wall = time.perf_counter() - t0
    finally:
        demo.render = False
    seconds = state["seconds"]
    assert seconds["total"] == pytest.approx(seconds["acquire"] + seconds["draw"])
    assert 0 < seconds["total"] <= wall
    print(f"update: {wall:.3f} s (acquisition {seconds['acquire']:.3f} s, "
          f"drawing {seconds['draw']:.3f} s)")

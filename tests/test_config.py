"""Experiment configurations: the paper's numbers, presets, and validation messages."""
import dataclasses

import pytest

from deimos_utils.experiment.config import (
    EXPERIMENTS,
    PRESETS,
    ExperimentConfig,
    field_provenance,
    get_config,
    list_experiments,
)
from deimos_utils.experiment.models import build_model

# METHOD.md's experiment table and Appendix D, written out literally.
PAPER = {
    "mnist_7v9_b1": dict(task="classification", classes=(7, 9), n_initial=10, n_acquired=200,
                         batch_size=1, n_candidates=2500, n_validation=10, n_repeats=3,
                         methods=("deimos", "bald", "max_entropy", "random", "kcenter")),
    "mnist_7v9_b25": dict(task="classification", classes=(7, 9), n_initial=10, n_acquired=1000,
                          batch_size=25, n_candidates=2500, n_validation=10, n_repeats=3,
                          methods=("deimos", "batchbald", "max_entropy", "random", "kcenter")),
    "mnist_0to9_b25": dict(task="classification", classes=None, n_initial=30, n_acquired=500,
                           batch_size=25, n_candidates=2000, n_validation=30, n_repeats=3,
                           methods=("deimos", "batchbald", "max_entropy", "random")),
    # the authors' published 0-9 arrays (batches of 100), a second experiment
    "mnist_0to9_b100": dict(task="classification", classes=None, n_initial=30, n_acquired=1000,
                            batch_size=100, n_candidates=2000, n_validation=30, n_repeats=3,
                            methods=("deimos", "batchbald", "max_entropy", "random", "kcenter")),
    "splicing": dict(task="regression", n_initial=75, n_acquired=600, batch_size=1,
                     n_candidates=5000, n_validation=50, n_repeats=3, test_fraction=0.1,
                     methods=("deimos", "max_variance", "random")),
    "utkface_b100": dict(task="regression", n_initial=150, n_acquired=2000, batch_size=100,
                         n_candidates=5000, n_validation=50, n_repeats=3, test_fraction=0.1,
                         resolution=200, methods=("deimos", "max_variance", "random")),
    "utkface_b200": dict(task="regression", n_initial=150, n_acquired=2000, batch_size=200,
                         n_candidates=5000, n_validation=50, n_repeats=3, test_fraction=0.1,
                         resolution=200, methods=("deimos", "max_variance", "random")),
}


# AUTHORS.md's table of what the authors' code ran, written out literally.
AUTHORS = {
    "mnist_7v9": dict(model="mnist_7v9_cnn", dropout=0.3, conv_dropout=0.3, dense_units=128,
                      weight_decay_c=0.0005, optimizer="adam", train_epochs=300, noise=8.37e-5,
                      test_mc_passes=100, initial_set="authors", input_scale=255.0,
                      smoothing="diagonal"),
    "mnist_0to9": dict(model="mnist_0to9_cnn", dropout=0.25, conv_dropout=0.25, dense_units=128,
                       weight_decay_c=0.01, optimizer="adam", train_epochs=300, noise=3e-5,
                       test_mc_passes=100, initial_set="authors", input_scale=255.0,
                       smoothing="diagonal"),
    "utkface": dict(model="utkface_cnn", dropout=0.5, conv_dropout=0.5, dense_units=150,
                    weight_decay_c=2.0, optimizer="adam", train_epochs=250, noise=5.5477,
                    test_mc_passes=300, standardize_y=False),
    "splicing": dict(model="splicing_cnn", dropout=0.15, conv_dropout=0.15, dense_units=50,
                     weight_decay_c=0.025, optimizer="rmsprop", train_epochs=300, noise=2.5e-4,
                     test_mc_passes=200, standardize_y=False),
}


def _authors_key(name):
    return next(k for k in AUTHORS if name.startswith(k))


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_preset_is_what_the_authors_ran(name):
    cfg = get_config(name, "paper")
    for field, value in AUTHORS[_authors_key(name)].items():
        assert getattr(cfg, field) == value, field
    assert cfg.train_batch_size == 128 and cfg.train_steps == 0 and cfg.learning_rate == 1e-3
    prov = field_provenance(cfg)
    assert prov["n_candidates"] == "paper" and prov["model"] == "authors' code"
    assert prov["predict_batch_size"] == "ours"


def test_every_preset_keeps_the_authors_model_and_protocol():
    for name in EXPERIMENTS:
        p = get_config(name, "paper")
        for preset in ("cpu", "quick"):
            c = get_config(name, preset)
            for field in ("model", "dropout", "conv_dropout", "weight_decay_c", "optimizer", "noise",
                          "initial_set", "smoothing", "input_scale", "standardize_y", "n_masks"):
                assert getattr(c, field) == getattr(p, field), (name, preset, field)
            assert c.test_mc_passes >= (20 if preset == "cpu" else 2)
    cpu = get_config("utkface_b100", "cpu")
    assert cpu.resolution == 64 and cpu.n_candidates >= 1000 and cpu.n_test >= 2000
    prov = field_provenance(cpu)
    assert prov["resolution"] == "ours (cpu preset)" and prov["noise"] == "authors' code"
    assert field_provenance(cpu.replace(n_masks=20))["n_masks"] == "ours (override)"


def test_every_experiment_has_every_preset():
    assert set(list_experiments()) == set(PAPER)
    for name in EXPERIMENTS:
        for preset in PRESETS:
            cfg = get_config(name, preset)
            assert cfg.experiment == name and cfg.preset == preset
            assert cfg.n_masks == 50 or preset != "paper"


@pytest.mark.parametrize("name", sorted(PAPER))
def test_paper_preset_has_the_papers_numbers(name):
    cfg = get_config(name, "paper")
    for field, value in PAPER[name].items():
        assert getattr(cfg, field) == value, field
    assert cfg.n_masks == 50
    assert cfg.n_test is None  # the whole test set
    assert cfg.balanced_initial


def test_models_fit_the_data_at_every_preset():
    shapes = {"mnist": (1, 28, 28), "splicing": (4, 101)}
    for name in EXPERIMENTS:
        for preset in PRESETS:
            cfg = get_config(name, preset)
            shape = shapes.get(cfg.dataset, (3, cfg.resolution, cfg.resolution))
            build_model(cfg, shape, 10 if cfg.task == "classification" else 1)


def test_quick_preset_is_small():
    for name in EXPERIMENTS:
        q, p = get_config(name, "quick"), get_config(name, "paper")
        assert q.n_iterations <= 4
        assert q.n_candidates <= 100 and q.n_candidates < p.n_candidates
        assert q.n_test is not None and q.n_test <= 200
        assert q.train_epochs <= 2 and q.train_steps <= 20
        assert q.n_repeats == 1 and q.test_mc_passes <= 5


def test_cpu_preset_runs_every_method_three_times_to_the_papers_horizon():
    for name in EXPERIMENTS:
        c, p = get_config(name, "cpu"), get_config(name, "paper")
        assert c.methods == p.methods and c.n_repeats == 3
        assert (c.n_acquired, c.batch_size, c.n_initial) == (p.n_acquired, p.batch_size, p.n_initial)


def test_overrides_and_coercion():
    cfg = get_config("mnist_7v9_b25", "quick", methods=["deimos", "random"], n_candidates=60, tag="s60")
    assert cfg.methods == ("deimos", "random") and cfg.n_candidates == 60
    assert cfg.run_name == "quick-s60"
    assert cfg.n_iterations == cfg.n_acquired // cfg.batch_size
    again = cfg.replace(n_candidates=70)
    assert again.n_candidates == 70 and cfg.n_candidates == 60
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.n_candidates = 3
    d = cfg.to_dict()
    assert d["methods"] == ["deimos", "random"] and d["classes"] == [7, 9]


@pytest.mark.parametrize(
    "overrides, words",
    [
        (dict(n_candidats=5), ["n_candidats", "valid fields", "n_candidates"]),
        (dict(methods=("deimos", "nope")), ["methods", "nope", "batchbald", "kcenter"]),
        (dict(methods=("max_variance",)), ["methods", "max_variance", "classification"]),
        (dict(batch_size=60, n_acquired=60), ["batch_size", "larger", "n_candidates"]),
        (dict(n_acquired=7), ["n_acquired", "multiple", "batch_size"]),
        (dict(dropout=1.0), ["dropout"]),
        (dict(n_masks=1), ["n_masks"]),
        (dict(n_validation=1), ["n_validation"]),
        (dict(model="resnet"), ["model", "resnet", "mnist_7v9_cnn"]),
        (dict(optimizer="sgd"), ["optimizer", "rmsprop"]),
        (dict(smoothing="full"), ["smoothing", "diagonal", "block"]),
        (dict(initial_set="paper"), ["initial_set", "authors"]),
        (dict(noise=-1.0), ["noise", "noise_fraction"]),
        (dict(test_mc_passes=1), ["test_mc_passes"]),
        (dict(n_repeats=4), ["n_repeats", "authors"]),
        (dict(input_scale=0), ["input_scale"]),
        (dict(train_steps=0, train_epochs=0), ["train_steps"]),
        (dict(noise_fraction=-1.0), ["noise_fraction"]),
        (dict(tag="a/b"), ["tag"]),
        (dict(experiment="x"), ["experiment"]),
    ],
)
def test_bad_values_name_the_field(overrides, words):
    with pytest.raises(ValueError) as err:
        get_config("mnist_7v9_b25", "quick", **overrides)
    for w in words:
        assert w in str(err.value)


def test_unknown_experiment_and_preset_list_the_valid_ones():
    with pytest.raises(ValueError, match="mnist_7v9_b1"):
        get_config("mnist", "quick")
    with pytest.raises(ValueError, match="paper"):
        get_config("mnist_7v9_b1", "gpu")


def test_direct_construction_is_validated():
    base = dict(experiment="toy", dataset="custom", task="regression", methods=("deimos",),
                n_initial=5, n_acquired=4, batch_size=2, n_candidates=10, n_validation=3, model="mlp")
    assert ExperimentConfig(**base).task == "regression"
    with pytest.raises(ValueError, match="'task'"):
        ExperimentConfig(**dict(base, task="ranking"))
    with pytest.raises(ValueError, match="'dataset'"):
        ExperimentConfig(**dict(base, dataset="cifar"))
    with pytest.raises(ValueError, match="'task'"):
        ExperimentConfig(**dict(base, dataset="mnist"))  # MNIST is classification

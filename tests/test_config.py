"""Experiment configurations: the paper's numbers, presets, and validation messages."""
import dataclasses

import pytest

from deimos_utils.config import EXPERIMENTS, PRESETS, ExperimentConfig, get_config, list_experiments

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


def test_mnist_model_and_appendix_e_fractions():
    for name in ("mnist_7v9_b1", "mnist_7v9_b25", "mnist_0to9_b25"):
        cfg = get_config(name, "paper")
        assert cfg.model == "mnist_cnn" and cfg.dataset == "mnist"
        assert 0.001 <= cfg.noise_fraction <= 0.01
    for name in ("splicing", "utkface_b100", "utkface_b200"):
        assert 0.1 <= get_config(name, "paper").noise_fraction <= 0.2


def test_quick_preset_is_small():
    for name in EXPERIMENTS:
        q, p = get_config(name, "quick"), get_config(name, "paper")
        assert q.n_iterations <= 4
        assert q.n_candidates <= 100 and q.n_candidates < p.n_candidates
        assert q.n_test is not None and q.n_test <= 200
        assert q.train_epochs == 0 and q.train_steps <= 20
        assert q.n_repeats == 1


def test_cpu_preset_compares_every_method_once():
    cfg = get_config("mnist_7v9_b1", "cpu")
    assert cfg.methods == PAPER["mnist_7v9_b1"]["methods"]
    assert cfg.n_repeats == 1 and cfg.batch_size == 1
    assert 50 <= cfg.n_acquired <= 200


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
        (dict(model="resnet"), ["model", "resnet", "mnist_cnn"]),
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

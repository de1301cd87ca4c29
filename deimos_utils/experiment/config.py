"""Experiment configurations (one per experiment of section 5, three presets) and the data bundle.

>>> cfg = get_config("mnist_7v9_b1", "paper")          # the paper's numbers
>>> cfg = get_config("mnist_7v9_b1", "quick", n_acquired=5)   # CI size, one field changed

Presets
-------
``paper``  what the authors ran: every setting the paper states from the paper (METHOD.md,
           Appendix D), every setting it leaves open from the authors' code (AUTHORS.md): their
           architectures, dropout, L2 = c / N, optimizer, epochs, tau^-1, MC-averaged test
           metrics, raw inputs and targets, their MNIST initial sets. :data:`PROVENANCE` says
           which is which; :func:`field_provenance` does so for any configuration.
``cpu``    the paper preset with only these reduced, for a 2-core CPU: epochs
           (:data:`CPU_EPOCHS`), candidates per iteration (1,000), a fixed test subset
           (2,000 points), UTKFace resolution (64 px) and MC passes for the test metric (20).
``quick``  the same models and protocol at CI size (seconds per run).

The candidate count ``n_candidates`` is the number of unlabelled points scored per iteration.
DEIMOS draws its representative sample X_samp from the labelled set and the pool until it
holds that many unlabelled points (Appendix D); the labelled points drawn along count in its
trace. Fig 3f's sample sizes 500 / 2,500 / 5,000 are ``n_candidates`` overrides (give each a
``tag`` so their results do not share a folder).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._checks import TASKS
from ..acquisition.dense import DEFAULT_SMOOTHING, SMOOTHINGS
from .training import OPTIMIZERS

__all__ = [
    "ExperimentConfig",
    "EXPERIMENTS",
    "PRESETS",
    "DATASETS",
    "get_config",
    "field_provenance",
    "PROVENANCE",
    "list_experiments",
    "run_overrides",
]

PRESETS = ("quick", "cpu", "paper")
DATASETS = ("mnist", "splicing", "utkface", "custom")


# ------------------------------------------------------------------------------------ configuration

def _is_int(v) -> bool:
    return not isinstance(v, bool) and isinstance(v, (int, np.integer))


@dataclass(frozen=True)
class ExperimentConfig:
    """Every setting of one active-learning experiment. Validated on construction.

    Data: ``dataset`` ("mnist", "splicing", "utkface", or "custom" = data passed in),
    ``task``, ``classes`` (MNIST subset, e.g. (7, 9); None = all), ``resolution`` (UTKFace
    pixels), ``test_fraction`` (share of the data held out when the dataset has no official
    test split), ``n_test`` (evaluate on a fixed random subset of this many test points;
    None = the whole test set), ``data_seed`` (test split / subset: the same for every run).

    Active learning: ``methods`` (names in :data:`~deimos_utils.acquisition.registry.ACQUISITIONS`),
    ``n_repeats`` (seeds 0..n_repeats-1), ``n_initial`` (initial labelled set, class-balanced
    when ``balanced_initial``), ``n_acquired`` (points acquired in all, a multiple of
    ``batch_size``), ``batch_size`` (b), ``n_candidates`` (unlabelled points scored per
    iteration), ``n_validation`` (validation points drawn from the pool), ``n_masks`` (J).

    Model and training: ``model`` ("mnist_cnn", "mlp", "splice_cnn", "face_cnn"),
    ``dropout`` (p before the output layer; for "mlp" before every dense layer after the
    first), ``conv_dropout`` (p before the first dense layer of the CNNs), ``dense_units``,
    ``hidden`` (MLP), ``train_steps`` / ``train_epochs`` (steps = max(train_steps,
    train_epochs * ceil(N / train_batch_size))), ``train_batch_size``, ``learning_rate``,
    ``weight_decay_c`` (C of lambda = C / N), ``standardize_y`` (regression: train on
    targets standardised with the initial set's mean and sd).

    Appendix E: ``noise_fraction`` (tau^-1 = fraction * mean dropout variance, regression,
    0.1-0.2; tau_s^-1 = fraction * mean class dropout variance, classification, 0.001-0.01).
    None (default): Appendix E's default of the task,
    :data:`~deimos_utils.uncertainty.calibration.DEFAULT_NOISE_FRACTION` (one place for it;
    :attr:`fitted_noise_fraction` resolves it). Every preset fixes ``noise`` instead, which makes
    the fraction unused (a results sidecar then ignores it).
    ``noise``: a fixed tau^-1 / tau_s^-1 in the target's units squared (the authors' constants)
    that overrides ``noise_fraction``; with ``standardize_y`` it is divided by the initial
    set's target variance, so that the model is the same. ``smoothing``: where tau_s^-1 enters
    V in classification, ``"diagonal"`` (the whole diagonal, the authors' code) or ``"block"``
    (each inverted C x C block, the paper's text).

    The authors' protocol: ``optimizer`` ("adam", or "rmsprop" for splicing; Keras' default
    settings), ``test_mc_passes`` (test metrics of the mean of this many MC-dropout passes with
    dropout on; 0 = the deterministic network), ``initial_set`` ("random", or "authors": their
    published initial sets, MNIST only, seeds 0-2), ``input_scale`` (multiplies the loader's
    inputs: 255 gives MNIST's raw 0-255 pixels, as the authors' code used).

    Bookkeeping: ``experiment``, ``preset``, ``tag`` (appended to the preset in the results
    folder name, for variants), ``predict_batch_size`` (points per MC-dropout forward pass).
    """

    experiment: str
    dataset: str
    task: str
    methods: tuple
    n_initial: int
    n_acquired: int
    batch_size: int
    n_candidates: int
    n_validation: int
    model: str
    preset: str = "custom"
    tag: str = ""
    classes: tuple | None = None
    resolution: int = 64
    test_fraction: float = 0.1
    n_test: int | None = None
    data_seed: int = 0
    n_repeats: int = 3
    balanced_initial: bool = True
    n_masks: int = 50
    dropout: float = 0.5
    conv_dropout: float = 0.25
    dense_units: int = 128
    hidden: tuple = (256, 256, 256)
    train_steps: int = 0
    train_epochs: int = 50
    train_batch_size: int = 128
    learning_rate: float = 1e-3
    weight_decay_c: float = 3.5
    standardize_y: bool = True
    noise_fraction: float | None = None
    noise: float | None = None
    smoothing: str = DEFAULT_SMOOTHING
    optimizer: str = "adam"
    test_mc_passes: int = 0
    initial_set: str = "random"
    input_scale: float = 1.0
    predict_batch_size: int = 256

    # ---------------------------------------------------------------- validation
    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        for name in ("methods", "hidden"):
            value = getattr(self, name)
            if isinstance(value, str):
                value = (value,)
            set_(name, tuple(value))
        if self.classes is not None:
            set_("classes", tuple(int(c) for c in self.classes))
        self._validate()

    def fail(self, name: str, message: str):
        """Raise the ValueError of a bad value: it names field ``name`` and the experiment."""
        raise ValueError(f"config field {name!r} of experiment {self.experiment!r}: {message}")

    def _validate(self) -> None:
        """Every field checked, in this order: names, counts, values (the first bad one raises)."""
        self._validate_names()
        self._validate_counts()
        self._validate_values()
        self._validate_combinations()

    def _validate_names(self) -> None:
        from ..acquisition.registry import ACQUISITIONS
        from .models import MODELS

        if not isinstance(self.experiment, str) or not self.experiment:
            raise ValueError("config field 'experiment' must be a non-empty string")
        if self.dataset not in DATASETS:
            self.fail("dataset", f"unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}")
        if self.task not in TASKS:
            self.fail("task", f"must be one of {TASKS}, got {self.task!r}")
        if not self.methods:
            self.fail("methods", "name at least one acquisition method")
        for m in self.methods:
            if m not in ACQUISITIONS:
                self.fail("methods", f"unknown method {m!r}; valid methods: {', '.join(ACQUISITIONS)}")
            if self.task not in ACQUISITIONS[m].tasks:
                ok = [k for k, a in ACQUISITIONS.items() if self.task in a.tasks]
                self.fail("methods", f"method {m!r} does not support {self.task}; "
                                      f"methods for {self.task}: {', '.join(ok)}")
        if len(set(self.methods)) != len(self.methods):
            self.fail("methods", f"repeated method names in {self.methods}")
        if self.model not in MODELS:
            self.fail("model", f"unknown model {self.model!r}; valid models: {', '.join(MODELS)}")

    def _validate_counts(self) -> None:
        positive = ("n_initial", "n_acquired", "batch_size", "n_candidates", "n_repeats",
                    "train_batch_size", "predict_batch_size", "dense_units", "resolution")
        for name in positive:
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                self.fail(name, f"must be an integer >= 1, got {v!r}")
        if not _is_int(self.n_validation) or self.n_validation < 2:
            self.fail("n_validation", f"must be an integer >= 2 (the noise term and the uncertainty "
                                       f"quality are estimated on the validation set), got {self.n_validation!r}")
        for name in ("train_steps", "train_epochs", "data_seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                self.fail(name, f"must be an integer >= 0, got {v!r}")
        if not _is_int(self.n_masks) or self.n_masks < 2:
            self.fail("n_masks", f"must be an integer >= 2 (a covariance needs two masks), got {self.n_masks!r}")
        if self.train_steps == 0 and self.train_epochs == 0:
            self.fail("train_steps", "train_steps and train_epochs are both 0: nothing would be trained")
        if self.n_test is not None and (not _is_int(self.n_test) or self.n_test < 1):
            self.fail("n_test", f"must be None or an integer >= 1, got {self.n_test!r}")
        if self.batch_size > self.n_candidates:
            self.fail("batch_size", f"batch_size = {self.batch_size} is larger than the number of "
                                     f"candidates n_candidates = {self.n_candidates}")
        if self.n_acquired % self.batch_size:
            self.fail("n_acquired", f"n_acquired = {self.n_acquired} is not a multiple of "
                                     f"batch_size = {self.batch_size}")

    def _validate_values(self) -> None:
        for name in ("dropout", "conv_dropout"):
            p = getattr(self, name)
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
                self.fail(name, f"must satisfy 0 <= p < 1, got {p!r}")
        for name in ("learning_rate",):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (np.isfinite(v) and v > 0):
                self.fail(name, f"must be a finite number > 0, got {v!r}")
        choices = {"smoothing": SMOOTHINGS, "optimizer": OPTIMIZERS,
                   "initial_set": ("random", "authors")}
        for name, valid in choices.items():
            if getattr(self, name) not in valid:
                self.fail(name, f"must be one of {', '.join(map(repr, valid))}, got {getattr(self, name)!r}")
        if self.noise is not None and (isinstance(self.noise, bool) or not isinstance(self.noise, (int, float))
                                       or not (np.isfinite(self.noise) and self.noise > 0)):
            self.fail("noise", f"must be None (use noise_fraction) or a finite number > 0, got {self.noise!r}")
        if not _is_int(self.test_mc_passes) or self.test_mc_passes < 0 or self.test_mc_passes == 1:
            self.fail("test_mc_passes", f"must be 0 (deterministic test predictions) or an integer "
                                         f">= 2, got {self.test_mc_passes!r}")

    def _validate_combinations(self) -> None:
        if self.initial_set == "authors" and self.dataset != "mnist":
            self.fail("initial_set", f"the authors' initial sets are used for MNIST only, not "
                                      f"{self.dataset!r} (splicing's index rows of the real A5SS "
                                      f"file with per-seed test splits; UTKFace's an unpublished split)")
        if self.initial_set == "authors" and self.n_repeats > 3:
            self.fail("n_repeats", f"the authors published 3 initial sets (seeds 0-2); "
                                    f"initial_set='authors' allows n_repeats <= 3, got {self.n_repeats}")
        if (isinstance(self.input_scale, bool) or not isinstance(self.input_scale, (int, float))
                or not (np.isfinite(self.input_scale) and self.input_scale > 0)):
            self.fail("input_scale", f"must be a finite number > 0, got {self.input_scale!r}")
        for name in ("weight_decay_c", "noise_fraction"):
            v = getattr(self, name)
            if name == "noise_fraction" and v is None:
                continue
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (np.isfinite(v) and v >= 0):
                self.fail(name, f"must be a finite number >= 0, got {v!r}")
        if not 0 < self.test_fraction < 1:
            self.fail("test_fraction", f"must lie in (0, 1), got {self.test_fraction!r}")
        if not self.hidden or any(not _is_int(h) or h < 1 for h in self.hidden):
            self.fail("hidden", f"must be a non-empty sequence of positive integers, got {self.hidden!r}")
        if self.classes is not None:
            if self.dataset not in ("mnist", "custom"):
                self.fail("classes", f"a class subset is for MNIST, not {self.dataset!r}")
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                self.fail("classes", f"need two or more distinct classes, got {self.classes}")
        if self.task == "regression" and self.dataset == "mnist":
            self.fail("task", "MNIST is a classification dataset")
        if self.task == "classification" and self.dataset in ("splicing", "utkface"):
            self.fail("task", f"{self.dataset} is a regression dataset")
        if not isinstance(self.tag, str) or any(c in self.tag for c in "/\\ "):
            self.fail("tag", f"must be a string without slashes or spaces, got {self.tag!r}")
        if not isinstance(self.preset, str) or not self.preset or any(c in self.preset for c in "/\\ "):
            self.fail("preset", f"must be a non-empty string without slashes or spaces, got {self.preset!r}")

    # ---------------------------------------------------------------- derived values
    @property
    def fitted_noise_fraction(self) -> float:
        """``noise_fraction``, or Appendix E's default of the task when it is None."""
        from ..uncertainty.calibration import DEFAULT_NOISE_FRACTION

        return DEFAULT_NOISE_FRACTION[self.task] if self.noise_fraction is None else float(self.noise_fraction)

    @property
    def n_iterations(self) -> int:
        """Acquisition rounds: ``n_acquired / batch_size`` (the table has one row more)."""
        return self.n_acquired // self.batch_size

    @property
    def run_name(self) -> str:
        """Results folder of this configuration: the preset, plus ``-tag`` when tagged."""
        return f"{self.preset}-{self.tag}" if self.tag else self.preset

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.n_repeats))

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (tuples as lists), e.g. for JSON."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            out[f.name] = list(v) if isinstance(v, tuple) else v
        return out

    def replace(self, **changes) -> "ExperimentConfig":
        """A validated copy with ``changes`` (unknown field names raise ValueError)."""
        _check_field_names(changes)
        return dataclasses.replace(self, **changes)


FIELDS = tuple(f.name for f in dataclasses.fields(ExperimentConfig))


def _check_field_names(changes: dict) -> None:
    unknown = [k for k in changes if k not in FIELDS]
    if unknown:
        raise ValueError(
            f"unknown config field(s) {', '.join(map(repr, unknown))}; valid fields: {', '.join(FIELDS)}"
        )


# ------------------------------------------------------------------------------------ experiments

# Where each setting of the paper preset comes from. "paper": the paper's text (METHOD.md);
# "authors' code": what the authors' published code ran, where the paper is silent
# (../shared/AUTHORS.md); fields not named are bookkeeping of ours.
PAPER, CODE = "paper", "authors' code"
_PROV_COMMON = dict(
    dataset=PAPER, task=PAPER, methods=PAPER, n_initial=PAPER, n_acquired=PAPER, batch_size=PAPER,
    n_candidates=PAPER, n_validation=PAPER, n_repeats=PAPER, n_masks=PAPER, n_test=PAPER,
    model=CODE, dropout=CODE, conv_dropout=CODE, dense_units=CODE, weight_decay_c=CODE,
    train_epochs=CODE, train_steps=CODE, train_batch_size=CODE, optimizer=CODE,
    learning_rate=CODE, noise=CODE, test_mc_passes=CODE, input_scale=CODE,
)
_PROV_MNIST = dict(_PROV_COMMON, classes=PAPER, balanced_initial=PAPER, initial_set=CODE,
                   smoothing=CODE)
_PROV_REG = dict(_PROV_COMMON, test_fraction=PAPER, standardize_y=CODE, resolution=PAPER)

# The authors' settings (AUTHORS.md): the same p at both dropout layers, L2 = c / N on the dense
# layers, a fixed number of epochs of batches of 128 from scratch, a fixed tau^-1, test metrics
# of MC-averaged predictions, raw inputs and targets.
_MNIST = dict(dataset="mnist", task="classification", dense_units=128, train_steps=0,
              train_batch_size=128, optimizer="adam", learning_rate=1e-3, smoothing="diagonal",
              initial_set="authors", input_scale=255.0, test_mc_passes=100)
_MNIST_7V9 = dict(_MNIST, classes=(7, 9), n_initial=10, n_validation=10, n_candidates=2500,
                  model="mnist_7v9_cnn", dropout=0.3, conv_dropout=0.3, weight_decay_c=0.0005,
                  noise=8.37e-5, train_epochs=300)
# tau_s^-1 = 3e-5 as in the authors' results folder name (their notebook cell says 3e-4)
_MNIST_0TO9 = dict(_MNIST, classes=None, n_initial=30, n_validation=30, n_candidates=2000,
                   model="mnist_0to9_cnn", dropout=0.25, conv_dropout=0.25, weight_decay_c=0.01,
                   noise=3e-5, train_epochs=300)
_REG = dict(task="regression", standardize_y=False, test_fraction=0.1, n_validation=50,
            train_steps=0, train_batch_size=128, learning_rate=1e-3,
            methods=("deimos", "max_variance", "random"), n_candidates=5000)
_SPLICING = dict(_REG, dataset="splicing", model="splicing_cnn", dropout=0.15, conv_dropout=0.15,
                 dense_units=50, weight_decay_c=0.025, optimizer="rmsprop", train_epochs=300,
                 noise=2.5e-4, test_mc_passes=200, n_initial=75, batch_size=1)
_UTK = dict(_REG, dataset="utkface", model="utkface_cnn", dropout=0.5, conv_dropout=0.5,
            dense_units=150, weight_decay_c=2.0, optimizer="adam", train_epochs=250,
            noise=5.5477, test_mc_passes=300, n_initial=150, resolution=200)

_M79_B1 = ("deimos", "bald", "max_entropy", "random", "kcenter")
_M79_B25 = ("deimos", "batchbald", "max_entropy", "random", "kcenter")
_M09 = ("deimos", "batchbald", "max_entropy", "random")

# cpu preset = the paper preset with only these reduced (issue "Evidence under the authors'
# settings"): epochs (CPU_EPOCHS, by the rule of docs/cpu_preset.md, measured by
# benchmarks/epoch_rule.py into results/epoch_rule.csv), candidates per iteration (>= 1,000),
# a fixed test subset (>= 2,000 points), UTKFace resolution (64 px) and MC passes for the test
# metric (20). The rule gave 25 (MNIST 7 vs 9), 75 (MNIST 0-9), 300 (splicing) and 250
# (UTKFace at 64 px: the initial set's objective still falls from 46 to 15 between 200 and 250).
CPU_EPOCHS = {"mnist_7v9": 25, "mnist_0to9": 75, "splicing": 300, "utkface": 250}
_CPU = dict(n_candidates=1000, n_test=2000, test_mc_passes=20)
# quick preset: the same models and protocol at CI size (seconds per run)
_QUICK = dict(n_candidates=50, n_test=200, test_mc_passes=5, train_epochs=2, train_steps=10,
              train_batch_size=16)
_QUICK_UTK = dict(_QUICK, resolution=64, n_initial=20, n_validation=10, n_test=100)

EXPERIMENTS: dict[str, dict[str, dict]] = {
    "mnist_7v9_b1": {
        "paper": dict(_MNIST_7V9, batch_size=1, n_acquired=200, n_repeats=3, methods=_M79_B1),
        "cpu": dict(_MNIST_7V9, **_CPU, train_epochs=CPU_EPOCHS["mnist_7v9"], batch_size=1,
                    n_acquired=200, n_repeats=3, methods=_M79_B1),
        "quick": dict(_MNIST_7V9, **_QUICK, batch_size=1, n_acquired=3, n_repeats=1, methods=_M79_B1),
    },
    "mnist_7v9_b25": {
        "paper": dict(_MNIST_7V9, batch_size=25, n_acquired=1000, n_repeats=3, methods=_M79_B25),
        "cpu": dict(_MNIST_7V9, **_CPU, train_epochs=CPU_EPOCHS["mnist_7v9"], batch_size=25,
                    n_acquired=1000, n_repeats=3, methods=_M79_B25),
        "quick": dict(_MNIST_7V9, **_QUICK, batch_size=5, n_acquired=10, n_repeats=1, methods=_M79_B25),
    },
    "mnist_0to9_b25": {
        "paper": dict(_MNIST_0TO9, batch_size=25, n_acquired=500, n_repeats=3, methods=_M09),
        "cpu": dict(_MNIST_0TO9, **_CPU, train_epochs=CPU_EPOCHS["mnist_0to9"], batch_size=25,
                    n_acquired=500, n_repeats=3, methods=_M09),
        "quick": dict(_MNIST_0TO9, **_QUICK, batch_size=5, n_acquired=10, n_repeats=1, methods=_M09),
    },
    # the authors' published 0-9 arrays: batches of 100, robust k-center too
    "mnist_0to9_b100": {
        "paper": dict(_MNIST_0TO9, batch_size=100, n_acquired=1000, n_repeats=3, methods=_M09 + ("kcenter",)),
        "cpu": dict(_MNIST_0TO9, **_CPU, train_epochs=CPU_EPOCHS["mnist_0to9"], batch_size=100,
                    n_acquired=1000, n_repeats=3, methods=_M09 + ("kcenter",)),
        "quick": dict(_MNIST_0TO9, **_QUICK, batch_size=10, n_acquired=20, n_repeats=1,
                      methods=_M09 + ("kcenter",)),
    },
    "splicing": {
        "paper": dict(_SPLICING, n_acquired=600, n_repeats=3),
        "cpu": dict(_SPLICING, **_CPU, train_epochs=CPU_EPOCHS["splicing"], n_acquired=600, n_repeats=3),
        "quick": dict(_SPLICING, **_QUICK, n_acquired=3, n_repeats=1),
    },
    "utkface_b100": {
        "paper": dict(_UTK, batch_size=100, n_acquired=2000, n_repeats=3),
        "cpu": dict(_UTK, **_CPU, train_epochs=CPU_EPOCHS["utkface"], resolution=64, batch_size=100,
                    n_acquired=2000, n_repeats=3),
        "quick": dict(_UTK, **_QUICK_UTK, batch_size=5, n_acquired=10, n_repeats=1),
    },
    "utkface_b200": {
        "paper": dict(_UTK, batch_size=200, n_acquired=2000, n_repeats=3),
        "cpu": dict(_UTK, **_CPU, train_epochs=CPU_EPOCHS["utkface"], resolution=64, batch_size=200,
                    n_acquired=2000, n_repeats=3),
        "quick": dict(_UTK, **_QUICK_UTK, batch_size=10, n_acquired=20, n_repeats=1),
    },
}

PROVENANCE: dict[str, dict[str, str]] = {
    name: dict(_PROV_MNIST if name.startswith("mnist") else _PROV_REG) for name in EXPERIMENTS
}
"""Per experiment: where each setting of its ``paper`` preset comes from (other fields: ours)."""
PROVENANCE["mnist_0to9_b100"].update(batch_size=CODE, n_acquired=CODE, methods=CODE)
PROVENANCE["splicing"].update(initial_set="ours (the authors' sets index the real A5SS file)")


def field_provenance(config: "ExperimentConfig") -> dict[str, str]:
    """Where each field of ``config`` comes from: "paper", "authors' code", or ours.

    A field equal to the experiment's ``paper`` preset carries that preset's source
    (:data:`PROVENANCE`); one the ``cpu`` or ``quick`` preset reduces reads "ours (<preset>
    preset)"; one set by hand reads "ours (override)".
    """
    out = {}
    presets = EXPERIMENTS.get(config.experiment)
    for f in FIELDS:
        value = getattr(config, f)
        if presets is None:
            out[f] = "ours"
            continue
        paper_value = _field_value(presets["paper"], f)
        own = _field_value(presets[config.preset], f) if config.preset in presets else None
        if value == paper_value:
            out[f] = PROVENANCE[config.experiment].get(f, "ours")
        elif config.preset in presets and value == own:
            out[f] = f"ours ({config.preset} preset)"
        else:
            out[f] = "ours (override)"
    return out


def _field_value(preset_fields: dict, name: str):
    if name in preset_fields:
        v = preset_fields[name]
        return tuple(v) if isinstance(v, list) else v
    default = {f.name: f.default for f in dataclasses.fields(ExperimentConfig)}[name]
    return default


def list_experiments() -> tuple[str, ...]:
    """Names accepted by :func:`get_config`."""
    return tuple(EXPERIMENTS)


def get_config(experiment: str, /, preset: str = "quick", **overrides) -> ExperimentConfig:
    """The validated configuration of ``experiment`` at ``preset``, with ``overrides``.

    Raises ValueError for an unknown experiment, preset or field name (listing the valid
    ones) and for a bad value (naming the field).
    """
    if experiment not in EXPERIMENTS:
        raise ValueError(f"unknown experiment {experiment!r}; valid experiments: {', '.join(EXPERIMENTS)}")
    if preset not in EXPERIMENTS[experiment]:
        raise ValueError(f"unknown preset {preset!r}; valid presets: {', '.join(EXPERIMENTS[experiment])}")
    _check_field_names(overrides)
    for fixed in ("experiment",):
        if fixed in overrides:
            raise ValueError(f"config field {fixed!r} is set by get_config's first argument")
    fields = dict(EXPERIMENTS[experiment][preset], experiment=experiment, preset=preset)
    fields.update(overrides)
    return ExperimentConfig(**fields)


def run_overrides(*, n_acquired: int | None = None, n_repeats: int | None = None,
                  tag: str = "") -> dict:
    """Config overrides from a notebook's parameters (None = keep the preset's value).

    A changed ``n_acquired`` also sets ``tag`` (when none is given) to
    ``"n_acquired<value>"``, so that a shortened run writes to its own, clearly named results
    folder (``<preset>-n_acquired<value>``). ``n_repeats`` needs no tag: repeat k is the same
    whatever the number of repeats. Returns a dict for
    :func:`~deimos_utils.experiment.config.get_config`.
    """
    out: dict = {}
    for name, value in (("n_acquired", n_acquired), ("n_repeats", n_repeats)):
        if value is None:
            continue
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
        out[name] = int(value)
    tag = "" if tag is None else str(tag)
    if not tag and n_acquired is not None:
        tag = f"n_acquired{int(n_acquired)}"
    if tag:
        out["tag"] = tag
    return out

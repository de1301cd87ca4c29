"""Experiment configurations (one per experiment of section 5, three presets) and the data bundle.

>>> cfg = get_config("mnist_7v9_b1", "paper")          # the paper's numbers
>>> cfg = get_config("mnist_7v9_b1", "quick", n_acquired=5)   # CI size, one field changed

Presets
-------
``quick``  CI size: a few iterations, small candidate sets, short training (seconds per run).
``cpu``    a real comparison on a 2-core CPU, one repeat of every method. MNIST 7 vs 9 with
           b = 1 keeps the paper's 200 acquisitions but scores 1,000 candidates (not 2,500),
           tests on a fixed 1,000-image subset and trains 120 steps (at least 10 epochs) of
           batches of 32: about 2-3 s an iteration, 35-60 min for the five methods. The
           b = 25 experiments keep the paper's acquisitions (BatchBALD costs ~15 s a batch).
``paper``  the paper's numbers (METHOD.md, Appendix D): initial set, acquisitions, batch size,
           candidates, validation size, repeats, methods. The training settings the paper does
           not state follow Gal et al. (2017) for MNIST (weight decay C = 3.5, 50 epochs,
           batches of 128, with a floor on the number of steps).

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
import torch

__all__ = [
    "ALData",
    "ExperimentConfig",
    "EXPERIMENTS",
    "PRESETS",
    "DATASETS",
    "get_config",
    "list_experiments",
    "split_test",
]

PRESETS = ("quick", "cpu", "paper")
DATASETS = ("mnist", "splicing", "utkface", "custom")
TASKS = ("classification", "regression")


# ------------------------------------------------------------------------------------ data bundle

@dataclass(eq=False)
class ALData:
    """What the active-learning loop needs from a dataset; any loader can produce it.

    Attributes
    ----------
    x_pool : (P, ...) float32 tensor, the training data + pool (validation, initial set and
        candidates are drawn from it).
    y_pool : (P,) int64 class labels 0..C-1 (classification) or float32 targets (regression).
    x_test, y_test : the held-out test set, same layout.
    task : "classification" or "regression".
    n_classes : C for classification, None for regression.
    name : a short description (for titles).
    pool_ids : (P,) int64 id of each pool point in the original dataset (e.g. the MNIST
        training index); default 0..P-1. The results tables record picks as these ids.
    test_ids : (T,) int64 ids of the test points in the original dataset; default 0..T-1.
    class_names : optional names of the C classes (e.g. ``("7", "9")``).
    source : provenance text (e.g. "simulated"), optional.
    """

    x_pool: torch.Tensor
    y_pool: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    task: str
    n_classes: int | None
    name: str = ""
    pool_ids: np.ndarray | None = None
    test_ids: np.ndarray | None = None
    class_names: tuple | None = None
    source: str = ""

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"ALData.task must be one of {TASKS}, got {self.task!r}")
        self.x_pool = torch.as_tensor(self.x_pool)
        self.x_test = torch.as_tensor(self.x_test)
        ydtype = torch.int64 if self.task == "classification" else torch.float32
        self.y_pool = torch.as_tensor(self.y_pool).to(ydtype).reshape(-1)
        self.y_test = torch.as_tensor(self.y_test).to(ydtype).reshape(-1)
        for xs, ys, what in ((self.x_pool, self.y_pool, "pool"), (self.x_test, self.y_test, "test")):
            if xs.shape[0] != ys.shape[0]:
                raise ValueError(f"ALData: x_{what} has {xs.shape[0]} points but y_{what} has {ys.shape[0]}")
        if self.x_pool.shape[1:] != self.x_test.shape[1:]:
            raise ValueError(
                f"ALData: pool inputs {tuple(self.x_pool.shape[1:])} and test inputs "
                f"{tuple(self.x_test.shape[1:])} differ in shape"
            )
        if self.task == "classification":
            if self.n_classes is None or int(self.n_classes) < 2:
                raise ValueError(f"ALData: classification needs n_classes >= 2, got {self.n_classes}")
            self.n_classes = int(self.n_classes)
            for ys, what in ((self.y_pool, "pool"), (self.y_test, "test")):
                if ys.numel() and (int(ys.min()) < 0 or int(ys.max()) >= self.n_classes):
                    raise ValueError(f"ALData: y_{what} holds labels outside 0..{self.n_classes - 1}")
        else:
            self.n_classes = None
        self.pool_ids = self._ids(self.pool_ids, self.x_pool.shape[0], "pool_ids")
        self.test_ids = self._ids(self.test_ids, self.x_test.shape[0], "test_ids")

    @staticmethod
    def _ids(ids, n: int, what: str) -> np.ndarray:
        if ids is None:
            return np.arange(n, dtype=np.int64)
        ids = np.asarray(ids.cpu() if isinstance(ids, torch.Tensor) else ids, dtype=np.int64).reshape(-1)
        if ids.shape[0] != n:
            raise ValueError(f"ALData.{what} has {ids.shape[0]} entries for {n} points")
        if np.unique(ids).size != n:
            raise ValueError(f"ALData.{what} holds repeated ids")
        return ids

    @property
    def n_pool(self) -> int:
        return int(self.x_pool.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(s) for s in self.x_pool.shape[1:])

    def class_counts(self) -> np.ndarray:
        """(C,) number of pool points per class (classification only)."""
        if self.task != "classification":
            raise ValueError("class_counts() is for classification data")
        return np.bincount(self.y_pool.numpy(), minlength=self.n_classes)

    def __repr__(self) -> str:
        extra = f", n_classes={self.n_classes}" if self.n_classes else ""
        return (f"ALData({self.name!r}, task={self.task!r}{extra}, pool={tuple(self.x_pool.shape)}, "
                f"test={tuple(self.x_test.shape)})")


def split_test(x, y, test_fraction: float, seed: int, ids=None) -> tuple:
    """Random split into pool and test sets: ``(x_pool, y_pool, x_test, y_test, pool_ids, test_ids)``.

    ``round(test_fraction * N)`` points go to the test set; the split depends only on ``seed``
    (the same for every run of an experiment). ``ids`` (default 0..N-1) are split alongside.
    """
    from .runtime import make_rng

    n = int(len(y))
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    n_test = int(round(test_fraction * n))
    if n_test < 1 or n_test >= n:
        raise ValueError(f"test_fraction {test_fraction} of {n} points leaves an empty pool or test set")
    perm = make_rng(seed, "test-split").permutation(n)
    test_idx = np.sort(perm[:n_test])
    pool_idx = np.sort(perm[n_test:])
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
    ti, pi = torch.as_tensor(test_idx), torch.as_tensor(pool_idx)
    return x[pi], y[pi], x[ti], y[ti], ids[pool_idx], ids[test_idx]


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
    noise_fraction: float = 0.01
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

    def _fail(self, name: str, message: str):
        raise ValueError(f"config field {name!r} of experiment {self.experiment!r}: {message}")

    def _validate(self) -> None:
        from .acquisition.registry import ACQUISITIONS
        from .models import MODELS

        if not isinstance(self.experiment, str) or not self.experiment:
            raise ValueError("config field 'experiment' must be a non-empty string")
        if self.dataset not in DATASETS:
            self._fail("dataset", f"unknown dataset {self.dataset!r}; valid: {', '.join(DATASETS)}")
        if self.task not in TASKS:
            self._fail("task", f"must be one of {TASKS}, got {self.task!r}")
        if not self.methods:
            self._fail("methods", "name at least one acquisition method")
        for m in self.methods:
            if m not in ACQUISITIONS:
                self._fail("methods", f"unknown method {m!r}; valid methods: {', '.join(ACQUISITIONS)}")
            if self.task not in ACQUISITIONS[m].tasks:
                ok = [k for k, a in ACQUISITIONS.items() if self.task in a.tasks]
                self._fail("methods", f"method {m!r} does not support {self.task}; "
                                      f"methods for {self.task}: {', '.join(ok)}")
        if len(set(self.methods)) != len(self.methods):
            self._fail("methods", f"repeated method names in {self.methods}")
        if self.model not in MODELS:
            self._fail("model", f"unknown model {self.model!r}; valid models: {', '.join(MODELS)}")
        positive = ("n_initial", "n_acquired", "batch_size", "n_candidates", "n_repeats",
                    "train_batch_size", "predict_batch_size", "dense_units", "resolution")
        for name in positive:
            v = getattr(self, name)
            if not _is_int(v) or v < 1:
                self._fail(name, f"must be an integer >= 1, got {v!r}")
        if not _is_int(self.n_validation) or self.n_validation < 2:
            self._fail("n_validation", f"must be an integer >= 2 (the noise term and the uncertainty "
                                       f"quality are estimated on the validation set), got {self.n_validation!r}")
        for name in ("train_steps", "train_epochs", "data_seed"):
            v = getattr(self, name)
            if not _is_int(v) or v < 0:
                self._fail(name, f"must be an integer >= 0, got {v!r}")
        if not _is_int(self.n_masks) or self.n_masks < 2:
            self._fail("n_masks", f"must be an integer >= 2 (a covariance needs two masks), got {self.n_masks!r}")
        if self.train_steps == 0 and self.train_epochs == 0:
            self._fail("train_steps", "train_steps and train_epochs are both 0: nothing would be trained")
        if self.n_test is not None and (not _is_int(self.n_test) or self.n_test < 1):
            self._fail("n_test", f"must be None or an integer >= 1, got {self.n_test!r}")
        if self.batch_size > self.n_candidates:
            self._fail("batch_size", f"batch_size = {self.batch_size} is larger than the number of "
                                     f"candidates n_candidates = {self.n_candidates}")
        if self.n_acquired % self.batch_size:
            self._fail("n_acquired", f"n_acquired = {self.n_acquired} is not a multiple of "
                                     f"batch_size = {self.batch_size}")
        for name in ("dropout", "conv_dropout"):
            p = getattr(self, name)
            if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
                self._fail(name, f"must satisfy 0 <= p < 1, got {p!r}")
        for name in ("learning_rate",):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (np.isfinite(v) and v > 0):
                self._fail(name, f"must be a finite number > 0, got {v!r}")
        for name in ("weight_decay_c", "noise_fraction"):
            v = getattr(self, name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not (np.isfinite(v) and v >= 0):
                self._fail(name, f"must be a finite number >= 0, got {v!r}")
        if not 0 < self.test_fraction < 1:
            self._fail("test_fraction", f"must lie in (0, 1), got {self.test_fraction!r}")
        if not self.hidden or any(not _is_int(h) or h < 1 for h in self.hidden):
            self._fail("hidden", f"must be a non-empty sequence of positive integers, got {self.hidden!r}")
        if self.classes is not None:
            if self.dataset not in ("mnist", "custom"):
                self._fail("classes", f"a class subset is for MNIST, not {self.dataset!r}")
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                self._fail("classes", f"need two or more distinct classes, got {self.classes}")
        if self.task == "regression" and self.dataset == "mnist":
            self._fail("task", "MNIST is a classification dataset")
        if self.task == "classification" and self.dataset in ("splicing", "utkface"):
            self._fail("task", f"{self.dataset} is a regression dataset")
        if not isinstance(self.tag, str) or any(c in self.tag for c in "/\\ "):
            self._fail("tag", f"must be a string without slashes or spaces, got {self.tag!r}")
        if not isinstance(self.preset, str) or not self.preset or any(c in self.preset for c in "/\\ "):
            self._fail("preset", f"must be a non-empty string without slashes or spaces, got {self.preset!r}")

    # ---------------------------------------------------------------- derived values
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

_MNIST_COMMON = dict(dataset="mnist", task="classification", model="mnist_cnn",
                     conv_dropout=0.25, dropout=0.5, dense_units=128, weight_decay_c=3.5,
                     noise_fraction=0.01)
_MNIST_7V9 = dict(_MNIST_COMMON, classes=(7, 9), n_initial=10, n_validation=10, n_candidates=2500)
_MNIST_0TO9 = dict(_MNIST_COMMON, classes=None, n_initial=30, n_validation=30, n_candidates=2000)

# Training the paper does not state: Gal et al. (2017) train 50 epochs with batches of 128;
# a floor of 200 steps keeps the 10-point initial sets from being under-fitted.
_PAPER_TRAIN = dict(train_epochs=50, train_batch_size=128, train_steps=200)
_CPU_TRAIN = dict(train_epochs=10, train_batch_size=32, train_steps=120)
# Regression cpu presets: at least 20 epochs, so that models trained on the larger labelled
# sets of later iterations are not under-fitted (a fixed step count made the curves rise).
_QUICK_TRAIN = dict(train_epochs=0, train_batch_size=16, train_steps=10)

_REG_COMMON = dict(task="regression", noise_fraction=0.1, standardize_y=True, weight_decay_c=0.5,
                   test_fraction=0.1, n_validation=50)
_SPLICING = dict(_REG_COMMON, dataset="splicing", model="splice_cnn", conv_dropout=0.1, dropout=0.2,
                 methods=("deimos", "max_variance", "random"), n_initial=75, batch_size=1,
                 n_candidates=5000)
_UTK = dict(_REG_COMMON, dataset="utkface", model="face_cnn", conv_dropout=0.1, dropout=0.2,
            methods=("deimos", "max_variance", "random"), n_initial=150, n_candidates=5000)

EXPERIMENTS: dict[str, dict[str, dict]] = {
    "mnist_7v9_b1": {
        "paper": dict(_MNIST_7V9, **_PAPER_TRAIN, batch_size=1, n_acquired=200, n_repeats=3,
                      methods=("deimos", "bald", "max_entropy", "random", "kcenter")),
        "cpu": dict(_MNIST_7V9, **_CPU_TRAIN, batch_size=1, n_acquired=200, n_repeats=1,
                    n_candidates=1000, n_test=1000,
                    methods=("deimos", "bald", "max_entropy", "random", "kcenter")),
        "quick": dict(_MNIST_7V9, **_QUICK_TRAIN, batch_size=1, n_acquired=3, n_repeats=1,
                      n_candidates=50, n_test=200,
                      methods=("deimos", "bald", "max_entropy", "random", "kcenter")),
    },
    "mnist_7v9_b25": {
        "paper": dict(_MNIST_7V9, **_PAPER_TRAIN, batch_size=25, n_acquired=1000, n_repeats=3,
                      methods=("deimos", "batchbald", "max_entropy", "random", "kcenter")),
        "cpu": dict(_MNIST_7V9, **_CPU_TRAIN, batch_size=25, n_acquired=1000, n_repeats=1,
                    n_candidates=1000, n_test=1000,
                    methods=("deimos", "batchbald", "max_entropy", "random", "kcenter")),
        "quick": dict(_MNIST_7V9, **_QUICK_TRAIN, batch_size=5, n_acquired=10, n_repeats=1,
                      n_candidates=50, n_test=200,
                      methods=("deimos", "batchbald", "max_entropy", "random", "kcenter")),
    },
    "mnist_0to9_b25": {
        "paper": dict(_MNIST_0TO9, **_PAPER_TRAIN, batch_size=25, n_acquired=500, n_repeats=3,
                      methods=("deimos", "batchbald", "max_entropy", "random")),
        "cpu": dict(_MNIST_0TO9, **_CPU_TRAIN, batch_size=25, n_acquired=500, n_repeats=1,
                    n_candidates=1000, n_test=1000,
                    methods=("deimos", "batchbald", "max_entropy", "random")),
        "quick": dict(_MNIST_0TO9, **_QUICK_TRAIN, batch_size=5, n_acquired=10, n_repeats=1,
                      n_candidates=50, n_test=200,
                      methods=("deimos", "batchbald", "max_entropy", "random")),
    },
    "splicing": {
        "paper": dict(_SPLICING, n_acquired=600, n_repeats=3, train_epochs=50, train_batch_size=128,
                      train_steps=200),
        "cpu": dict(_SPLICING, n_acquired=150, n_repeats=1, n_candidates=1000, n_test=2000,
                    train_epochs=20, train_batch_size=32, train_steps=100),
        "quick": dict(_SPLICING, n_acquired=3, n_repeats=1, n_candidates=50, n_test=200,
                      train_epochs=0, train_batch_size=16, train_steps=10),
    },
    "utkface_b100": {
        "paper": dict(_UTK, batch_size=100, n_acquired=2000, n_repeats=3, resolution=200,
                      train_epochs=50, train_batch_size=128, train_steps=200),
        "cpu": dict(_UTK, batch_size=100, n_acquired=500, n_repeats=1, resolution=32,
                    n_candidates=1000, n_test=1000, train_epochs=20, train_batch_size=32,
                    train_steps=100),
        "quick": dict(_UTK, batch_size=5, n_acquired=10, n_repeats=1, resolution=32, n_initial=20,
                      n_candidates=50, n_test=100, n_validation=10, train_epochs=0,
                      train_batch_size=16, train_steps=10),
    },
    "utkface_b200": {
        "paper": dict(_UTK, batch_size=200, n_acquired=2000, n_repeats=3, resolution=200,
                      train_epochs=50, train_batch_size=128, train_steps=200),
        "cpu": dict(_UTK, batch_size=200, n_acquired=600, n_repeats=1, resolution=32,
                    n_candidates=1000, n_test=1000, train_epochs=20, train_batch_size=32,
                    train_steps=100),
        "quick": dict(_UTK, batch_size=10, n_acquired=20, n_repeats=1, resolution=32, n_initial=20,
                      n_candidates=50, n_test=100, n_validation=10, train_epochs=0,
                      train_batch_size=16, train_steps=10),
    },
}


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

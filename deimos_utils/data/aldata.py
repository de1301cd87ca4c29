"""What the active-learning loop needs from a dataset: :class:`ALData`, and how a configuration's
dataset becomes one.

:func:`load_data` gives the dataset of an experiment's configuration as :class:`ALData` (the
loaders of :mod:`deimos_utils.data.mnist`, ``splicing`` and ``utkface``, imported lazily;
:func:`split_test` makes the test split of the regression datasets). Any other dataset enters
the loop as ``ALData(...)`` passed to :func:`~deimos_utils.experiment.loop.run_experiment`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._checks import TASKS

if TYPE_CHECKING:
    from ..experiment.config import ExperimentConfig

__all__ = ["ALData", "split_test", "load_data"]


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

    def positions_of(self, ids, what: str = "ids") -> np.ndarray:
        """(n,) int64 pool positions of the dataset ids ``ids`` (``pool_ids`` values).

        Raises ValueError naming ``what`` and the ids that are not in the pool.
        """
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if ids.size == 0:
            return np.zeros(0, dtype=np.int64)
        order = np.argsort(self.pool_ids, kind="stable")
        sorted_ids = self.pool_ids[order]
        if sorted_ids.size == 0:
            raise ValueError(f"{what} {ids[:5].tolist()} are not in an empty pool")
        k = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
        ok = sorted_ids[k] == ids
        if not ok.all():
            raise ValueError(f"{what} {ids[~ok][:5].tolist()} are not in the pool of this dataset "
                             "(wrong dataset or classes?)")
        return order[k].astype(np.int64)

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
    from ..runtime import make_rng

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


def load_data(config: "ExperimentConfig", data_dir=None) -> ALData:
    """The dataset of ``config`` as an :class:`ALData` bundle (loaders imported lazily).

    MNIST: the official split (``classes`` selects digits). Splicing and UTKFace: a random
    ``test_fraction`` test split fixed by ``config.data_seed``. ``dataset="custom"`` has no
    loader: pass ``data=ALData(...)`` to :func:`~deimos_utils.experiment.loop.run_experiment`
    instead.
    """
    if config.dataset == "mnist":
        from .mnist import load_mnist

        return _scaled(load_mnist(data_dir, classes=config.classes), config.input_scale)
    if config.dataset == "splicing":
        from .splicing import load_splicing

        raw = load_splicing(data_dir)
        source = getattr(raw, "source", "")
        name = "5' splicing (A5SS)" if "simulated" not in source else "5' splicing (simulated)"
    elif config.dataset == "utkface":
        from .utkface import load_utkface

        raw = load_utkface(data_dir, resolution=config.resolution)
        source = getattr(raw, "source", "")
        name = f"UTKFace age ({config.resolution} px)"
    else:
        raise ValueError(
            f"config field 'dataset' is {config.dataset!r}: there is no loader; pass "
            "data=ALData(...) to run_experiment / run_all"
        )
    ids = getattr(raw, "ids", None)
    ids = None if ids is None else np.asarray(ids)
    xp, yp, xt, yt, pid, tid = split_test(raw.x, raw.y, config.test_fraction, config.data_seed, ids)
    return _scaled(ALData(xp, yp, xt, yt, task="regression", n_classes=None, name=name,
                          pool_ids=pid, test_ids=tid, source=source), config.input_scale)


def _scaled(data: ALData, scale: float) -> ALData:
    """``data`` with its inputs multiplied by ``scale`` (``input_scale``; 1 leaves them as they are)."""
    if scale != 1.0:
        data.x_pool = data.x_pool * float(scale)
        data.x_test = data.x_test * float(scale)
    return data

"""The active-learning loop: one run = (experiment, method, seed), one table row per iteration.

Each iteration (section 5, Appendix D):

1. train a fresh model from scratch on the labelled set (weight decay lambda = C / N);
2. evaluate it on the test set (and the MC-dropout uncertainty on the validation set);
3. draw the candidates: a random permutation of labelled + unlabelled pool points is read
   until it holds ``n_candidates`` unlabelled points. Those are the candidates of every
   method; a method that needs ``"sample"`` (DEIMOS) also gets the predictions of the labelled
   points drawn along (its X_samp, Appendix D);
4. compute the fixed-mask MC-dropout predictions (and embeddings for k-center);
5. acquire a batch through :data:`~deimos_utils.acquisition.registry.ACQUISITIONS`, reveal
   its labels, write the row, repeat.

Seeds: everything random in run (seed) comes from named streams of ``seed``: the validation
and initial sets (``"init"``, shared by every method), the candidates (``"candidates", i``),
the masks (``"masks", i``), the weights and training (``"weights", i`` / ``"train", i``) and
the acquisition's own randomness (``"acquire", i``). Iteration i depends on nothing else but
the labelled set, so a resumed run (labelled set replayed from the recorded picks) writes the
same rows as an uninterrupted one.

The noise term of DEIMOS (tau^-1 regression, tau_s^-1 classification; Appendix E) is computed
once, from the initial model's predictions on the validation set, and recorded in every row.
"""
from __future__ import annotations

import math
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from . import store
from ..acquisition.registry import ACQUISITIONS, AcquisitionContext, get_acquisition
from ..uncertainty.calibration import noise_from_validation, uncertainty_quality, weight_decay
from ..data.aldata import ALData, load_data
from .config import ExperimentConfig
from ..uncertainty.mc_dropout import embed, mc_predict
from .models import build_model
from .provenance import run_provenance
from ..runtime import default_device, derive_seed, keep_freed_memory, make_rng, progress_bar
from ..analysis.diversity import batch_diversity
from .store import load_results, results_path
from .training import evaluate, evaluate_mc, train_model

__all__ = [
    "Run",
    "RunState",
    "target_scaling",
    "initial_target_sd",
    "check_run",
    "initial_split",
    "draw_candidates",
    "run_experiment",
    "run_all",
    "load_results",
    "results_path",
    "run_results_path",
]

# Fields that may change between a run and its resumption (they do not alter finished rows).
_RESUMABLE_FIELDS = ("methods", "n_repeats", "n_acquired")


# ------------------------------------------------------------------------------------ data

def _test_subset(config: ExperimentConfig, data: ALData) -> np.ndarray:
    """Positions of the test points used (a fixed random subset when ``n_test`` is set)."""
    n = data.n_test
    if config.n_test is None or config.n_test >= n:
        return np.arange(n)
    return np.sort(make_rng(config.data_seed, "test-subset").choice(n, config.n_test, replace=False))


# ------------------------------------------------------------------------------------ checks

def _initial_counts(config: ExperimentConfig, n_classes: int, rng: np.random.Generator | None) -> np.ndarray:
    """Points per class of a balanced initial set (the remainder to random classes)."""
    base = np.full(n_classes, config.n_initial // n_classes, dtype=np.int64)
    rem = config.n_initial - base.sum()
    if rem:
        extra = rng.permutation(n_classes)[:rem] if rng is not None else np.arange(rem)
        base[extra] += 1
    return base


def check_run(config: ExperimentConfig, data: ALData, method: str) -> None:
    """Fail before any training when ``config``, ``data`` and ``method`` do not fit together.

    Raises ValueError naming the config field (unknown method with the valid names, task
    mismatch, too few points for the initial set, validation set and acquisitions, more
    initial points per class than a class has, a model that does not fit the inputs).
    """
    if method not in ACQUISITIONS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(ACQUISITIONS)}")
    if config.task not in ACQUISITIONS[method].tasks:
        ok = [k for k, a in ACQUISITIONS.items() if config.task in a.tasks]
        raise ValueError(f"method {method!r} does not support {config.task}; valid methods: {', '.join(ok)}")
    if data.task != config.task:
        config.fail("task", f"the config says {config.task!r} but the data are {data.task!r}")
    need = config.n_validation + config.n_initial + config.n_acquired
    if data.n_pool < need:
        config.fail("n_acquired",
                    f"the pool holds {data.n_pool} points but n_validation + n_initial + n_acquired = "
                    f"{config.n_validation} + {config.n_initial} + {config.n_acquired} = {need}")
    if config.task == "classification" and config.balanced_initial:
        C = data.n_classes
        if config.n_initial < C:
            config.fail("n_initial", f"a class-balanced initial set of {C} classes needs n_initial >= {C}, "
                                             f"got {config.n_initial}")
        per_class = math.ceil(config.n_initial / C)
        counts = data.class_counts()
        short = [c for c in range(C) if counts[c] < per_class]
        if short:
            c = short[0]
            config.fail("n_initial",
                        f"n_initial = {config.n_initial} needs up to {per_class} points of each class, but "
                        f"class {c} has {counts[c]} in the pool")
    model = build_model(config, data.input_shape, data.n_classes or 1)
    with torch.no_grad():
        out = model.eval()(data.x_pool[:2].float())
    want = (2, data.n_classes) if config.task == "classification" else (2,)
    if tuple(out.shape) != want:
        config.fail("model", f"model {config.model!r} outputs shape {tuple(out.shape)} for two "
                                     f"inputs {tuple(data.x_pool.shape[1:])}; expected {want}")


# ------------------------------------------------------------------------------------ sets

def initial_split(config: ExperimentConfig, data: ALData, seed: int, *,
                  data_dir=None) -> tuple[np.ndarray, np.ndarray]:
    """``(initial, validation)`` pool positions of run ``seed`` (the same for every method).

    Validation: ``n_validation`` random pool points. Initial set: ``n_initial`` points from
    the rest, class-balanced for classification when ``balanced_initial`` (``n_initial / C``
    per class; a remainder goes to random classes). Both sorted.

    ``initial_set="authors"``: the initial set is the authors' set of seed 0..2
    (:func:`~deimos_utils.data.authors.authors_initial_ids`, read from ``data_dir``), and the
    validation set is drawn from the other pool points.
    """
    rng = make_rng(seed, "init")
    P = data.n_pool
    if config.initial_set == "authors":
        return _authors_split(config, data, seed, rng, data_dir)
    val = np.sort(rng.choice(P, config.n_validation, replace=False))
    rest = np.setdiff1d(np.arange(P), val)
    if config.task == "classification" and config.balanced_initial:
        counts = _initial_counts(config, data.n_classes, rng)
        y = data.y_pool.numpy()[rest]
        parts = []
        for c in range(data.n_classes):
            members = rest[y == c]
            if len(members) < counts[c]:
                config.fail("n_initial", f"class {c} has {len(members)} pool points outside the "
                                                 f"validation set; the balanced initial set needs {counts[c]}")
            parts.append(rng.choice(members, counts[c], replace=False))
        init = np.concatenate(parts)
    else:
        init = rng.choice(rest, config.n_initial, replace=False)
    return np.sort(init).astype(np.int64), val.astype(np.int64)


def _authors_split(config, data, seed, rng, data_dir) -> tuple[np.ndarray, np.ndarray]:
    from ..data.authors import authors_initial_ids

    ids = authors_initial_ids(config.experiment, seed, data_dir)
    if len(ids) != config.n_initial:
        config.fail("n_initial", f"the authors' initial sets hold {len(ids)} points, not {config.n_initial}")
    k = np.searchsorted(np.sort(data.pool_ids), ids)
    order = np.argsort(data.pool_ids)
    k = np.minimum(k, len(order) - 1)
    found = data.pool_ids[order[k]] == ids
    if not np.all(found):
        config.fail("initial_set", f"the authors' initial set of seed {seed} holds ids "
                                           f"{ids[~found][:5].tolist()} that are not in this dataset's pool")
    init = order[k]
    rest = np.setdiff1d(np.arange(data.n_pool), init)
    val = np.sort(rng.choice(rest, config.n_validation, replace=False))
    return np.sort(init).astype(np.int64), val.astype(np.int64)


def draw_candidates(labelled_mask: np.ndarray, eligible: np.ndarray, n_candidates: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Appendix D's representative sample: ``(candidates, labelled_in_sample)`` positions.

    ``eligible`` (sorted positions: labelled + unlabelled pool, validation excluded) is read in
    a random order until ``n_candidates`` unlabelled points (``~labelled_mask``) are seen (or
    all of them, when fewer are left). The unlabelled ones are the candidates, a uniform
    random subset of the unlabelled pool; the labelled ones drawn along complete X_samp.
    """
    perm = rng.permutation(eligible)
    unl = ~labelled_mask[perm]
    n_unl = int(unl.sum())
    n_c = min(int(n_candidates), n_unl)
    if n_c == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cut = int(np.searchsorted(np.cumsum(unl), n_c)) + 1
    head, head_unl = perm[:cut], unl[:cut]
    return head[head_unl].astype(np.int64), head[~head_unl].astype(np.int64)


# ------------------------------------------------------------------------------------ one run

class RunState:
    """The labelled set of a run, as pool positions in acquisition order (initial set first)."""

    def __init__(self, data: ALData, initial: np.ndarray, validation: np.ndarray):
        self.data = data
        self.labelled: list[int] = [int(i) for i in initial]
        self.mask = np.zeros(data.n_pool, dtype=bool)
        self.mask[initial] = True
        self.eligible = np.setdiff1d(np.arange(data.n_pool), validation)

    def add(self, positions: np.ndarray) -> None:
        positions = np.asarray(positions, dtype=np.int64)
        if np.any(self.mask[positions]) or len(np.unique(positions)) != len(positions):
            raise ValueError("a point was acquired twice (the results table does not match this run)")
        self.mask[positions] = True
        self.labelled.extend(int(p) for p in positions)


def run_results_path(config: ExperimentConfig, method: str, seed: int, results_dir="results") -> Path:
    """Where run (config, method, seed) writes its table."""
    return results_path(results_dir, config.experiment, config.run_name, method, seed)


def _sidecar(config: ExperimentConfig, method: str, seed: int, data: ALData,
             initial: np.ndarray, validation: np.ndarray, device=None) -> dict:
    cfg = config.to_dict()
    for k in _RESUMABLE_FIELDS:
        cfg.pop(k)
    return {
        "config": cfg,
        "provenance": [run_provenance(device)],
        "method": method,
        "seed": int(seed),
        "data": {"name": data.name, "n_pool": data.n_pool, "n_test": data.n_test},
        "initial_ids": data.pool_ids[initial].tolist(),
        "validation_ids": data.pool_ids[validation].tolist(),
    }


def _noise(config: ExperimentConfig, preds_val: torch.Tensor, y_std: float) -> float:
    """tau^-1 / tau_s^-1 of the run, in the units the model predicts (Appendix E, or fixed).

    A fixed ``config.noise`` is in the target's units squared: divided by ``y_std ** 2``
    when the targets are standardised. Otherwise ``noise_fraction`` x the initial model's
    mean dropout variance on the validation set.
    """
    if config.noise is not None:
        return float(config.noise) / (float(y_std) ** 2 if config.task == "regression" else 1.0)
    return noise_from_validation(preds_val.numpy(), config.task, config.fitted_noise_fraction)


def _test_metrics(model, x_test, y_test, config: ExperimentConfig, seed: int, it: int,
                  y_mean: float, y_std: float) -> dict:
    """The test metrics of iteration ``it``: MC-averaged (``test_mc_passes``) or deterministic."""
    if config.test_mc_passes:
        return evaluate_mc(model, x_test, y_test, config.task, n_passes=config.test_mc_passes,
                           seed=derive_seed(seed, "test-masks", it), y_mean=y_mean, y_std=y_std,
                           batch_size=config.predict_batch_size)
    return evaluate(model, x_test, y_test, config.task, y_mean=y_mean, y_std=y_std)


def _predict(model, x, config, seed, iteration, task):
    return mc_predict(model, x, n_masks=config.n_masks, seed=derive_seed(seed, "masks", iteration),
                      batch_size=config.predict_batch_size, task=task)


def target_scaling(config: ExperimentConfig, y_initial: torch.Tensor) -> tuple[float, float]:
    """``(y_mean, y_std)`` the loop standardises regression targets with: the mean and the
    population sd of the initial set's targets ``y_initial`` when ``config.standardize_y``
    (sd 1 when they are all equal), else ``(0, 1)``."""
    if config.task == "regression" and config.standardize_y:
        y = y_initial.double()
        return float(y.mean()), float(y.std(unbiased=False)) or 1.0
    return 0.0, 1.0


def initial_target_sd(config: ExperimentConfig, data: ALData, seeds: Sequence[int] | None = None) -> dict:
    """``{seed: y_std}`` of :func:`target_scaling` for each repeat's initial set (1.0 when the
    targets are not standardised): the scale of the run's tau^-1 in units of y."""
    seeds = config.seeds if seeds is None else seeds
    out = {}
    for s in seeds:
        if config.task != "regression" or not config.standardize_y:
            out[int(s)] = 1.0
            continue
        init, _ = initial_split(config, data, int(s))
        out[int(s)] = target_scaling(config, data.y_pool[torch.as_tensor(init)])[1]
    return out


def _check_arguments(config, method, seed) -> int:
    if not isinstance(config, ExperimentConfig):
        raise ValueError(f"config must be an ExperimentConfig, got {type(config).__name__}")
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    if method not in ACQUISITIONS:
        raise ValueError(f"unknown method {method!r}; valid methods: {', '.join(ACQUISITIONS)}")
    return int(seed)


class Run:
    """One active-learning run (``config``, ``method``, ``seed``), step by step.

    Made: the arguments and the data are checked (:func:`check_run`), the initial and
    validation sets drawn, the test subset and the target scaling fixed. Then
    :meth:`execute` = :meth:`open_table` (the store's table and sidecar, locked) ->
    :meth:`replay` (the labelled set of the rows already written) -> for each remaining
    iteration :meth:`train` -> :meth:`evaluate` -> :meth:`acquire` -> :meth:`row`.
    """

    def __init__(self, config: ExperimentConfig, method: str, seed: int = 0, *,
                 data: ALData | None = None, data_dir=None, results_dir="results", device=None):
        self.seed = _check_arguments(config, method, seed)
        self.config, self.method = config, method
        self.acquisition = get_acquisition(method)
        self.data = load_data(config, data_dir) if data is None else data
        check_run(config, self.data, method)
        self.device = torch.device(device) if device is not None else default_device()
        data = self.data
        self.initial, self.validation = initial_split(config, data, self.seed, data_dir=data_dir)
        self.state = RunState(data, self.initial, self.validation)
        test_pos = torch.as_tensor(_test_subset(config, data))
        self.x_test, self.y_test = data.x_test[test_pos], data.y_test[test_pos]
        val = torch.as_tensor(self.validation)
        self.x_val, self.y_val = data.x_pool[val], data.y_pool[val]
        self.y_mean, self.y_std = target_scaling(config, data.y_pool[torch.as_tensor(self.initial)])
        self.path = run_results_path(config, method, self.seed, results_dir)
        self.noise: float | None = None
        self.table: store.RunTable | None = None

    def _scaled_targets(self, y: torch.Tensor) -> torch.Tensor:
        if self.config.task == "classification":
            return y
        return (y.double() - self.y_mean) / self.y_std

    def open_table(self) -> list[dict]:
        """Open (or create) the run's table: one writer per table (RunLockedError); the rows
        already there, checked against this run's sidecar."""
        sidecar = _sidecar(self.config, self.method, self.seed, self.data, self.initial,
                           self.validation, self.device)
        self.table = store.RunTable(self.path)
        return self.table.open(sidecar)

    def replay(self, rows: list[dict]) -> int:
        """Replay the recorded picks into the labelled set; the first iteration still to run.

        Every complete row with picks is kept; a final row without picks is redone when the run
        is now longer (its acquisition is still to be made), so it is cut from the table.
        """
        config, n_iter = self.config, self.config.n_iterations
        keep = 0
        for k, row in enumerate(rows):
            if (int(row["iteration"]) != k or row["method"] != self.method or int(row["seed"]) != self.seed
                    or row["experiment"] != config.experiment):
                raise ValueError(f"{self.path}: row {k} does not belong to this run (iteration "
                                 f"{row['iteration']}, method {row['method']!r}, seed {row['seed']})")
            picks = store.parse_picked(row["picked"])
            if len(picks) == 0 and k < n_iter:
                break
            self.noise = float(row["noise"])
            keep = k + 1
            if len(picks):
                self.state.add(self.data.positions_of(picks, "recorded picks"))
            if k >= n_iter:
                break
        if keep <= n_iter and keep < len(rows):
            self.table.truncate_rows(keep)  # a partial run's redone final row
        return keep

    def train(self, it: int):
        """A fresh model trained from scratch on the labelled set (weights ``"weights", it``)."""
        config, data = self.config, self.data
        lab_t = torch.as_tensor(np.asarray(self.state.labelled, dtype=np.int64))
        x_lab, y_lab = data.x_pool[lab_t], self._scaled_targets(data.y_pool[lab_t])
        torch.manual_seed(derive_seed(self.seed, "weights", it))
        model = build_model(config, data.input_shape, data.n_classes or 1).to(self.device)
        train_model(model, x_lab, y_lab, task=config.task, steps=config.train_steps,
                    epochs=config.train_epochs, batch_size=config.train_batch_size,
                    lr=config.learning_rate, weight_decay=weight_decay(config.weight_decay_c, len(lab_t)),
                    seed=derive_seed(self.seed, "train", it), optimizer=config.optimizer)
        return model

    def evaluate(self, model, it: int) -> tuple[dict, float]:
        """``(test metrics, validation uncertainty R^2)``; fixes the run's noise at iteration 0."""
        config = self.config
        metrics = _test_metrics(model, self.x_test, self.y_test, config, self.seed, it,
                                self.y_mean, self.y_std)
        preds_val = mc_predict(model, self.x_val, n_masks=config.n_masks,
                               seed=derive_seed(self.seed, "val-masks"),
                               batch_size=config.predict_batch_size, task=config.task).double().cpu()
        y_val = self._scaled_targets(self.y_val).double()
        val_r2 = uncertainty_quality(preds_val.numpy(), y_val.numpy(), config.task)
        if self.noise is None:
            self.noise = _noise(config, preds_val, self.y_std)
        return metrics, val_r2

    def acquire(self, model, it: int) -> tuple[np.ndarray, float, int]:
        """``(picked pool positions, diversity, n_candidates)`` of iteration ``it``."""
        return _acquire(self.acquisition, model, self.data, self.state, self.config, self.seed,
                        it, self.noise)

    def row(self, it: int, metrics: dict, val_r2: float, picked_ids: np.ndarray, diversity: float,
            n_cand: int, seconds: Sequence[float]) -> dict:
        """The table row of iteration ``it`` (:data:`~deimos_utils.experiment.store.COLUMNS`)."""
        config = self.config
        return {
            "experiment": config.experiment, "preset": config.preset, "tag": config.tag,
            "method": self.method, "seed": self.seed, "iteration": it,
            "n_acquired": it * config.batch_size, "n_labelled": len(self.state.labelled),
            "batch_size": config.batch_size, "n_candidates": n_cand,
            "test_accuracy": metrics.get("test_accuracy", float("nan")),
            "test_nll": metrics.get("test_nll", float("nan")),
            "test_mse": metrics.get("test_mse", float("nan")),
            "test_rmse": metrics.get("test_rmse", float("nan")),
            "val_uncertainty_r2": val_r2, "noise": self.noise, "diversity": diversity,
            "picked": store.format_picked(picked_ids),
            "train_seconds": seconds[0], "eval_seconds": seconds[1], "acquire_seconds": seconds[2],
        }

    def iteration(self, it: int) -> dict:
        """Train, evaluate, acquire (but in the last iteration), write the row; return it."""
        t0 = time.perf_counter()
        model = self.train(it)
        t1 = time.perf_counter()
        metrics, val_r2 = self.evaluate(model, it)
        t2 = time.perf_counter()
        picked_pos, picked_ids = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        diversity, n_cand = float("nan"), 0
        if it < self.config.n_iterations:
            picked_pos, diversity, n_cand = self.acquire(model, it)
            picked_ids = self.data.pool_ids[picked_pos]
        t3 = time.perf_counter()
        row = self.row(it, metrics, val_r2, picked_ids, diversity, n_cand, (t1 - t0, t2 - t1, t3 - t2))
        self.table.append(row)
        if len(picked_ids):
            self.state.add(picked_pos)
        return row

    def read(self) -> pd.DataFrame:
        """The rows the run's table holds now, training nothing (rows 0..n_iterations; empty when
        there is no table). Takes no lock, so a run another process is writing can be read: a
        partial last line is dropped. The sidecar is checked as :meth:`open_table` checks it."""
        if not self.path.exists():
            return store.read_table(self.path)
        sidecar = _sidecar(self.config, self.method, self.seed, self.data, self.initial,
                           self.validation, self.device)
        store.check_sidecar(self.path.with_suffix(".json"), sidecar)
        out = store.read_table(self.path)
        return out[out["iteration"] <= self.config.n_iterations].reset_index(drop=True)

    def execute(self, progress: bool = True) -> pd.DataFrame:
        """Run (or resume) every iteration still to run; the run's table (see :func:`run_experiment`)."""
        config, n_iter = self.config, self.config.n_iterations
        keep_freed_memory()
        start = self.replay(self.open_table())
        main = "test_accuracy" if config.task == "classification" else "test_rmse"
        bar = progress_bar(total=n_iter + 1, initial=min(start, n_iter + 1), disable=not progress,
                           desc=f"{config.experiment} {self.method} seed {self.seed}", unit="iter",
                           leave=True)
        try:
            for it in range(start, n_iter + 1):
                row = self.iteration(it)
                bar.update(1)
                bar.set_postfix({main: f"{row[main]:.4f}"}, refresh=False)
        finally:
            bar.close()
            self.table.close()
        out = store.read_table(self.path)
        # a table written by a longer run of the same configuration is left alone
        return out[out["iteration"] <= n_iter].reset_index(drop=True)


def run_experiment(
    config: ExperimentConfig,
    method: str,
    seed: int = 0,
    *,
    data: ALData | None = None,
    data_dir=None,
    results_dir="results",
    device=None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run (or resume) one active-learning run and return its results table.

    Parameters
    ----------
    config : the experiment (see :func:`~deimos_utils.experiment.config.get_config`).
    method : acquisition name (a key of ``ACQUISITIONS``; need not be in ``config.methods``).
    seed : the repeat; fixes the initial and validation sets, candidates, masks, training.
    data : the dataset; default ``load_data(config, data_dir)``.
    results_dir : root of the results store; the table is
        ``<results_dir>/<experiment>/<run_name>/<method>__seed<seed>.csv``.
    device : torch device for training and prediction; default CUDA when available.
    progress : show a tqdm bar.

    Returns
    -------
    DataFrame with one row per iteration 0..n_acquired/batch_size (see
    :data:`~deimos_utils.experiment.store.COLUMNS`). Row i evaluates the model trained on the initial
    set plus the first i batches; its ``picked`` holds the ids (``data.pool_ids``) of the
    batch acquired after that evaluation (empty in the last row).

    A run whose table already exists continues after its last complete row; a completed run
    returns its table without training anything. ``n_acquired`` may grow between calls (the
    run continues); a table longer than the configuration asks for is returned cut to
    ``n_iterations`` rows and left as it is on disk.
    """
    return Run(config, method, seed, data=data, data_dir=data_dir, results_dir=results_dir,
               device=device).execute(progress)


def _acquire(acquisition, model, data: ALData, state: RunState, config: ExperimentConfig,
             seed: int, it: int, noise: float) -> tuple[np.ndarray, float, int]:
    """Candidates, predictions and one batch: ``(picked pool positions, diversity, n_cand)``."""
    task = config.task
    cand, extra = draw_candidates(state.mask, state.eligible, config.n_candidates,
                                  make_rng(seed, "candidates", it))
    b = config.batch_size
    if len(cand) < b:
        raise ValueError(f"only {len(cand)} unlabelled pool points are left for a batch of {b}")
    ctx = AcquisitionContext(batch_size=b, rng=make_rng(seed, "acquire", it), task=task,
                             noise=noise, n_candidates=len(cand), smoothing=config.smoothing)
    cand_preds = None
    if "preds" in acquisition.needs:
        use_extra = "sample" in acquisition.needs and len(extra) > 0
        pos = np.concatenate([cand, extra]) if use_extra else cand
        preds = _predict(model, data.x_pool[torch.as_tensor(pos)], config, seed, it, task)
        cand_preds = preds[: len(cand)]
        ctx.cand_preds = cand_preds
        if use_extra:
            ctx.extra_preds = preds[len(cand):]
    if "embeddings" in acquisition.needs:
        layer = model.embedding_layer
        lab = torch.as_tensor(np.asarray(state.labelled, dtype=np.int64))
        ctx.emb_labelled = embed(model, data.x_pool[lab], layer, config.predict_batch_size)
        ctx.emb_candidates = embed(model, data.x_pool[torch.as_tensor(cand)], layer,
                                   config.predict_batch_size)
    picked = np.asarray(acquisition(ctx), dtype=np.int64)
    if picked.shape != (b,) or len(np.unique(picked)) != b or picked.min() < 0 or picked.max() >= len(cand):
        raise RuntimeError(f"acquisition {acquisition.name!r} returned {picked.tolist()} for a batch "
                           f"of {b} among {len(cand)} candidates")
    diversity = float("nan")
    if task == "classification" and b >= 2:
        if cand_preds is not None:
            batch_preds = cand_preds[torch.as_tensor(picked, device=cand_preds.device)]
        else:
            batch_preds = _predict(model, data.x_pool[torch.as_tensor(cand[picked])], config, seed, it, task)
        diversity = batch_diversity(batch_preds.double().mean(dim=-1).cpu().numpy())
    return cand[picked], diversity, len(cand)


# ------------------------------------------------------------------------------------ many runs

def run_all(
    config: ExperimentConfig,
    *,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] | None = None,
    data: ALData | None = None,
    data_dir=None,
    results_dir="results",
    device=None,
    progress: bool = True,
    train: bool = True,
) -> pd.DataFrame:
    """Run (or resume) every (seed, method) of ``config``; return all their rows.

    ``methods`` default ``config.methods``; ``seeds`` default ``0..n_repeats-1``. Runs go
    seed by seed, so that an interrupted sweep already holds whole repeats. Every run is
    checked before the first one starts.

    ``train=False`` trains nothing: the rows the tables hold now (:meth:`Run.read`; a grid
    that another process is running can be looked at), with a ``UserWarning`` naming the runs
    that are missing or unfinished; FileNotFoundError when no run has a row.
    """
    methods = tuple(config.methods if methods is None else methods)
    seeds = tuple(config.seeds if seeds is None else seeds)
    if data is None:
        data = load_data(config, data_dir)
    for m in methods:
        check_run(config, data, m)
    if not train:
        return _read_all(config, methods, seeds, data, data_dir, results_dir, device)
    frames = []
    for s in seeds:
        for m in methods:
            frames.append(run_experiment(config, m, s, data=data, data_dir=data_dir,
                                         results_dir=results_dir, device=device, progress=progress))
    return pd.concat(frames, ignore_index=True)


def _read_all(config, methods, seeds, data, data_dir, results_dir, device) -> pd.DataFrame:
    """:func:`run_all` with ``train=False``: every run's rows read, the unfinished ones named."""
    frames, short = [], []
    for s in seeds:
        for m in methods:
            rows = Run(config, m, s, data=data, data_dir=data_dir, results_dir=results_dir, device=device).read()
            if len(rows) < config.n_iterations + 1:
                short.append(f"{m} seed {s} ({len(rows)} of {config.n_iterations + 1} rows)")
            frames.append(rows)
    if not any(len(f) for f in frames):
        where = Path(results_dir) / config.experiment / config.run_name
        raise FileNotFoundError(
            f"{config.experiment} [{config.run_name}]: no rows under {where} to read (train=False trains "
            f"nothing); run the grid first, e.g. python -m deimos_utils.experiment.cli {config.experiment} "
            f"--preset {config.preset}")
    if short:
        warnings.warn(f"{config.experiment} [{config.run_name}]: {len(short)} of {len(frames)} runs are missing or "
                      f"unfinished, read as they are (train=False): {'; '.join(short)}", UserWarning, stacklevel=3)
    return pd.concat(frames, ignore_index=True)

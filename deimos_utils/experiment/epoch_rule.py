"""The cpu preset's epoch count: the rule of ``docs/cpu_preset.md`` and its measurement.

For each model family, the paper preset's model is trained for the authors' epoch count on
the initial set and on the largest training set of the cpu grid; the training objective
(mean data loss + L2 penalty, whole training set, dropout off) is recorded after each epoch
count of :data:`EPOCH_GRID`. :func:`choose_epochs` applies the rule: the smallest count within
5% (plus a small absolute allowance) of the objective at the authors' count, on both sets.
"""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ..uncertainty.calibration import weight_decay
from .config import get_config
from .models import build_model
from ..runtime import derive_seed, make_rng
from .training import predict, train_model

__all__ = ["EPOCH_GRID", "FAMILIES", "training_objective", "objective_by_epoch", "measure_family",
           "passing_epochs", "choose_epochs", "load_measurement", "family_of", "rule_table"]

EPOCH_GRID = (25, 50, 75, 100, 150, 200)
#: model family -> the cpu-grid experiments that share its epoch count
FAMILIES = {
    "mnist_7v9": ("mnist_7v9_b1", "mnist_7v9_b25"),
    "mnist_0to9": ("mnist_0to9_b25",),
    "splicing": ("splicing",),
    "utkface": ("utkface_b100", "utkface_b200"),
}
REL_TOL = 0.05
ABS_TOL_CLASSIFICATION = 0.005   # nats
ABS_TOL_REGRESSION = 0.005       # fraction of the training targets' variance


def training_objective(model, x, y, task: str, lam: float) -> float:
    """Mean data loss over all of ``(x, y)`` with dropout off, plus ``lam * sum W^2`` (dense)."""
    out = predict(model, x)
    y = torch.as_tensor(y)
    if task == "classification":
        data_loss = float(F.cross_entropy(out.double(), y.long()))
    else:
        data_loss = float(((out.double().reshape(-1) - y.double().reshape(-1)) ** 2).mean())
    penalty = sum(float((layer.weight.detach().double() ** 2).sum()) for layer in model.dense_layers)
    return data_loss + lam * penalty


def objective_by_epoch(config, x, y, epochs, seed: int = 0) -> dict[int, float]:
    """Train ``config``'s model on ``(x, y)`` for ``max(epochs)`` epochs (the loop's schedule);
    the objective after each count in ``epochs``."""
    n = int(x.shape[0])
    steps_per_epoch = math.ceil(n / min(config.train_batch_size, n))
    want = {e * steps_per_epoch: e for e in epochs}
    lam = weight_decay(config.weight_decay_c, n)
    out: dict[int, float] = {}

    def record(step, model):
        if step in want:
            out[want[step]] = training_objective(model, x, y, config.task, lam)

    torch.manual_seed(derive_seed(seed, "weights", 0))
    n_out = int(y.max()) + 1 if config.task == "classification" else 1
    model = build_model(config, tuple(x.shape[1:]), n_out)
    train_model(model, x, y, task=config.task, epochs=max(epochs), steps=0,
                batch_size=config.train_batch_size, lr=config.learning_rate, weight_decay=lam,
                seed=derive_seed(seed, "train", 0), optimizer=config.optimizer, callback=record)
    return out


def measure_family(family: str, data_dir=None, seed: int = 0, progress: bool = True) -> pd.DataFrame:
    """Rows (family, set, n_train, epochs, objective, seconds) for one model family."""
    from ..data.aldata import load_data
    from .loop import initial_split

    experiments = FAMILIES[family]
    configs = [get_config(e, "paper") for e in experiments]
    cfg = max(configs, key=lambda c: c.n_acquired)
    cpu = get_config(cfg.experiment, "cpu")
    cfg = cfg.replace(resolution=cpu.resolution)  # UTKFace at the cpu preset's 64 px
    data = load_data(cfg, data_dir)
    init, val = initial_split(cfg, data, seed, data_dir=data_dir)
    rest = np.setdiff1d(np.arange(data.n_pool), np.concatenate([init, val]))
    extra = make_rng(seed, "epoch-rule").choice(rest, cfg.n_acquired, replace=False)
    e_star = cfg.train_epochs
    grid = tuple(e for e in EPOCH_GRID if e < e_star) + (e_star,)
    rows = []
    for name, pos in (("initial", init), ("largest", np.concatenate([init, extra]))):
        t = torch.as_tensor(np.sort(pos))
        x, y = data.x_pool[t], data.y_pool[t]
        t0 = time.perf_counter()
        objective = objective_by_epoch(cfg, x, y, grid, seed)
        seconds = time.perf_counter() - t0
        y_var = float(y.double().var()) if cfg.task == "regression" else float("nan")
        for e in grid:
            rows.append({"family": family, "set": name, "n_train": len(pos), "epochs": e,
                         "objective": objective[e], "target_var": y_var,
                         "seconds_authors_epochs": seconds, "task": cfg.task})
        if progress:
            print(f"{family} {name} (N = {len(pos)}): {seconds:.0f} s for {e_star} epochs", flush=True)
    return pd.DataFrame(rows)


def passing_epochs(fam: pd.DataFrame) -> set[int]:
    """The epoch counts of one family's rows that are within tolerance on both sets."""
    e_star = int(fam["epochs"].max())
    ok_all = None
    for _, part in fam.groupby("set"):
        ref = float(part.loc[part.epochs == e_star, "objective"].iloc[0])
        if part["task"].iloc[0] == "classification":
            allowance = ABS_TOL_CLASSIFICATION
        else:
            allowance = ABS_TOL_REGRESSION * float(part["target_var"].iloc[0])
        ok = set(part.loc[part.objective <= ref * (1 + REL_TOL) + allowance, "epochs"].astype(int))
        ok_all = ok if ok_all is None else ok_all & ok
    return ok_all


def choose_epochs(table: pd.DataFrame) -> dict[str, int]:
    """The rule: per family, the smallest epoch count within tolerance on both sets."""
    return {family: min(passing_epochs(fam)) for family, fam in table.groupby("family", sort=False)}


#: where ``benchmarks/epoch_rule.py`` writes the measurement (under the project root)
MEASUREMENT_FILE = "results/epoch_rule.csv"


def load_measurement(path=None) -> pd.DataFrame:
    """The recorded measurement (``results/epoch_rule.csv`` of the project by default);
    FileNotFoundError naming the file and the command that writes it."""
    from pathlib import Path

    from ..locations import project_root

    path = Path(path) if path is not None else project_root() / MEASUREMENT_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no epoch-rule measurement at {path}: "
                                f"`python benchmarks/epoch_rule.py [family]` writes it")
    return pd.read_csv(path)


def family_of(experiment: str) -> str:
    """The model family whose epoch count ``experiment`` uses (a key of :data:`FAMILIES`)."""
    for family, members in FAMILIES.items():
        if experiment in members:
            return family
    raise ValueError(f"experiment {experiment!r} is in no family of the epoch rule; "
                     f"families: {FAMILIES}")


def rule_table(measurement: pd.DataFrame, family: str) -> pd.DataFrame:
    """The objective by epoch count (rows) on the initial and largest sets (columns), each also
    relative to the authors' count, and whether the count passes the rule on both sets.
    ``attrs["epochs"]``: the rule's count (None when the family is not measured yet)."""
    fam = measurement[measurement["family"] == family]
    if fam.empty:
        out = pd.DataFrame()
        out.attrs["epochs"] = None
        return out
    table = fam.pivot_table(index="epochs", columns="set", values="objective")
    e_star = int(fam["epochs"].max())
    for name in list(table.columns):
        table[f"{name} / E*"] = table[name] / table.loc[e_star, name]
    passing = passing_epochs(fam)
    table["within the rule"] = [int(e) in passing for e in table.index]
    sizes = fam.groupby("set")["n_train"].first().to_dict()
    table.columns.name = ", ".join(f"{k}: N = {v}" for k, v in sizes.items())
    table.attrs["epochs"] = min(passing)
    table.attrs["seconds_authors_epochs"] = fam.groupby("set")["seconds_authors_epochs"].first().to_dict()
    return table

"""The authors' published results as data: their per-seed curves, initial sets and splits.

The authors published their experiment code and results (GitHub ``unagpal/Active-Learning-
Splicing`` at :data:`AUTHORS_COMMIT`; ``../shared/AUTHORS.md`` sums up what they ran). Only their
``.npy`` arrays are used here, read from ``<data dir>/authors/<their relative path>``, downloaded
from that commit when a network is there; none of their code is used or copied.

>>> df = load_authors_results("mnist_7v9_b1")      # columns as the loop's results tables
>>> df.attrs["notes"]                              # the quirks of these arrays, in words

Experiments (keys of :data:`AUTHORS_EXPERIMENTS`): ``mnist_7v9_b1``, ``mnist_7v9_b25``,
``mnist_0to9_b100`` (their 0-9 arrays are batches of 100, not the paper's 25), ``utkface_b100``,
``utkface_b200`` and ``splicing``. Seeds 0, 1, 2 are their ``Ind1..3``; entry k of a curve is the
model trained on the initial set plus k batches; each seed keeps its own length.
"""
from __future__ import annotations

import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .paths import MissingDataError, file_digest, missing_files_message, resolve_data_dir

__all__ = [
    "AUTHORS_REPO",
    "AUTHORS_COMMIT",
    "AUTHORS_EXPERIMENTS",
    "AUTHORS_EXPERIMENT_OF",
    "AUTHORS_SEEDS",
    "authors_experiment_of",
    "AuthorsExperiment",
    "authors_file",
    "verify_authors_file",
    "authors_files",
    "load_authors_results",
    "within_horizon",
    "authors_initial_ids",
    "authors_splicing_split",
    "load_authors_optimality_ratios",
    "load_authors_1d",
]

AUTHORS_REPO = "unagpal/Active-Learning-Splicing"
AUTHORS_COMMIT = "b1d4f3b9f8efbb4b3929a1ccb4dca433ec4e2335"
AUTHORS_SEEDS = (0, 1, 2)
"""Our seed k is their ``Ind{k+1}``."""
_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"
_SUBDIR = "authors"


@dataclass(frozen=True)
class AuthorsExperiment:
    """Where one experiment's arrays are and what they must hold.

    ``files`` maps a method (a name of ``ACQUISITIONS``) to ``(pattern, n_acquired)``: the
    array's relative path with ``{k}`` for 1..3, and the acquisitions it must cover at least
    (so ``n_acquired / batch_size + 1`` entries). ``metric`` is ``"test_accuracy"`` or
    ``"test_mse"``; ``horizon`` the acquisitions the paper's tests and figures use (the
    iterations up to it are what reproduces its p-values); ``notes`` are the quirks of these arrays (from AUTHORS.md), said wherever
    the arrays are shown.
    """

    batch_size: int
    metric: str
    files: dict
    n_initial: int
    horizon: int
    notes: tuple = field(default_factory=tuple)


_B79 = "MNIST/Binary_7_9_AL_Results/"
_M09 = "MNIST/MultiClass_AL_Results/"
_UTK = "UTKFace/AL_Results/"
_SPL = "5p_Splicing/AL_Results/"

AUTHORS_EXPERIMENTS: dict[str, AuthorsExperiment] = {
    "mnist_7v9_b1": AuthorsExperiment(1, "test_accuracy", {
        "deimos": (_B79 + "EI_BS1_TauInv8.37e-05_Acc_Ind{k}.npy", 1000),
        "bald": (_B79 + "BALDRevised_BS1_Acc_Ind{k}.npy", 200),
        "max_entropy": (_B79 + "MaxEnt_BS1_Acc_Ind{k}.npy", 1000),
        "random": (_B79 + "Rand_BS1_Acc_Ind{k}.npy", 1000),
        "kcenter": (_B79 + "CoreSetExact_BS1_Acc_Ind{k}.npy", 200),
    }, 10, 200, ("BALD and robust k-center ran 200 acquisitions, the others 1,000; Table 2 uses the "
            "first 201 entries of each.",)),
    "mnist_7v9_b25": AuthorsExperiment(25, "test_accuracy", {
        "deimos": (_B79 + "EI_BS25_TauInv8.37e-05_Acc_Ind{k}.npy", 1000),
        "batchbald": (_B79 + "BatchBald_BS25_Acc_Ind{k}.npy", 1000),
        "max_entropy": (_B79 + "MaxEnt_BS25_Acc_Ind{k}.npy", 1000),
        "random": (_B79 + "Rand_BS25_Acc_Ind{k}.npy", 1000),
        "kcenter": (_B79 + "RobustKCenter_BS25_Acc_Ind{k}.npy", 500),
    }, 10, 500, ("Robust k-center ran 500 acquisitions (20 batches), the others 1,000.",)),
    "mnist_0to9_b100": AuthorsExperiment(100, "test_accuracy", {
        "deimos": (_M09 + "EITauInv0.00003/EIAccBS100Ind{k}.npy", 1000),
        "batchbald": (_M09 + "BatchBaldAccBS100Ind{k}.npy", 1000),
        "max_entropy": (_M09 + "MaxEntAccBS100Ind{k}.npy", 1000),
        "random": (_M09 + "RandomAccBS100Ind{k}.npy", 1000),
        "kcenter": (_M09 + "RobustKCenterAccBS100Ind{k}.npy", 1000),
    }, 30, 1000, ("The authors' published MNIST 0-9 arrays are batches of 100; the paper's Fig 3b "
            "reports batches of 25, a run that is not in their repository.",)),
    "utkface_b100": AuthorsExperiment(100, "test_mse", {
        "deimos": (_UTK + "EITauInv5.5477MSEBS100_Ind{k}.npy", 2000),
        "max_variance": (_UTK + "MaxVarMSEBS100_Ind{k}.npy", 2000),
        "random": (_UTK + "RandMSEBS100_Ind{k}.npy", 2000),
    }, 150, 2000, ("Ages in years; test RMSE = sqrt(MSE) per seed.",)),
    "utkface_b200": AuthorsExperiment(200, "test_mse", {
        "deimos": (_UTK + "EITauInv5.5477MSEBS200_Ind{k}.npy", 2000),
        "max_variance": (_UTK + "MaxVarMSEBS200_Ind{k}.npy", 2000),
        "random": (_UTK + "RandMSEBS200_Ind{k}.npy", 2000),
    }, 150, 2000, ("Random at b = 200 is not a run of its own: the authors' RandMSEBS200 arrays are "
             "their b = 100 random curves taken every second entry.",
             "Ages in years; test RMSE = sqrt(MSE) per seed.")),
    "splicing": AuthorsExperiment(1, "test_mse", {
        "deimos": (_SPL + "EI_BS1_MSE_Ind{k}.npy", 600),
        "max_variance": (_SPL + "MaxVar_BS1_MSE_Ind{k}.npy", 750),
        "random": (_SPL + "Rand_BS1_MSE_Ind{k}.npy", 600),
    }, 75, 600, ("Real A5SS library (265,137 sequences). Runs have 600-900 acquisitions; Table 1 "
            "uses the first 600 entries (750 for max variance).",
            "Resumed runs: max-variance seeds 1 and 2 hold one MSE more than their acquired "
            "indices; kept as published.",
            "Seed 0's initial set is the first 75 non-test rows of the file (sorted), not a "
            "random draw.")),
}

#: the authors' initial sets: our experiment prefix -> their index files (seed k -> k+1)
#: our experiment -> the authors' arrays shown beside it
AUTHORS_EXPERIMENT_OF = {
    "mnist_7v9_b1": "mnist_7v9_b1",
    "mnist_7v9_b25": "mnist_7v9_b25",
    "mnist_0to9_b25": "mnist_0to9_b100",  # their 0-9 arrays are batches of 100 only
    "mnist_0to9_b100": "mnist_0to9_b100",
    "utkface_b100": "utkface_b100",
    "utkface_b200": "utkface_b200",
    "splicing": "splicing",
}
_INITIAL_SETS = {
    "mnist_7v9": ("MNIST/Binary_7_9_AL_Scripts/trainindices{k}.npy", 10),
    "mnist_0to9": ("MNIST/MultiClass_AL_Scripts/trainindices{k}.npy", 30),
    "splicing": ("5p_Splicing/AL_Scripts/trainindices{k}.npy", 75),
}


# ------------------------------------------------------------------------------------ files

def _root(data_dir) -> Path:
    return resolve_data_dir(data_dir) / _SUBDIR


#: sha256 of every file of the authors' repository used here (their relative paths)
CHECKSUMS_FILE = Path(__file__).resolve().parent / "authors_sha256.txt"


def _expected_digests() -> dict[str, str]:
    out = {}
    for line in CHECKSUMS_FILE.read_text().splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2:
            out[parts[1].strip()] = parts[0]
    return out


def verify_authors_file(path: Path, rel: str) -> None:
    """ValueError when ``path`` is not byte-identical to the authors' file ``rel``."""
    want = _expected_digests().get(rel)
    if want is not None and file_digest(path) != want:
        raise ValueError(f"{path} differs from the authors' published file (sha256 {want}); "
                         "replace it with the file of their repository at the pinned commit")


def _download(rel: str, dest: Path) -> bool:
    url = _URL.format(repo=AUTHORS_REPO, commit=AUTHORS_COMMIT, path=rel)
    try:
        with urllib.request.urlopen(url, timeout=20) as response:
            payload = response.read()
    except Exception:  # no network, or the host refused: the caller reports what is missing
        return False
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(dest.suffix + ".part")
        tmp.write_bytes(payload)
        tmp.replace(dest)
    except OSError:
        return False
    return True


def authors_file(rel: str, data_dir=None, *, download: bool = True) -> Path:
    """Path of the authors' file ``rel`` (their relative path) below ``<data dir>/authors``.

    Downloads it from :data:`AUTHORS_COMMIT` when absent and ``download``; raises
    :class:`MissingDataError` naming the file and where to get it otherwise. (Readers check
    its content, then its sha256 against :data:`CHECKSUMS_FILE`.)
    """
    root = _root(data_dir)
    path = root / rel
    if not path.is_file() and not (download and _download(rel, path)):
        raise MissingDataError(missing_files_message(
            "The authors' results", root, [rel],
            f"Download it from https://github.com/{AUTHORS_REPO}/blob/{AUTHORS_COMMIT}/{rel} "
            "(every .npy of that commit, at the same relative path), or run `make data`."))
    return path


def _read(rel: str, data_dir, download: bool, kind: str, check=None) -> tuple[np.ndarray, Path]:
    """The authors' array ``rel``: found (or downloaded), content-checked, then verified."""
    path = authors_file(rel, data_dir, download=download)
    arr = _load_array(path, kind)
    if check is not None:
        check(arr, path)
    verify_authors_file(path, rel)
    return arr, path


def _load_array(path: Path, kind: str) -> np.ndarray:
    """A 1D array from ``path``: float (``kind="float"``) or integer (``"int"``), else ValueError."""
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise ValueError(f"{path} is not a readable .npy array ({exc})") from None
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{path} holds an array of shape {arr.shape}; expected a non-empty 1D array")
    ok = np.issubdtype(arr.dtype, np.floating) if kind == "float" else np.issubdtype(arr.dtype, np.integer)
    if not ok:
        raise ValueError(f"{path} holds dtype {arr.dtype}; expected {kind} values")
    if kind == "float" and not np.all(np.isfinite(arr)):
        raise ValueError(f"{path} holds non-finite values")
    return arr


# ------------------------------------------------------------------------------------ results

def _lookup(table: dict, experiment: str, whose: str):
    if experiment not in table:
        raise ValueError(f"the authors published no arrays for {whose}experiment {experiment!r}; "
                         f"experiments with arrays: {', '.join(table)}")
    return table[experiment]


def _check_experiment(experiment: str) -> AuthorsExperiment:
    return _lookup(AUTHORS_EXPERIMENTS, experiment, "")


def authors_experiment_of(experiment: str) -> str:
    """The authors' experiment whose arrays go with our ``experiment``
    (:data:`AUTHORS_EXPERIMENT_OF`); ValueError listing ours that have arrays otherwise."""
    return _lookup(AUTHORS_EXPERIMENT_OF, experiment, "our ")


def _check_curve(values: np.ndarray, path: Path, spec: AuthorsExperiment, n_acquired: int) -> None:
    need = n_acquired // spec.batch_size + 1
    if values.size < need:
        raise ValueError(f"{path} holds {values.size} entries; the authors' run covers "
                         f"{n_acquired} acquisitions in batches of {spec.batch_size}, so it must "
                         f"hold at least {need} (a truncated or wrong file?)")
    if spec.metric == "test_accuracy" and (values.min() < 0 or values.max() > 1):
        raise ValueError(f"{path} holds accuracies outside [0, 1]")
    if spec.metric == "test_mse" and values.min() < 0:
        raise ValueError(f"{path} holds negative MSEs")


def load_authors_results(experiment: str, data_dir=None, *, download: bool = True) -> pd.DataFrame:
    """The authors' per-seed curves of ``experiment`` as one tidy table.

    Columns: ``experiment``, ``preset`` (``"authors"``), ``tag``, ``method``, ``seed``
    (0..2 = their Ind1..3), ``iteration``, ``n_acquired``, ``n_labelled``, ``batch_size`` and
    ``test_accuracy`` (classification) or ``test_mse`` and ``test_rmse`` (regression, in the
    target's units: years for UTKFace). Every entry of every array is kept, each seed at its
    own length; ``df.attrs["notes"]`` lists the quirks of the arrays (and where a curve runs
    longer than the run it belongs to).

    Raises ValueError for an unknown experiment or a bad array (wrong shape, dtype, range or
    too short), :class:`MissingDataError` for an absent file that cannot be downloaded; both
    name the file.
    """
    spec = _check_experiment(experiment)
    frames, notes = [], list(spec.notes)
    missing = []
    for method, (pattern, n_acquired) in spec.files.items():
        for seed in AUTHORS_SEEDS:
            rel = pattern.format(k=seed + 1)
            try:
                values, _ = _read(rel, data_dir, download, "float",
                                  lambda arr, path: _check_curve(arr, path, spec, n_acquired))
            except MissingDataError:
                missing.append(rel)
                continue
            extra = values.size - (n_acquired // spec.batch_size + 1)
            if extra > 0 and experiment != "splicing":  # splicing runs differ in length anyway
                notes.append(f"{method} seed {seed}: {Path(rel).name} holds {extra} entries beyond "
                             f"its run's {n_acquired} acquisitions; kept as published.")
            it = np.arange(values.size)
            frame = {
                "experiment": experiment, "preset": "authors", "tag": "", "method": method,
                "seed": seed, "iteration": it, "n_acquired": it * spec.batch_size,
                "n_labelled": spec.n_initial + it * spec.batch_size,
                "batch_size": spec.batch_size, spec.metric: values,
            }
            if spec.metric == "test_mse":
                frame["test_rmse"] = np.sqrt(values)
            frames.append(pd.DataFrame(frame))
    if missing:
        raise MissingDataError(missing_files_message(
            f"The authors' results for {experiment!r}", _root(data_dir), missing,
            f"Download them from https://github.com/{AUTHORS_REPO} at commit {AUTHORS_COMMIT} "
            "(the same relative paths), or run `make data`."))
    out = pd.concat(frames, ignore_index=True)
    out.attrs["notes"] = notes
    out.attrs["source"] = f"{AUTHORS_REPO}@{AUTHORS_COMMIT[:7]}"
    return out


# ------------------------------------------------------------------------------------ sets

def within_horizon(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of an authors' table up to each experiment's ``horizon`` (the paper's range)."""
    keep = np.zeros(len(df), dtype=bool)
    for experiment, rows in df.groupby("experiment").groups.items():
        h = _check_experiment(experiment).horizon
        keep[df.index.get_indexer(rows)] = df.loc[rows, "n_acquired"].to_numpy() <= h
    return df[keep].reset_index(drop=True)


def _initial_key(experiment: str) -> str:
    for key in _INITIAL_SETS:
        if experiment == key or experiment.startswith(key + "_"):
            return key
    raise ValueError(f"the authors' initial sets index data we have for MNIST and splicing "
                     f"only, not for experiment {experiment!r} (UTKFace's index their own, "
                     f"unpublished split); use initial_set='random'")


def _seed_file(pattern: str, seed) -> str:
    if isinstance(seed, bool) or int(seed) != seed or int(seed) not in AUTHORS_SEEDS:
        raise ValueError(f"the authors ran seeds {AUTHORS_SEEDS} (their Ind1..3), got seed {seed!r}")
    return pattern.format(k=int(seed) + 1)


def authors_initial_ids(experiment: str, seed: int, data_dir=None, *, download: bool = True) -> np.ndarray:
    """The authors' initial labelled set of ``experiment`` for seed 0..2, as dataset ids.

    MNIST: indices into the official 60,000 training images (10 for 7 vs 9, 30 for 0-9).
    Splicing: the first 75 rows of their training split (row numbers of the A5SS file).
    """
    pattern, n = _INITIAL_SETS[_initial_key(experiment)]

    def check(ids, path):
        if ids.size < n:
            raise ValueError(f"{path} holds {ids.size} indices; the initial set needs {n}")
        if np.unique(ids[:n]).size != n:
            raise ValueError(f"{path}: the first {n} indices repeat an index")

    ids, _ = _read(_seed_file(pattern, seed), data_dir, download, "int", check)
    return ids[:n].astype(np.int64)


def authors_splicing_split(seed: int, data_dir=None, *, download: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """``(train_rows, test_rows)`` of the authors' splicing seed 0..2 (A5SS row numbers)."""
    train, _ = _read(_seed_file("5p_Splicing/AL_Scripts/trainindices{k}.npy", seed), data_dir, download, "int")
    test, _ = _read(_seed_file("5p_Splicing/AL_Scripts/testindices{k}.npy", seed), data_dir, download, "int")
    return train.astype(np.int64), test.astype(np.int64)


# ------------------------------------------------------------------------------------ others

def load_authors_optimality_ratios(batch_size: int, n_masks: int, data_dir=None, *,
                                   download: bool = True) -> np.ndarray:
    """Appendix A: the authors' 200 greedy / optimal ratios for batch ``b`` and J masks.

    Available for b in {2, 5, 10} and J in {2, 3, 50}.
    """
    if batch_size not in (2, 5, 10) or n_masks not in (2, 3, 50):
        raise ValueError(f"the authors' ratios cover batch_size in (2, 5, 10) and n_masks in "
                         f"(2, 3, 50), got batch_size={batch_size}, n_masks={n_masks}")
    rel = f"BatchOptimality/EmpiricalOptimalityRatios/BS{batch_size}Samp{n_masks}OptRatios.npy"

    def check(ratios, path):
        if ratios.min() <= 0 or ratios.max() > 1 + 1e-9:
            raise ValueError(f"{path} holds ratios outside (0, 1]")

    return _read(rel, data_dir, download, "float", check)[0]


def load_authors_1d(data_dir=None, *, download: bool = True) -> dict[str, np.ndarray]:
    """The 1D experiment's data (Fig 1): ``x_train, y_train`` (their 100-point sample),
    ``x_pool, y_pool`` (201), ``x_test, y_test`` (201 points on [-10, 10]), and their
    ``queried`` inputs and normalised ``ei`` over the pool, all float64 1D arrays."""
    names = {"x_train": "1D_Data/sample_x.npy", "y_train": "1D_Data/sample_y.npy",
             "x_pool": "1D_Data/pool_x.npy", "y_pool": "1D_Data/pool_y.npy",
             "x_test": "1D_Data/test_x.npy", "y_test": "1D_Data/test_y.npy",
             "queried": "1D_Models/QueriedInputs.npy", "ei": "1D_Models/NormalizedEI.npy"}
    out = {k: _read("1DEIVisualization/" + v, data_dir, download, "float")[0].astype(np.float64)
           for k, v in names.items()}
    for a, b in (("x_train", "y_train"), ("x_pool", "y_pool"), ("x_test", "y_test")):
        if out[a].shape != out[b].shape:
            raise ValueError(f"the authors' 1D arrays {names[a]} and {names[b]} differ in length")
    return out


def authors_files() -> list[str]:
    """Every file of the authors' repository this package reads (relative paths)."""
    return sorted(_expected_digests())

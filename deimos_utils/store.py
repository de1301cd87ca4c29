"""The results store: one CSV table per run, written a row at a time so that runs can resume.

Layout: ``<results_dir>/<experiment>/<run_name>/<method>__seed<k>.csv`` (``run_name`` is the
preset, plus ``-tag`` for a tagged variant) with a sidecar ``<method>__seed<k>.json`` holding
the configuration and the initial and validation sets of the run.

Durability: the header is written to a temporary file that is renamed into place; each row is
then appended as one complete line in a single ``write`` followed by ``flush`` and ``fsync``.
A process killed mid-write can leave at most one partial last line (no final newline, or the
wrong number of fields); :func:`read_rows` drops it and :meth:`RunTable.open` cuts it off the
file before appending again, so rows are never lost or duplicated.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "RunTable",
    "results_path",
    "read_rows",
    "read_table",
    "load_results",
    "format_picked",
    "parse_picked",
    "write_json_atomic",
]

COLUMNS = (
    "experiment", "preset", "tag", "method", "seed", "iteration", "n_acquired", "n_labelled",
    "batch_size", "n_candidates", "test_accuracy", "test_nll", "test_mse", "test_rmse",
    "val_uncertainty_r2", "noise", "diversity", "picked", "train_seconds", "eval_seconds",
    "acquire_seconds",
)
"""Columns of every results table (NaN where a metric does not apply to the task).

``iteration`` i evaluates the model trained on the initial set plus the first i batches;
``n_acquired`` = i * batch_size (the initial set not counted), ``n_labelled`` = n_initial +
n_acquired; ``n_candidates`` the unlabelled points scored after this evaluation (0 in the last
row); ``test_accuracy``/``test_nll`` (classification) or ``test_mse``/``test_rmse`` (regression,
in the units of y); ``val_uncertainty_r2`` Appendix E's Pearson R^2 on the validation set;
``noise`` tau^-1 / tau_s^-1 (fixed by the initial model); ``diversity`` the mean symmetric KL of
the acquired batch (classification, b >= 2); ``picked`` the space-separated dataset ids of the
batch acquired after this evaluation (empty in the last row); timings in seconds.
"""

_INT_COLUMNS = ("seed", "iteration", "n_acquired", "n_labelled", "batch_size", "n_candidates")
_STR_COLUMNS = ("experiment", "preset", "tag", "method", "picked")
TIMING_COLUMNS = ("train_seconds", "eval_seconds", "acquire_seconds")


def results_path(results_dir, experiment: str, run_name: str, method: str, seed: int) -> Path:
    """``<results_dir>/<experiment>/<run_name>/<method>__seed<seed>.csv``."""
    for what, value in (("experiment", experiment), ("run_name", run_name), ("method", method)):
        if not value or any(c in str(value) for c in "/\\"):
            raise ValueError(f"{what} must be a non-empty name without slashes, got {value!r}")
    return Path(results_dir) / experiment / run_name / f"{method}__seed{int(seed)}.csv"


def format_picked(ids: Iterable[int]) -> str:
    """Space-separated ids, e.g. ``"17 4021"`` (empty string for none)."""
    return " ".join(str(int(i)) for i in ids)


def parse_picked(text) -> np.ndarray:
    """The inverse of :func:`format_picked`: an int64 array (empty for "" or NaN)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return np.zeros(0, dtype=np.int64)
    text = str(text).strip()
    if not text:
        return np.zeros(0, dtype=np.int64)
    return np.asarray([int(t) for t in text.split()], dtype=np.int64)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))  # round-trips exactly
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def _line(values: Sequence[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def write_json_atomic(path, obj) -> None:
    """Write ``obj`` as JSON to ``path`` via a temporary file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w") as fh:
        json.dump(obj, fh, indent=1, sort_keys=True)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _scan(path: Path, columns: Sequence[str]) -> tuple[list[list[str]], list[int], bool]:
    """Complete rows, the byte offset after the header and after each row, and whether the
    file holds anything after the last complete row (a partial line).

    Raises ValueError when the header differs from ``columns`` or a row before the last is
    malformed (that is corruption, not an interrupted write).
    """
    data = path.read_bytes()
    if not data:
        return [], [0], True
    lines = data.split(b"\n")
    # lines[-1] is b"" when the file ends with a newline, else the partial last line
    header = lines[0].decode()
    if len(lines) == 1:  # a header without newline: incomplete
        return [], [0], True
    got = next(csv.reader([header]))
    if tuple(got) != tuple(columns):
        raise ValueError(f"{path}: unexpected header {got}; expected {list(columns)}")
    offset = len(lines[0]) + 1
    ends = [offset]
    rows: list[list[str]] = []
    complete = lines[1:-1]
    cut = lines[-1] != b""
    for k, raw in enumerate(complete):
        try:
            fields = next(csv.reader([raw.decode()]))
        except (UnicodeDecodeError, csv.Error, StopIteration):
            fields = None
        if fields is None or len(fields) != len(columns):
            if k == len(complete) - 1:
                cut = True
                break
            raise ValueError(f"{path}: malformed row {k + 1} (not the last line): file is corrupt")
        rows.append(fields)
        offset += len(raw) + 1
        ends.append(offset)
    return rows, ends, cut


def read_rows(path, columns: Sequence[str] = COLUMNS) -> list[dict]:
    """The complete rows of a results table as dicts of strings (a partial last line dropped)."""
    path = Path(path)
    if not path.exists():
        return []
    rows, _, _ = _scan(path, columns)
    return [dict(zip(columns, r)) for r in rows]


def _frame(rows: list[dict], columns: Sequence[str]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(columns))
    for c in columns:
        if c in _STR_COLUMNS:
            df[c] = df[c].fillna("").astype(str)
        elif c in _INT_COLUMNS:
            df[c] = pd.to_numeric(df[c]).astype("int64")
        else:
            df[c] = pd.to_numeric(df[c].replace("", np.nan), errors="coerce").astype("float64")
    return df


def read_table(path, columns: Sequence[str] = COLUMNS) -> pd.DataFrame:
    """One run's results table as a DataFrame (typed columns; a partial last line dropped)."""
    return _frame(read_rows(path, columns), columns)


class RunTable:
    """Append-only results table of one run.

    ``RunTable(path).open()`` creates the file with its header (atomically) or, when it
    exists, cuts off a partial last line and returns the complete rows (dicts of strings).
    :meth:`append` writes one row durably; :meth:`truncate_rows` keeps the first k rows.
    """

    def __init__(self, path, columns: Sequence[str] = COLUMNS):
        self.path = Path(path)
        self.columns = tuple(columns)

    def open(self) -> list[dict]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._write_header()
            return []
        rows, ends, cut = _scan(self.path, self.columns)
        if ends[-1] == 0:
            self._write_header()
            return []
        if cut:
            os.truncate(self.path, ends[-1])
        return [dict(zip(self.columns, r)) for r in rows]

    def _write_header(self) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        with open(tmp, "w", newline="") as fh:
            fh.write(_line(self.columns))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def truncate_rows(self, k: int) -> None:
        """Keep the header and the first ``k`` complete rows."""
        _, ends, _ = _scan(self.path, self.columns)
        os.truncate(self.path, ends[min(int(k), len(ends) - 1)])

    def append(self, row: dict) -> None:
        """Append ``row`` (keys = the columns; missing ones are left empty) as one line."""
        unknown = set(row) - set(self.columns)
        if unknown:
            raise ValueError(f"row has unknown columns {sorted(unknown)}")
        line = _line([_fmt(row.get(c)) for c in self.columns]).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            written = os.write(fd, line)
            while written < len(line):  # only on odd file systems
                written += os.write(fd, line[written:])
            os.fsync(fd)
        finally:
            os.close(fd)


def load_results(experiment: str, results_dir="results", preset: str | None = None) -> pd.DataFrame:
    """Every results table of ``experiment`` under ``results_dir`` as one tidy DataFrame.

    ``preset`` keeps the rows of that preset (its tagged variants included; tell them apart
    by the ``tag`` column). Rows are sorted by preset, tag, method, seed and iteration.
    Raises FileNotFoundError when no table is found.
    """
    root = Path(results_dir) / experiment
    files = sorted(root.glob("*/*.csv")) if root.is_dir() else []
    frames = [read_table(f) for f in files]
    frames = [f for f in frames if len(f)]
    if not frames:
        raise FileNotFoundError(f"no results tables for experiment {experiment!r} under {root}")
    df = pd.concat(frames, ignore_index=True)
    if preset is not None:
        df = df[df["preset"] == preset]
        if df.empty:
            found = sorted(set(pd.concat(frames)["preset"]))
            raise FileNotFoundError(
                f"no results of preset {preset!r} for experiment {experiment!r} under {root} "
                f"(presets found: {', '.join(found)})"
            )
    return df.sort_values(["preset", "tag", "method", "seed", "iteration"]).reset_index(drop=True)

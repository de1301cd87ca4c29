"""The results store: one CSV table per run, written a row at a time so that runs can resume.

Layout: ``<results_dir>/<experiment>/<run_name>/<method>__seed<k>.csv`` (``run_name`` is the
preset, plus ``-tag`` for a tagged variant) with a sidecar ``<method>__seed<k>.json`` holding
the configuration and the initial and validation sets of the run.

Durability: the header is written to a temporary file that is renamed into place; each row is
then appended as one complete line in a single ``write`` followed by ``flush`` and ``fsync``.
A process killed mid-write can leave at most one partial last line (no final newline, or the
wrong number of fields); :func:`read_rows` drops it and :meth:`RunTable.open` cuts it off the
file before appending again, so rows are never lost or duplicated.

One writer: :meth:`RunTable.open` takes an exclusive lock of the table (:class:`RunLock`, an
OS-level ``flock`` through the ``filelock`` package, on ``<table>.csv.lock``) and writes who
holds it (pid, host, command) to ``<table>.csv.owner``. A second writer, in this process or any
other on a file system that shares ``flock`` locks, fails at once with :class:`RunLockedError`
naming the file and the holder. The kernel releases the lock when its process dies, however
it dies, so a killed run never blocks the next one.

Checks: rows must hold iterations 0, 1, 2, ... once each, of one run (experiment, preset,
tag, method, seed); a duplicated or out-of-order row is refused on read and on resume, naming
the file and the line. A table with rows but without its sidecar, or with an unreadable or
different sidecar, is refused before anything is written (see :meth:`RunTable.open`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import warnings
import socket
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "COLUMNS",
    "RunLock",
    "RunLockedError",
    "RunTable",
    "check_sidecar",
    "read_sidecar",
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


_RUN_IDENTITY = ("experiment", "preset", "tag", "method", "seed")


def _check_sequence(path: Path, rows: list[list[str]], columns: Sequence[str]) -> None:
    """Rows must hold iterations 0, 1, 2, ... once each, all of one run.

    A copied, repeated or reordered row would otherwise be read as a second observation of an
    iteration (or replayed twice on resume). Raises ValueError naming the file, the line (1 is
    the header) and how to repair it. Tables without an ``iteration`` column are not checked.
    """
    columns = list(columns)
    if "iteration" not in columns or not rows:
        return
    it_col = columns.index("iteration")
    ident = [(c, columns.index(c)) for c in _RUN_IDENTITY if c in columns]
    repair = ("Cut the file after line {keep} (e.g. head -n {keep}) to keep the rows before it; "
              "a resumed run redoes the rest. Or delete the file to start the run again.")
    for k, fields in enumerate(rows):
        line = k + 2
        text = fields[it_col]
        if not text.strip().lstrip("-").isdigit() or int(text) != k:
            got = int(text) if text.strip().lstrip("-").isdigit() else None
            what = ("a repeated iteration" if got is not None and 0 <= got < k else
                    "a missing or out-of-order iteration" if got is not None else "not an integer")
            raise ValueError(
                f"{path}, line {line}: iteration {text!r} where iteration {k} belongs ({what}); "
                f"a results table holds iterations 0, 1, 2, ... once each. "
                + repair.format(keep=line - 1)
            )
        other = [(c, rows[0][i], fields[i]) for c, i in ident if fields[i] != rows[0][i]]
        if other:
            diff = ", ".join(f"{c} {b!r} (line 2: {a!r})" for c, a, b in other)
            raise ValueError(
                f"{path}, line {line}: a row of another run ({diff}); a results table holds "
                "one run. " + repair.format(keep=line - 1)
            )


def read_rows(path, columns: Sequence[str] = COLUMNS) -> list[dict]:
    """The complete rows of a results table as dicts of strings (a partial last line dropped).

    Raises ValueError naming the file and line for a malformed row before the last, or for
    iterations that are not 0, 1, 2, ... once each of one run (see :func:`_check_sequence`).
    """
    path = Path(path)
    if not path.exists():
        return []
    rows, _, _ = _scan(path, columns)
    _check_sequence(path, rows, columns)
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


# ------------------------------------------------------------------------------------ one writer

class RunLockedError(RuntimeError):
    """The lock of a run table is held by another writer (named in the message)."""


_HELD: dict[str, "weakref.ref[RunLock]"] = {}  # lock file -> the RunLock of this process holding it
_HELD_GUARD = threading.RLock()


def _os_lock(path: Path):
    """A non-reentrant-across-threads ``filelock`` lock on ``path`` that is an OS lock (flock).

    filelock >= 4 may fall back to a marker file where flock is missing; such a marker outlives
    a killed holder, so the fallback is turned off (older versions have none).
    """
    from filelock import FileLock

    try:
        return FileLock(str(path), timeout=0, thread_local=False, fallback_to_soft=False)
    except TypeError:  # filelock < 4
        return FileLock(str(path), timeout=0, thread_local=False)


def _writer_info() -> dict:
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "command": " ".join(sys.argv) if sys.argv and sys.argv[0] else sys.executable,
        "thread": threading.current_thread().name,
    }
    if "distributed" in sys.modules:  # inside a dask task: say which worker
        try:
            info["dask_worker"] = sys.modules["distributed"].get_worker().address
        except Exception:  # noqa: BLE001 - not in a task
            pass
    return info


def _describe_holder(owner_file: Path) -> str:
    try:
        info = json.loads(owner_file.read_text())
        if not isinstance(info, dict):
            raise ValueError
    except (OSError, ValueError):
        return f"holder unknown: {owner_file.name} is absent or unreadable (it may have just started)"
    where = f"pid {info.get('pid')} on host {info.get('host')}"
    if info.get("dask_worker"):
        where += f" (dask worker {info['dask_worker']})"
    return f"{where}, since {info.get('since')}, command: {info.get('command')}"


class RunLock:
    """Exclusive lock of one run table: ``<table>.lock`` (flock) plus ``<table>.owner`` (JSON:
    pid, host, start time, command line of the holder).

    :meth:`acquire` never waits: it raises :class:`RunLockedError` naming the table and the
    holder. The kernel drops the flock when the holding process ends, even by SIGKILL, so a
    dead writer never blocks the next one; a stale ``.owner`` file is then overwritten.

    Within one process, a lock held by an earlier RunLock of the *same* thread (or of a thread
    that has ended) is taken over: that thread cannot still be writing, its call ended with an
    exception before closing the table. A lock held by another live thread is refused.
    """

    def __init__(self, table_path):
        self.table = Path(table_path)
        self.lock_file = self.table.with_name(self.table.name + ".lock")
        self.owner_file = self.table.with_name(self.table.name + ".owner")
        self._lock = None
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None and bool(self._lock.is_locked)

    def acquire(self) -> "RunLock":
        if self.held:
            return self
        from filelock import Timeout

        self.lock_file.parent.mkdir(parents=True, exist_ok=True)
        key = str(self.lock_file.resolve())
        with _HELD_GUARD:
            ref = _HELD.get(key)
            other = ref() if ref is not None else None
            if other is not None and other is not self and other.held:
                if other._thread is threading.current_thread() or not other._thread.is_alive():
                    other.release()
                else:
                    raise RunLockedError(
                        f"{self.table} is being written by thread {other._thread.name!r} of this "
                        f"process (pid {os.getpid()}): one writer per run table"
                    )
            lock = _os_lock(self.lock_file)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                raise RunLockedError(
                    f"{self.table} is being written by another process ({_describe_holder(self.owner_file)}). "
                    "One writer per run table: wait for it to finish, or stop it; then give the "
                    "command again to continue the run."
                ) from None
            except (OSError, NotImplementedError) as err:
                raise OSError(
                    f"cannot lock {self.lock_file} ({type(err).__name__}: {err}): the file system "
                    "must support flock (a local disk, NFSv4, Lustre mounted with -o flock, GPFS)"
                ) from None
            self._lock, self._thread = lock, threading.current_thread()
            _HELD[key] = weakref.ref(self)
        write_json_atomic(self.owner_file, _writer_info())
        return self

    def release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is None:
            return
        try:
            self.owner_file.unlink(missing_ok=True)  # still ours: the flock is held until below
        finally:
            lock.release(force=True)
            with _HELD_GUARD:
                key = str(self.lock_file.resolve())
                ref = _HELD.get(key)
                if ref is not None and ref() in (self, None):
                    del _HELD[key]

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


# ------------------------------------------------------------------------------------ sidecar

def read_sidecar(json_path) -> dict:
    """The sidecar of a run as a dict; ValueError naming the file when it is not valid JSON."""
    json_path = Path(json_path)
    table = json_path.with_suffix(".csv")
    try:
        stored = json.loads(json_path.read_text())
        if not isinstance(stored, dict):
            raise ValueError(f"a {type(stored).__name__}, not an object")
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{json_path} (the sidecar of {table.name}) is not a valid JSON object ({err}); it is "
            f"damaged, e.g. truncated. Restore it (e.g. from version control), or delete {table} "
            "and the .json to start the run again."
        ) from None
    return stored


#: config fields that a run does not read when another field is set: (field, the field that
#: makes it unused); a sidecar ignores them then (a fixed tau^-1 replaces the noise fraction)
UNUSED_WHEN = (("noise_fraction", "noise"),)


def _comparable(sidecar: dict) -> dict:
    """``sidecar`` without the config fields that cannot change its run (:data:`UNUSED_WHEN`)."""
    config = sidecar.get("config")
    if not isinstance(config, dict):
        return sidecar
    config = {k: v for k, v in config.items()
              if not any(k == field and config.get(other) is not None for field, other in UNUSED_WHEN)}
    return {**sidecar, "config": config}


def check_sidecar(json_path, expected: dict) -> dict:
    """Refuse to continue a table whose sidecar differs from ``expected`` (naming the fields).

    The ``provenance`` entry (code, versions, device: :mod:`~deimos_utils.experiment.provenance`) does
    not decide: when only it differs, a ``UserWarning`` names the differences (the table was
    written by other code). Returns the stored sidecar.
    """
    json_path = Path(json_path)
    stored = read_sidecar(json_path)
    want = json.loads(json.dumps(expected))
    recorded = stored.pop("provenance", None)
    current = want.pop("provenance", None)
    if _comparable(stored) == _comparable(want):
        if current is not None:
            from .provenance import provenance_differences

            last = recorded[-1] if isinstance(recorded, list) and recorded else recorded
            diffs = provenance_differences(last if isinstance(last, dict) else None, current[-1])
            if diffs:
                warnings.warn(f"{json_path.with_suffix('.csv')} was written by other code than "
                              f"runs now: {'; '.join(diffs)}", UserWarning, stacklevel=3)
        stored["provenance"] = recorded
        return stored
    diff = []
    stored, want = _comparable(stored), _comparable(want)
    stored_cfg = stored.get("config", {}) if isinstance(stored.get("config"), dict) else {}
    for k in sorted(set(stored_cfg) | set(want.get("config", {}))):
        a, b = stored_cfg.get(k), want.get("config", {}).get(k)
        if a != b:
            diff.append(f"{k}: recorded {a!r}, now {b!r}")
    for k in sorted(set(stored) | set(want)):
        if k != "config" and stored.get(k) != want.get(k):
            diff.append(f"{k} differs")
    raise ValueError(
        f"{json_path.with_suffix('.csv')} was written with another configuration or dataset "
        f"({'; '.join(diff)}). Use another results_dir, set config tag=..., or delete the "
        "run's .csv and .json to start it again."
    )


def _with_provenance_history(sidecar: dict, recorded) -> dict:
    """``sidecar`` whose ``provenance`` list keeps the records already stored (oldest first)
    and adds the current one only when it differs from the last in the compared fields."""
    if "provenance" not in sidecar:
        return sidecar
    from .provenance import provenance_differences

    history = recorded if isinstance(recorded, list) else ([recorded] if isinstance(recorded, dict) else [])
    current = sidecar["provenance"][-1]
    if not history or provenance_differences(history[-1], current):
        history = history + [current]
    return dict(sidecar, provenance=history)


# ------------------------------------------------------------------------------------ the table

class RunTable:
    """Append-only results table of one run, written by one writer at a time.

    ``RunTable(path).open(sidecar)`` takes the table's :class:`RunLock`, checks the sidecar
    (when ``sidecar`` is given) and the rows, writes the sidecar of a new table, creates the
    file with its header (atomically) or cuts off a partial last line, and returns the complete
    rows (dicts of strings). An existing sidecar is rewritten (its provenance history grown)
    only before this writer's first row, so reading a finished run back leaves it unchanged.
    :meth:`append` writes one row durably; :meth:`truncate_rows` keeps the first k rows;
    :meth:`close` releases the lock (also ``with RunTable(path) as t: t.open()``).
    Writing without holding the lock raises RuntimeError.
    """

    def __init__(self, path, columns: Sequence[str] = COLUMNS):
        self.path = Path(path)
        self.columns = tuple(columns)
        self.lock = RunLock(self.path)
        self._pending_sidecar: dict | None = None

    @property
    def sidecar_path(self) -> Path:
        return self.path.with_suffix(".json")

    def open(self, sidecar: dict | None = None) -> list[dict]:
        """Lock, check and open the table; return its complete rows.

        ``sidecar``: the run's description (configuration, sets). When given, an existing
        ``.json`` must be valid and equal to it, and a table with rows must have one; it is
        then (re)written. Raises :class:`RunLockedError` (another writer), ValueError (bad
        header, corrupt or duplicated rows, missing, damaged or different sidecar; the table
        is left untouched and unlocked).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock.acquire()
        try:
            return self._open_locked(sidecar)
        except BaseException:
            self.close()
            raise

    def _open_locked(self, sidecar: dict | None) -> list[dict]:
        exists = self.path.exists() and self.path.stat().st_size > 0
        rows, ends, cut = _scan(self.path, self.columns) if exists else ([], [0], True)
        _check_sequence(self.path, rows, self.columns)
        if sidecar is not None:
            if self.sidecar_path.exists():
                stored = check_sidecar(self.sidecar_path, sidecar)
                updated = _with_provenance_history(sidecar, stored.get("provenance"))
                # written before this writer's first row (a read-back changes nothing)
                self._pending_sidecar = None if json.loads(json.dumps(updated)) == stored else updated
            elif rows:
                raise ValueError(
                    f"{self.path} holds {len(rows)} rows but its sidecar {self.sidecar_path.name} "
                    "is missing, so the configuration they were written with cannot be checked. "
                    f"Restore {self.sidecar_path} (e.g. from version control), or delete {self.path} "
                    "to start the run again."
                )
            else:
                write_json_atomic(self.sidecar_path, sidecar)
        if ends[-1] == 0:
            self._write_header()
            return []
        if cut:
            os.truncate(self.path, ends[-1])
        return [dict(zip(self.columns, r)) for r in rows]

    def close(self) -> None:
        """Release the lock (appending is refused from then on)."""
        self._pending_sidecar = None
        self.lock.release()

    def __enter__(self) -> "RunTable":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _check_held(self) -> None:
        if not self.lock.held:
            raise RuntimeError(
                f"{self.path}: this RunTable does not hold the table's lock; open() it first "
                "(or another RunTable of the same thread has taken the table over)"
            )

    def _before_write(self) -> None:
        """Check the lock; write the sidecar :meth:`open` left pending."""
        self._check_held()
        if self._pending_sidecar is not None:
            write_json_atomic(self.sidecar_path, self._pending_sidecar)
            self._pending_sidecar = None

    def _write_header(self) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
        with open(tmp, "w", newline="") as fh:
            fh.write(_line(self.columns))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def truncate_rows(self, k: int) -> None:
        """Keep the header and the first ``k`` complete rows."""
        self._before_write()
        _, ends, _ = _scan(self.path, self.columns)
        os.truncate(self.path, ends[min(int(k), len(ends) - 1)])

    def append(self, row: dict) -> None:
        """Append ``row`` (keys = the columns; missing ones are left empty) as one line."""
        self._before_write()
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

"""Experiment grids on dask: every (experiment, method, seed) run is one task.

>>> from deimos_utils.experiment.grid import run_grid
>>> run_grid([get_config("mnist_7v9_b1", "paper"), get_config("splicing", "paper")], workers=4)

Where the tasks run (:func:`run_grid`):

* by default on a ``dask.distributed.LocalCluster`` of ``workers`` single-threaded worker
  processes on this machine (default: the number of cores, at most the number of runs);
  ``workers=1`` runs them one after another in this process, without dask;
* ``scheduler="tcp://host:8786"``: on an existing dask cluster (its workers need this package,
  the data and the results directory at the same paths);
* ``cluster="slurm"``: on a ``dask_jobqueue.SLURMCluster`` started here, configured by dask's
  own config (``jobqueue.slurm`` in ``~/.config/dask/jobqueue.yaml``; example in
  ``docs/jobqueue.yaml``: cores, memory, walltime, one GPU per job through
  ``job-extra-directives``), scaled to ``workers`` jobs (default: one per run).

A worker uses the GPU ``cuda:(k mod n)`` of the n it sees (k: its index on a local cluster),
else the CPU. Every run writes its own resumable table (:mod:`deimos_utils.experiment.store`), so the
grid's state lives on disk, not in dask:

* a run whose worker dies (killed, out of memory, node lost) is rescheduled by dask, up to
  ``retries`` deaths (``distributed.scheduler.allowed-failures``), and continues from its
  table; the dead worker's table lock went with its process;
* killing the client ends the workers of a local cluster with it (they watch their parent);
  on a shared cluster a run that keeps going is protected by its lock, which refuses a second
  writer should the grid be started again meanwhile;
* giving the same call (or command) again continues every unfinished run.

Progress: one line per finished run, a bar over the grid, and the dask dashboard's address.
"""
from __future__ import annotations

import logging
import os
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import pandas as pd

from ..data.aldata import ALData
from .config import ExperimentConfig
from ..runtime import allocator_environ

__all__ = ["GridError", "GridRun", "grid_runs", "run_grid", "slurm_cluster"]

CLUSTERS = ("local", "slurm")
DEFAULT_RETRIES = 3


class GridError(RuntimeError):
    """Some runs of a grid failed (the others finished); the message lists them."""


@dataclass(frozen=True)
class GridRun:
    """One task of a grid: run ``(config, method, seed)``."""

    config: ExperimentConfig
    method: str
    seed: int

    @property
    def name(self) -> str:
        return f"{self.config.experiment} [{self.config.run_name}] {self.method} seed {self.seed}"

    @property
    def key(self) -> str:
        """The dask key: the same run has the same key, in every client."""
        c = self.config
        return f"deimos-run-{c.experiment}-{c.run_name}-{self.method}-seed{self.seed}"


def grid_runs(configs, methods: Sequence[str] | None = None,
              seeds: Sequence[int] | None = None) -> list[GridRun]:
    """The runs of ``configs`` (one or several): seed by seed, then method by method.

    ``methods`` / ``seeds`` default to each config's ``methods`` and ``seeds``. Raises
    ValueError for a repeated experiment, method or seed, or a negative seed.
    """
    configs = [configs] if isinstance(configs, ExperimentConfig) else list(configs)
    if not configs or not all(isinstance(c, ExperimentConfig) for c in configs):
        raise ValueError("configs must be one ExperimentConfig or a non-empty sequence of them")
    names = [(c.experiment, c.run_name) for c in configs]
    if len(set(names)) != len(names):
        raise ValueError(f"the same experiment and preset are named twice in {names}")
    runs = []
    for cfg in configs:
        ms = tuple(cfg.methods if methods is None else methods)
        ss = tuple(cfg.seeds if seeds is None else seeds)
        for what, values in (("methods", ms), ("seeds", ss)):
            if not values or len(set(values)) != len(values):
                raise ValueError(f"{what} must be non-empty and without repeats, got {list(values)}")
        if any(isinstance(s, bool) or int(s) != s or s < 0 for s in ss):
            raise ValueError(f"seeds must be integers >= 0, got {list(ss)}")
        cfg.replace(methods=ms)  # names and tasks checked
        runs += [GridRun(cfg, m, int(s)) for s in ss for m in ms]
    return runs


def _data_for(run: GridRun, data):
    """The ALData (or future) for ``run``: ``data`` itself, or ``data[experiment]``."""
    if data is None or isinstance(data, ALData) or not isinstance(data, Mapping):
        return data
    return data.get(run.config.experiment)


def _check(runs: list[GridRun], data, data_dir) -> None:
    """Every run's data present and method valid before anything is trained."""
    from .loop import check_run, load_data  # the loop's, which tests replace

    by_experiment: dict[str, list[GridRun]] = {}
    for r in runs:
        by_experiment.setdefault(r.config.experiment, []).append(r)
    for group in by_experiment.values():
        d = _data_for(group[0], data)
        d = load_data(group[0].config, data_dir) if d is None else d
        for method in dict.fromkeys(r.method for r in group):
            check_run(group[0].config, d, method)


# ------------------------------------------------------------------------------------ one task

def worker_device():
    """The torch device of this worker: ``cuda:(k mod n)`` for local worker k of n GPUs, the
    CUDA device a job was given (``cuda``), else the CPU."""
    import torch

    if not torch.cuda.is_available():
        return torch.device("cpu")
    index = 0
    try:
        from distributed import get_worker

        name = get_worker().name
        index = int(name) if str(name).isdigit() else 0
    except (ImportError, ValueError):
        pass
    return torch.device("cuda", index % torch.cuda.device_count())


def _run_task(run: GridRun, results_dir: str, data_dir, data, device, progress: bool) -> dict:
    """Run (or resume) one run where this task executes; a summary of it."""
    from .loop import run_experiment

    t0 = time.perf_counter()
    table = run_experiment(run.config, run.method, run.seed, data=data, data_dir=data_dir,
                           results_dir=results_dir, device=device or worker_device(),
                           progress=progress)
    return {"rows": len(table), "seconds": time.perf_counter() - t0,
            "host": socket.gethostname(), "pid": os.getpid()}


# ------------------------------------------------------------------------------------ clusters

def slurm_cluster(n_jobs: int | None = None, **kwargs):
    """A ``dask_jobqueue.SLURMCluster`` from dask's ``jobqueue.slurm`` config (``kwargs``
    override it). See ``docs/jobqueue.yaml``; ``slurm_cluster().job_script()`` shows a job.

    With ``n_jobs``, that many worker jobs are submitted, after ``sbatch --test-only`` has
    accepted the job script: a missing ``sbatch`` (OSError) or a job Slurm refuses (GridError
    with sbatch's message, e.g. an unknown partition) fails here instead of leaving the grid
    waiting for workers that never come.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError as err:
        raise ImportError(f"cluster='slurm' needs dask-jobqueue ({err}): pip install dask-jobqueue") from None
    if n_jobs and shutil.which("sbatch") is None:
        raise OSError("cluster='slurm' needs Slurm's sbatch on the PATH: start the grid on a "
                      "machine that submits Slurm jobs (a login node)")
    cluster = SLURMCluster(**kwargs)
    if n_jobs:
        try:
            _test_job_script(cluster.job_script())
        except BaseException:
            cluster.close()
            raise
        cluster.scale(jobs=int(n_jobs))
    return cluster


def _test_job_script(script: str) -> None:
    """``sbatch --test-only`` on the job script: GridError with Slurm's words if refused."""
    import subprocess
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".sh", prefix="deimos-worker-") as fh:
        fh.write(script)
        fh.flush()
        proc = subprocess.run(["sbatch", "--test-only", fh.name], capture_output=True, text=True,
                              timeout=120)
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout).split()) or f"exit status {proc.returncode}"
        raise GridError(f"Slurm refuses the worker job script (sbatch --test-only: {said}); "
                        "fix the jobqueue.slurm settings (see docs/jobqueue.yaml)")


def _start(workers: int, scheduler, cluster, dashboard: bool, retries: int):
    """``(client, cluster we started or None)``."""
    import dask
    from distributed import Client, LocalCluster

    if scheduler is not None:
        return Client(scheduler), None
    address = ":8787" if dashboard else ":0"  # the HTTP server always runs; a free port if hidden
    # Workers train in a thread of their own: glibc's setting must be in their environment at
    # spawn. Nannies take it from ours (which wins over dask's pre-spawn-environ, and which dask
    # itself overwrites with that at each spawn); it has no effect on this running process.
    os.environ.update(allocator_environ())
    with dask.config.set({"distributed.scheduler.allowed-failures": int(retries)}):
        if cluster == "slurm":
            started = slurm_cluster(workers, scheduler_options={"dashboard_address": address})
        else:
            # no memory limit: a run holds its dataset (UTKFace at 200 px: ~11 GB)
            started = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   memory_limit=0, dashboard_address=address)
    try:
        return Client(started), started
    except BaseException:
        started.close()
        raise


class _NoKillNotice(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "still alive after" not in record.getMessage()


def _close_quietly(cluster) -> None:
    """Close a cluster we started. Its nanny kills a worker process that takes more than a few
    seconds to exit (torch's at-exit work does, once autograd ran); every run has ended by
    then, so that notice is dropped."""
    log = logging.getLogger("distributed.nanny")
    quiet = _NoKillNotice()
    log.addFilter(quiet)
    try:
        cluster.close()
    finally:
        log.removeFilter(quiet)


def _check_where(workers, scheduler, cluster, retries) -> None:
    if cluster is not None and cluster not in CLUSTERS:
        raise ValueError(f"cluster must be one of {CLUSTERS} or None, got {cluster!r}")
    if scheduler is not None and cluster not in (None, "local"):
        raise ValueError("give either scheduler (an existing dask cluster) or cluster, not both")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    if isinstance(retries, bool) or int(retries) != retries or retries < 0:
        raise ValueError(f"retries must be an integer >= 0, got {retries!r}")


# ------------------------------------------------------------------------------------ the grid

def _say(text: str, bar=None) -> None:
    """A progress line on stdout (above the bar when one is shown)."""
    if bar is not None and not getattr(bar, "disable", True):
        bar.write(text, file=sys.stdout)
    else:
        print(text, flush=True)


def _one_line(err: BaseException) -> str:
    from .store import RunLockedError

    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    plain = isinstance(err, (ValueError, OSError, RunLockedError))
    return text if plain else f"{type(err).__name__}: {text}"


def _header(runs: list[GridRun], results_dir: str) -> str:
    """``mnist_7v9_b1 [paper]: 5 methods x 3 seeds -> /abs/results`` (one part per config)."""
    parts: dict[tuple, tuple[dict, dict]] = {}
    for r in runs:
        ms, ss = parts.setdefault((r.config.experiment, r.config.run_name), ({}, {}))
        ms[r.method], ss[r.seed] = None, None
    text = "; ".join(f"{e} [{n}]: {len(ms)} methods x {len(ss)} seeds" for (e, n), (ms, ss) in parts.items())
    return f"{text} -> {results_dir}"


def _in_process(runs, results_dir, data_dir, data, device, progress) -> list[tuple[GridRun, str]]:
    failed = []
    for run in runs:
        try:
            done = _run_task(run, results_dir, data_dir, _data_for(run, data), device, progress)
        except Exception as err:  # noqa: BLE001 - reported, the other runs go on
            failed.append((run, _one_line(err)))
            _say(f"  {run.name}: FAILED: {_one_line(err)}")
            continue
        _say(f"  {run.name}: {done['rows']} rows, {done['seconds']:.0f} s")
    return failed


def _on_dask(client, runs, results_dir, data_dir, data, device, progress) -> list[tuple[GridRun, str]]:
    from distributed import as_completed

    from ..runtime import progress_bar

    if data is not None:  # every worker gets a copy (a copy survives a dead worker)
        data = ({k: client.scatter(v, broadcast=True) for k, v in data.items()}
                if isinstance(data, Mapping) else client.scatter(data, broadcast=True))
    futures = {client.submit(_run_task, r, results_dir, data_dir, _data_for(r, data), device,
                             False, key=r.key, pure=False): r for r in runs}
    failed = []
    bar = progress_bar(total=len(runs), desc="grid", unit="run", disable=not progress)
    try:
        for future in as_completed(futures):
            run = futures[future]
            try:
                done = future.result()
            except Exception as err:  # noqa: BLE001 - reported, the other runs go on
                failed.append((run, _one_line(err)))
                _say(f"  {run.name}: FAILED: {_one_line(err)}", bar)
            else:
                _say(f"  {run.name}: {done['rows']} rows, {done['seconds']:.0f} s "
                     f"({done['host']}, pid {done['pid']})", bar)
            bar.update(1)
    finally:
        bar.close()
        for future in futures:
            future.release()
    return failed


def run_grid(
    configs,
    methods: Sequence[str] | None = None,
    seeds: Iterable[int] | None = None,
    *,
    results_dir="results",
    data_dir=None,
    data=None,
    workers: int | None = None,
    scheduler: str | None = None,
    cluster: str | None = None,
    retries: int = DEFAULT_RETRIES,
    device=None,
    dashboard: bool = True,
    progress: bool = True,
    check: bool = True,
) -> pd.DataFrame:
    """Run (or resume) every (experiment, method, seed) of ``configs``; return all their rows.

    Parameters
    ----------
    configs : an ExperimentConfig or a sequence of them (different experiments or presets).
    methods, seeds : default each config's methods and ``0 .. n_repeats-1``.
    results_dir, data_dir : as for :func:`~deimos_utils.experiment.loop.run_experiment`; absolute paths
        are passed to the workers (they must see the same files).
    data : an ALData for a single experiment, or ``{experiment: ALData}``; default: every
        worker loads the data itself (the loaders cache it in the process).
    workers : processes of the local cluster (default: the number of cores, at most the number
        of runs; 1: run in this process, without dask), or jobs of the Slurm cluster (default:
        one per run). Ignored with ``scheduler``.
    scheduler : address of an existing dask scheduler to use instead.
    cluster : ``"local"`` (default) or ``"slurm"``.
    retries : worker deaths allowed per run before it counts as failed (local / Slurm).
    device : torch device for every run; default :func:`worker_device`.
    dashboard : serve dask's dashboard (its address is printed).
    progress : progress bars (per run in this process, over the grid on dask).
    check : check every run's data and method here before starting (needs the data here).

    Returns the rows of every run (as :func:`~deimos_utils.experiment.store.load_results` gives them).
    Each run's end is a line on stdout (``FAILED: ...`` for a run that raised). Raises
    :class:`GridError` once all other runs finished when some runs failed.
    """
    from .loop import run_results_path
    from .store import read_table

    _check_where(workers, scheduler, cluster, retries)
    runs = grid_runs(configs, methods, seeds)
    results_dir = os.path.abspath(os.fspath(results_dir))
    data_dir = None if data_dir is None else os.path.abspath(os.fspath(data_dir))
    if check:
        _check(runs, data, data_dir)
    _say(_header(runs, results_dir))
    if cluster == "slurm":
        workers = workers or len(runs)  # jobs
    elif scheduler is None:
        workers = min(workers or os.cpu_count() or 1, len(runs))
    if workers == 1 and scheduler is None and cluster != "slurm":
        failed = _in_process(runs, results_dir, data_dir, data, device, progress)
    else:
        client, started = _start(workers, scheduler, cluster, dashboard, retries)
        try:
            if dashboard and client.dashboard_link:
                _say(f"dask dashboard: {client.dashboard_link}")
            failed = _on_dask(client, runs, results_dir, data_dir, data, device, progress)
        finally:
            client.close()
            if started is not None:
                _close_quietly(started)
    if failed:
        (run, text), n = failed[0], len(failed)
        if len(runs) == 1:
            raise GridError(f"{run.name}: {text}")
        raise GridError(f"{n} of {len(runs)} runs failed (the others finished); "
                        f"{'the first: ' if n > 1 else ''}{run.name}: {text.rstrip('.')}. Give the "
                        "same call again once fixed: finished runs are read back, the others continue.")
    frames = []
    for r in runs:
        df = read_table(run_results_path(r.config, r.method, r.seed, results_dir))
        frames.append(df[df["iteration"] <= r.config.n_iterations])
    return pd.concat(frames, ignore_index=True)

"""Experiment grids on dask: a local cluster gives the tables of one process, a killed worker's
run resumes on another without a duplicated row, and a Slurm job script carries its resources."""
import json
import os
import signal
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("distributed")

from deimos_utils.experiment import grid, loop  # noqa: E402
from deimos_utils.experiment.store import TIMING_COLUMNS, read_table  # noqa: E402
from test_loop import toy_config, toy_data  # noqa: E402

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SEEDS = (0, 1)


def grid_config():
    return toy_config(n_acquired=4)  # 2 methods, 3 rows a run


def run(results, workers, **kw):
    return grid.run_grid(grid_config(), seeds=SEEDS, data=toy_data(), results_dir=results,
                         workers=workers, device="cpu", dashboard=False, progress=False, **kw)


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory):
    """A local cluster of 2 single-threaded worker processes, as run_grid starts one, shared by
    the tests below. Every worker preloads toy_cli.py: while the file ``hold`` exists, a run
    waits after each row it appends."""
    import dask
    from distributed import LocalCluster

    hold = tmp_path_factory.mktemp("hold") / "hold"
    with pytest.MonkeyPatch.context() as mp, dask.config.set({
            "distributed.worker.preload": [str(TESTS / "toy_cli.py")],
            "distributed.scheduler.allowed-failures": grid.DEFAULT_RETRIES}):
        mp.setenv("DEIMOS_TEST_HOLD", str(hold))  # the workers inherit it
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=0,
                               dashboard_address=":0")
    try:
        yield cluster, hold
    finally:
        cluster.close()


def tables(results) -> dict:
    cfg = grid_config()
    return {(m, s): read_table(loop.run_results_path(cfg, m, s, results))
            for m in cfg.methods for s in SEEDS}


def same_tables(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        cols = [c for c in a[key].columns if c not in TIMING_COLUMNS]
        pd.testing.assert_frame_equal(a[key][cols], b[key][cols], check_exact=True, obj=str(key))


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    """The grid run in this process, one run after another: the reference."""
    results = tmp_path_factory.mktemp("one")
    rows = run(results, workers=1)
    return results, rows


def test_grid_runs_cover_every_method_and_seed():
    runs = grid.grid_runs(grid_config(), seeds=SEEDS)
    assert [(r.method, r.seed) for r in runs] == [("deimos", 0), ("random", 0), ("deimos", 1), ("random", 1)]
    assert len({r.key for r in runs}) == 4
    for bad in dict(seeds=[0, 0]), dict(seeds=[-1]), dict(methods=[]), dict(methods=["magic"]):
        with pytest.raises(ValueError):
            grid.grid_runs(grid_config(), **{"seeds": SEEDS, **bad})
    with pytest.raises(ValueError, match="cluster"):
        grid.run_grid(grid_config(), cluster="pbs", data=toy_data())


def test_two_local_workers_give_the_tables_of_one_process(tmp_path, one_worker, local_cluster):
    ref_dir, ref_rows = one_worker
    assert len(ref_rows) == 2 * 2 * 3 and set(ref_rows["seed"]) == set(SEEDS)
    rows = run(tmp_path, workers=None, scheduler=local_cluster[0].scheduler_address)
    same_tables(tables(tmp_path), tables(ref_dir))
    cols = [c for c in rows.columns if c not in TIMING_COLUMNS]
    pd.testing.assert_frame_equal(rows[cols], ref_rows[cols], check_exact=True)


def _kill_a_writer(results: Path, hold: Path, killed: dict) -> None:
    """Once a run has written its first row (and waits on ``hold``), SIGKILL its worker."""
    deadline = time.monotonic() + 240
    cfg = grid_config()
    paths = [loop.run_results_path(cfg, m, s, results) for m in cfg.methods for s in SEEDS]
    try:
        while time.monotonic() < deadline and not killed:
            for path in paths:
                owner = path.with_name(path.name + ".owner")
                if path.exists() and path.read_bytes().count(b"\n") >= 2 and owner.exists():
                    pid = json.loads(owner.read_text())["pid"]
                    killed.update(path=path, rows=path.read_bytes().count(b"\n") - 1, pid=pid)
                    os.kill(pid, signal.SIGKILL)
                    break
            time.sleep(0.05)
    finally:
        hold.unlink(missing_ok=True)  # let every run go on


def test_a_killed_worker_is_replaced_and_its_run_resumes(tmp_path, one_worker, local_cluster):
    cluster, hold = local_cluster
    hold.touch()
    results, killed = tmp_path / "r", {}
    killer = threading.Thread(target=_kill_a_writer, args=(results, hold, killed), daemon=True)
    killer.start()
    run(results, workers=None, scheduler=cluster.scheduler_address)
    killer.join(timeout=60)
    assert killed and killed["pid"] != os.getpid(), "no worker was killed"
    assert 1 <= killed["rows"] < 3  # mid-run
    same_tables(tables(results), tables(one_worker[0]))  # each iteration once, as in one process


def _flat(mapping: dict, prefix: str) -> dict:
    out = {}
    for k, v in mapping.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_slurm_job_script_carries_the_configured_resources():
    pytest.importorskip("dask_jobqueue")
    import dask
    import yaml

    settings = yaml.safe_load((ROOT / "docs" / "jobqueue.yaml").read_text())
    slurm = settings["jobqueue"]["slurm"]
    assert slurm["processes"] == 1 and "--gres=gpu:1" in slurm["job-extra-directives"]
    with dask.config.set(_flat(settings, "")):
        cluster = grid.slurm_cluster(scheduler_options={"dashboard_address": ":0"})
        try:
            script = cluster.job_script()
        finally:
            cluster.close()
    lines = script.splitlines()
    for directive in (f"#SBATCH -p {slurm['queue']}", f"#SBATCH --cpus-per-task={slurm['cores']}",
                      f"#SBATCH -t {slurm['walltime']}", "#SBATCH --gres=gpu:1", "#SBATCH --mem=30G",
                      f"#SBATCH -J {slurm['name']}"):
        assert directive in lines, directive
    worker = next(line for line in lines if "dask_worker" in line or "dask-worker" in line)
    assert worker.rstrip().endswith("--nthreads 1")  # one run at a time on the job's GPU
    assert "--death-timeout 120" in worker
    assert all(p in lines for p in slurm["job-script-prologue"])
    from deimos_utils.runtime import allocator_environ  # the workers' allocator setting, as the code has it

    assert "export " + " ".join(f"{k}={v}" for k, v in allocator_environ().items()) in slurm["job-script-prologue"]


def test_slurm_submission_errors_are_raised_not_waited_for(tmp_path, monkeypatch):
    pytest.importorskip("dask_jobqueue")
    import dask

    settings = {"jobqueue.slurm.cores": 1, "jobqueue.slurm.memory": "1GB"}
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with dask.config.set(settings), pytest.raises(OSError, match="needs Slurm's sbatch"):
        grid.slurm_cluster(2, scheduler_options={"dashboard_address": ":0"})
    sbatch = tmp_path / "bin" / "sbatch"
    sbatch.parent.mkdir()
    sbatch.write_text("#!/bin/sh\necho 'sbatch: error: invalid partition specified: gpu' >&2\nexit 1\n")
    sbatch.chmod(0o755)
    monkeypatch.setenv("PATH", f"{sbatch.parent}{os.pathsep}{os.environ['PATH']}")
    with dask.config.set(settings), pytest.raises(grid.GridError, match="invalid partition specified"):
        grid.slurm_cluster(2, scheduler_options={"dashboard_address": ":0"})


def test_local_workers_start_with_the_allocator_setting():
    """Workers train in a thread of their own, so glibc's setting has to be in their environment
    when they start (runtime.allocator_environ), over dask's own MALLOC_TRIM_THRESHOLD_=65536;
    dask's thread limits stay."""
    from deimos_utils.runtime import allocator_environ

    client, cluster = grid._start(1, None, "local", dashboard=False, retries=1)
    try:
        names = [*allocator_environ(), "OMP_NUM_THREADS"]
        env = next(iter(client.run(lambda: {k: os.environ.get(k) for k in names}).values()))
    finally:
        client.close()
        grid._close_quietly(cluster)
    assert env == {**allocator_environ(), "OMP_NUM_THREADS": "1"}
    assert env["MALLOC_TRIM_THRESHOLD_"] == "2147483647"

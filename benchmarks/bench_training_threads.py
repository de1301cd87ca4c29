"""How to spend a machine's cores on a grid: one run with torch on every core, or one run per core.

Times one training of an experiment's model (its preset, the loop's own ``Run.train``) on a
labelled set of ``--n-train`` points (seed 0's initial set plus random pool points), with
``--epochs`` epochs (default: the preset's; the time is about proportional to it):

* one process, torch on ``--threads`` threads (default: every core);
* one process, torch on 1 thread;
* ``--threads`` processes at once, each on 1 thread (what ``--workers N`` of the CLI does).

Prints seconds per training and trainings per hour for the machine as a whole: the grid's
throughput under each choice. Data loading is not timed (children wait for each other before
they train). Trainings run as the loop runs them, with
:func:`~deimos_utils.runtime.keep_freed_memory`; ``--malloc default`` times glibc as it comes.

    python benchmarks/bench_training_threads.py                       # UTKFace b = 200, cpu preset
    python benchmarks/bench_training_threads.py --experiment mnist_7v9_b25 --n-train 510
    python benchmarks/bench_training_threads.py --epochs 50 --malloc default
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time


def _child(args) -> None:
    """Load, say ready, wait for a line on stdin, train once, print the seconds."""
    import numpy as np
    import torch

    torch.set_num_threads(args.child_threads)
    from deimos_utils.runtime import keep_freed_memory
    from deimos_utils.experiment.config import get_config
    from deimos_utils.experiment.loop import Run

    overrides = {} if args.epochs is None else {"train_epochs": args.epochs}
    config = get_config(args.experiment, args.preset, **overrides)
    run = Run(config, "random", 0, data_dir=args.data_dir, device="cpu")
    extra = args.n_train - len(run.state.labelled)
    if extra > 0:
        unlabelled = np.setdiff1d(np.arange(run.data.n_pool), np.asarray(run.state.labelled))
        run.state.add(np.random.default_rng(0).choice(unlabelled, extra, replace=False))
    if args.malloc == "kept":
        keep_freed_memory()
    print("ready", flush=True)
    sys.stdin.readline()
    t0 = time.perf_counter()
    run.train(0)
    print(f"{time.perf_counter() - t0:.3f}", flush=True)


def _concurrent(args, n_processes: int, threads: int) -> list[float]:
    """Seconds of each of ``n_processes`` trainings started together, each on ``threads`` threads."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "OPENBLAS_NUM_THREADS": str(threads), "TQDM_DISABLE": "1"}
    cmd = [sys.executable, __file__, "--child", "--child-threads", str(threads), "--experiment", args.experiment,
           "--preset", args.preset, "--n-train", str(args.n_train), "--malloc", args.malloc] + (
               [] if args.data_dir is None else ["--data-dir", args.data_dir])
    if args.epochs is not None:
        cmd += ["--epochs", str(args.epochs)]
    procs = [subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(n_processes)]
    for p in procs:
        line = p.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"a child process failed before training (said {line!r}); run it alone to see why")
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    seconds = [float(p.stdout.readline()) for p in procs]
    for p in procs:
        p.wait()
    return seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--experiment", default="utkface_b200")
    ap.add_argument("--preset", default="cpu")
    ap.add_argument("--n-train", type=int, default=550, help="labelled points (default 550)")
    ap.add_argument("--epochs", type=int, default=None, help="default: the preset's")
    ap.add_argument("--data-dir", default=None, help="default: $DEIMOS_DATA_DIR or ./data")
    ap.add_argument("--malloc", choices=("kept", "default"), default="kept",
                    help="kept: keep_freed_memory() as the loop does (default); default: glibc as it comes")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="cores to spend (default: all)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--child-threads", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return _child(args)
    if args.threads < 1 or args.n_train < 1:
        raise SystemExit("--threads and --n-train must be >= 1")
    k = args.threads
    print(f"{args.experiment} [{args.preset}], {args.n_train} labelled points, "
          f"epochs {'of the preset' if args.epochs is None else args.epochs}; {k} core{'s' if k > 1 else ''}; "
          f"malloc {args.malloc}")
    rows = []
    ways = [(f"1 process x {k} threads", 1, k), ("1 process x 1 thread", 1, 1), (f"{k} processes x 1 thread", k, 1)]
    for label, n_proc, threads in ways if k > 1 else ways[1:2]:
        secs = _concurrent(args, n_proc, threads)
        per_hour = 3600 * n_proc / max(secs)
        rows.append((label, max(secs), per_hour))
        print(f"  {label:<26} {max(secs):8.1f} s per training   {per_hour:7.1f} trainings per hour", flush=True)
    best = max(rows, key=lambda r: r[2])
    print(f"-> most trainings per hour: {best[0]}")


if __name__ == "__main__":
    main()

"""Run (or resume) an experiment from the command line, for long runs outside a notebook.

    python -m deimos_utils.cli mnist_7v9_b1 --preset cpu
    python -m deimos_utils.cli mnist_7v9_b1 --preset paper --seeds 0 1 2 --jobs 4
    python -m deimos_utils.cli splicing --preset cpu --set n_acquired=50 --set tag=short

Every (method, seed) run writes its own table under ``--results-dir``; a run that stops (Ctrl-C,
a killed job) continues from its last complete row when the same command is given again. The
notebooks read these tables: a finished run is not trained again.
"""
from __future__ import annotations

import argparse
import ast
import multiprocessing as mp
import sys
import time
from pathlib import Path

from .config import get_config, list_experiments


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_overrides(pairs) -> dict:
    """``["n_acquired=50", "tag=short"]`` -> ``{"n_acquired": 50, "tag": "short"}``."""
    overrides = {}
    for pair in pairs or ():
        if "=" not in pair:
            raise ValueError(f"--set expects FIELD=VALUE, got {pair!r}")
        key, text = pair.split("=", 1)
        overrides[key.strip()] = _value(text.strip())
    return overrides


def _one_run(job):
    from .loop import run_experiment

    config, method, seed, results_dir, data_dir, progress = job
    t0 = time.perf_counter()
    table = run_experiment(config, method, seed, data_dir=data_dir, results_dir=results_dir,
                           progress=progress)
    return method, seed, len(table), time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deimos_utils.cli",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment", choices=list_experiments())
    parser.add_argument("--preset", default="quick", help="quick, cpu or paper")
    parser.add_argument("--methods", nargs="*", help="default: the experiment's methods")
    parser.add_argument("--seeds", nargs="*", type=int, help="default: 0 .. n_repeats-1")
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--data-dir", default=None, help="default: $DEIMOS_DATA_DIR or ./data")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    parser.add_argument("--set", action="append", metavar="FIELD=VALUE",
                        help="override a config field (repeatable)")
    args = parser.parse_args(argv)

    config = get_config(args.experiment, preset=args.preset, **parse_overrides(args.set))
    methods = args.methods or list(config.methods)
    seeds = args.seeds if args.seeds is not None else list(config.seeds)
    results_dir = str(Path(args.results_dir).resolve())
    # check every run (data present, methods valid, sizes) before any training
    from .loop import check_run, load_data

    data = load_data(config, args.data_dir)
    for method in methods:
        check_run(config, data, method)
    del data
    jobs = [(config, m, s, results_dir, args.data_dir, args.jobs == 1)
            for s in seeds for m in methods]
    print(f"{args.experiment} [{config.run_name}]: {len(methods)} methods x {len(seeds)} seeds "
          f"-> {results_dir}", flush=True)
    if args.jobs == 1:
        done = map(_one_run, jobs)
    else:
        pool = mp.get_context("spawn").Pool(args.jobs)
        done = pool.imap_unordered(_one_run, jobs)
    for method, seed, rows, seconds in done:
        print(f"  {method:>12} seed {seed}: {rows} rows, {seconds:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time and peak memory of the fast DEIMOS (`deimos_batch`) against the literal Algorithm 1
(`greedy_batch_dense` on the explicit V of eq. 3).

Each measurement runs in a fresh process. Memory is the growth of that process's peak resident
set size (``ru_maxrss``) over its level once the input predictions exist: what the call needs
beyond its input. Time is the median wall-clock time of ``--repeats`` calls (the dense reference:
one call, V's construction included). Torch and numpy use ``--threads`` threads (1 by default).

    python benchmarks/bench_deimos.py            # the README table (a few minutes)
    python benchmarks/bench_deimos.py --quick    # a small smoke run
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import statistics
import time

# the dense reference only where V fits comfortably in memory and finishes in minutes
DENSE_MAX_ROWS = 5_000

FULL = [
    # (task, S, C, J, b)
    ("regression", 1_000, 1, 50, 1),
    ("regression", 1_000, 1, 50, 25),
    ("regression", 5_000, 1, 50, 1),
    ("regression", 5_000, 1, 50, 25),
    ("regression", 20_000, 1, 50, 1),
    ("regression", 20_000, 1, 50, 25),
    ("regression", 20_000, 1, 50, 100),
    ("classification", 500, 10, 50, 25),
    ("classification", 2_500, 10, 50, 25),
    ("classification", 5_000, 10, 50, 25),
]
QUICK = [("regression", 500, 1, 20, 5), ("classification", 100, 10, 20, 5)]


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _make_preds(task, S, C, J, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    if task == "regression":
        basis = rng.normal(size=(20, J))
        preds = rng.normal(size=(S, 20)) @ basis + 0.5 * rng.normal(size=(S, J))
        return preds, 0.1 * float(preds.var(axis=1, ddof=1).mean())
    logits = 2.0 * rng.normal(size=(S, C, 1)) + rng.normal(size=(S, C, J))
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, 0.005 * float(probs.var(axis=2, ddof=1).mean())


def _measure(args, queue):
    which, task, S, C, J, b, repeats, threads = args
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    from deimos_utils.acquisition import deimos_batch, greedy_batch_dense, predictive_covariance

    preds, noise = _make_preds(task, S, C, J)
    if which == "fast":
        preds = torch.from_numpy(preds)
        deimos_batch(preds[: min(S, 200)], min(b, 5), noise=noise)  # warm-up, small
    base = _rss_mb()
    times, picked = [], None
    for _ in range(repeats if which == "fast" else 1):
        t0 = time.perf_counter()
        if which == "fast":
            picked, gains = deimos_batch(preds, b, noise=noise)
        elif task == "regression":
            picked, gains = greedy_batch_dense(predictive_covariance(preds, noise), b)
        else:
            picked, gains = greedy_batch_dense(predictive_covariance(preds), b, n_classes=C,
                                               smoothing=noise)
        times.append(time.perf_counter() - t0)
    queue.put((statistics.median(times), _rss_mb() - base, np.asarray(picked).tolist()))


def run_one(which, task, S, C, J, b, repeats, threads):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=((which, task, S, C, J, b, repeats, threads), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two small cases only")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense reference")
    args = parser.parse_args()
    cases = QUICK if args.quick else FULL
    print(f"threads: {args.threads}; fast path: median of {args.repeats} calls; "
          f"memory: peak RSS growth beyond the input\n")
    print("| task | S | C | J | b | V (dense) | fast time | fast memory | dense time | "
          "dense memory | same picks |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|:---:|")
    for task, S, C, J, b in cases:
        t_fast, m_fast, p_fast = run_one("fast", task, S, C, J, b, args.repeats, args.threads)
        v_gb = (S * C) ** 2 * 8 / 1e9
        if args.no_dense or S * C > DENSE_MAX_ROWS:
            dense = f"not run (V needs {v_gb:.1f} GB) | - | -"
        else:
            t_dense, m_dense, p_dense = run_one("dense", task, S, C, J, b, 1, args.threads)
            dense = f"{t_dense:.2f} s | {m_dense:.0f} MB | {'yes' if p_dense == p_fast else 'NO'}"
        print(f"| {task} | {S:,} | {C} | {J} | {b} | {v_gb:.2g} GB | {t_fast:.3f} s | "
              f"{m_fast:.0f} MB | {dense} |", flush=True)


if __name__ == "__main__":
    main()

"""Time and peak memory of the fast DEIMOS (`deimos_batch`), against the literal Algorithm 1
(`greedy_batch_dense` on the explicit V of eq. 3) and BatchBALD at the same sizes.

Each measurement runs in a fresh process. Memory is the largest resident set size seen during
the first call (sampled every millisecond from ``/proc/self/statm`` by a background thread; the
kernels release the GIL) minus the size just before it, once the input predictions exist and a
small warm-up call has run: what the call needs beyond its input. The timed calls follow (so
the sampling thread stays out of them). Time is the minimum and the median wall-clock time of
``--repeats`` calls (one call when the first takes over 5 s), with the smallest CPU time of that
process over a call beside them: on a shared machine the CPU time is the better estimate of the
time on a quiet one. The dense reference and BatchBALD run once. On CUDA
the memory is the GPU's peak (``torch.cuda.max_memory_allocated``) beyond what the inputs hold.
Torch, numpy and BLAS use ``--threads`` threads (1 by default). Inputs are float64 numpy arrays;
``cuda`` rows move them to the GPU first (and print "no CUDA device" without one).

    python benchmarks/bench_deimos.py            # the README table (about 15 minutes)
    python benchmarks/bench_deimos.py --quick    # a small smoke run
    python benchmarks/bench_deimos.py --rows 6 7 --no-batchbald   # two rows again
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import threading
import time

# the dense reference only where V fits comfortably in memory and finishes in minutes
DENSE_MAX_ROWS = 5_000
# BatchBALD (num_samples = 10,000) only up to this many candidates (minutes per batch beyond)
BATCHBALD_MAX_CANDIDATES = 5_000
REPEAT_BELOW_S = 5.0

FULL = [
    # (task, S, N outside the sample (0: the candidates are the sample), C, J, b, dtype, device)
    ("regression", 1_000, 0, 1, 50, 25, "float64", "cpu"),
    ("regression", 5_000, 0, 1, 50, 25, "float64", "cpu"),
    ("regression", 20_000, 0, 1, 50, 100, "float64", "cpu"),
    ("regression", 1_000_000, 0, 1, 50, 100, "float64", "cpu"),
    ("classification", 500, 0, 10, 50, 25, "float64", "cpu"),
    ("classification", 2_500, 0, 10, 50, 25, "float64", "cpu"),
    ("classification", 5_000, 0, 10, 50, 25, "float64", "cpu"),
    ("classification", 5_000, 0, 10, 50, 25, "float32", "cpu"),
    ("classification", 100_000, 0, 10, 50, 100, "float64", "cpu"),
    ("classification", 5_000, 100_000, 10, 50, 25, "float64", "cpu"),
    ("classification", 5_000, 0, 10, 50, 25, "float64", "cuda"),
    ("classification", 100_000, 0, 10, 50, 100, "float64", "cuda"),
]
QUICK = [("regression", 500, 0, 1, 20, 5, "float64", "cpu"),
         ("classification", 100, 0, 10, 20, 5, "float64", "cpu"),
         ("classification", 100, 300, 10, 20, 5, "float64", "cpu"),
         ("classification", 100, 0, 10, 20, 5, "float64", "cuda")]


def _rss_mb() -> float:
    """The current resident set size of this process (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class PeakRSS:
    """Largest RSS growth (MB) over the ``with`` block, sampled every millisecond."""

    def __enter__(self):
        self.base = self.peak = _rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, _rss_mb())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())
        self.growth = self.peak - self.base


def _make_preds(task, S, C, J, seed=0):
    """Synthetic MC-dropout predictions (S, J) or probabilities (S, C, J), and the noise."""
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


def _inputs(task, S, N, C, J):
    sample, noise = _make_preds(task, S, C, J)
    outside = _make_preds(task, N, C, J, seed=1)[0] if N else None
    return sample, outside, noise


def _measure(args, queue):
    which, (task, S, N, C, J, b, dtype, device), repeats, threads = args
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ.setdefault("TQDM_DISABLE", "1")
    import numpy as np
    import torch

    torch.set_num_threads(threads)
    if device == "cuda" and not torch.cuda.is_available():
        queue.put(None)
        return
    from deimos_utils.acquisition import (
        batchbald_batch, deimos_batch, greedy_batch_dense, predictive_covariance)

    sample, outside, noise = _inputs(task, S, N, C, J)
    kw = dict(noise=noise, dtype=getattr(torch, dtype))
    if which == "fast":
        sample = torch.from_numpy(sample).to(device)
        if outside is not None:
            kw["candidate_preds"] = torch.from_numpy(outside).to(device)
        deimos_batch(sample[: min(S, 200)], min(b, 5), noise=noise, dtype=kw["dtype"])  # warm-up
    def call():
        if which == "fast":
            out = deimos_batch(sample, b, **kw)[0]
            if device == "cuda":
                torch.cuda.synchronize()
            return out
        if which == "batchbald":
            return batchbald_batch(sample if outside is None else outside, b,
                                   rng=np.random.default_rng(0))[0]
        if task == "regression":
            return greedy_batch_dense(predictive_covariance(sample, noise), b)[0]
        return greedy_batch_dense(predictive_covariance(sample), b, n_classes=C, noise=noise)[0]

    if device == "cuda":  # the GPU's peak beyond what the inputs hold
        held = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        call()
        memory = (torch.cuda.max_memory_allocated() - held) / 2 ** 20
    else:  # first: later calls reuse memory that earlier ones freed, hiding their peak
        with PeakRSS() as rss:
            call()
        memory = rss.growth
    times, cpu_times = [], []
    for _ in range(repeats if which == "fast" else 1):
        t0, c0 = time.perf_counter(), time.process_time()
        picked = call()
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
        if times[-1] > REPEAT_BELOW_S:
            break
    queue.put((min(times), float(np.median(times)), min(cpu_times), memory,
               np.asarray(picked).tolist()))


def run_one(which, case, repeats, threads):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_measure, args=((which, case, repeats, threads), queue))
    proc.start()
    result = queue.get()
    proc.join()
    return result


def _machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores"


def _load() -> str:
    return "{:.1f}".format(os.getloadavg()[0])


def _row(case, args):
    task, S, N, C, J, b, dtype, device = case
    res = run_one("fast", case, args.repeats, args.threads)
    head = (f"| {task} | {S:,} | {N:,} outside | " if N else f"| {task} | {S:,} | the sample | ")
    head += f"{C} | {J} | {b} | {dtype} {device} |"
    if res is None:
        return head + " no CUDA device | - | - | - | - | - | - |"
    t_fast, t_med, c_fast, m_fast, p_fast = res
    fast = (f" {t_fast:.3f} / {t_med:.3f} s ({c_fast:.3f} s) | {1e3 * t_fast / b:.1f} ms | "
            f"{m_fast:.0f} MB |")
    v_gb = (S * C) ** 2 * 8 / 1e9
    if args.no_dense or N or S * C > DENSE_MAX_ROWS or device != "cpu" or dtype != "float64":
        dense = " - | - |" if N or device != "cpu" or dtype != "float64" else \
            f" not run (V: {v_gb:.1f} GB) | - |"
    else:
        t_d, _, _, m_d, p_d = run_one("dense", case, 1, args.threads)
        dense = f" {t_d:.2f} s, {m_d:.0f} MB | {'yes' if p_d == p_fast else 'NO'} |"
    n_cand = N or S
    if task != "classification" or device != "cpu" or dtype != "float64":
        bb = " - |"
    elif args.no_batchbald or n_cand > BATCHBALD_MAX_CANDIDATES:
        bb = " not run |"
    else:
        t_b, _, _, m_b, _ = run_one("batchbald", case, 1, args.threads)
        bb = f" {t_b:.1f} s, {m_b:.0f} MB |"
    return head + fast + dense + bb + f" {_load()} |"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few small cases only")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-dense", action="store_true", help="skip the dense reference")
    parser.add_argument("--no-batchbald", action="store_true", help="skip BatchBALD")
    parser.add_argument("--rows", type=int, nargs="+", help="only these rows (0-based) of the table")
    args = parser.parse_args()
    cases = QUICK if args.quick else FULL
    if args.rows:
        cases = [cases[i] for i in args.rows]
    print(f"machine: {_machine()}; threads: {args.threads}; load average at the start: "
          f"{_load()}\nfast path: minimum / median wall time of {args.repeats} calls (the minimum "
          f"CPU time); memory: peak RSS growth beyond the input; load: the 1-minute load average "
          f"after the row\n")
    print("| task | S | candidates | C | J | b | precision, device | time min / median (CPU) | "
          "per pick | memory | dense Algorithm 1 | same picks | BatchBALD | load |")
    print("|---|---:|---|---:|---:|---:|---|---:|---:|---:|---:|:---:|---:|---:|")
    for case in cases:
        print(_row(case, args), flush=True)
    print(f"\nload average at the end: {_load()}")


if __name__ == "__main__":
    main()

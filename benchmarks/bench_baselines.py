"""Time and peak memory of one acquisition batch for every method, at MNIST 0-9 scale.

Setup (the MNIST 0-9 experiment of the paper): C = 10 classes, J = 50 fixed dropout masks,
N = 2,000 candidates, batch b = 25. All methods score the same synthetic MC-dropout
predictions, made by a random linear read-out of D = 128 random features under J shared
Bernoulli(0.5) dropout masks on those features (so predictions of different points are
correlated through the masks, as in the real model); the features double as the k-center
embeddings, with 30 labelled points. DEIMOS runs with representative samples of S = 2,000
(the candidates only) and S = 5,000 (the candidates plus 3,000 points that count in its trace
but are not candidates), with tau_s^-1 = 0.005 x the mean class dropout variance (Appendix E).
max_variance (regression only) scores one output of the same model over the J masks.
``--quick`` shrinks everything for a smoke run.

Measurement. Every method runs in its own freshly spawned process (so one method's freed
memory does not hide the next one's peak), on inputs built in that process before the clock
starts, after a small warm-up call. Reported per batch:

- time: wall-clock seconds of the call (``time.perf_counter``), the median of ``--repeats``;
- traced peak: ``tracemalloc``'s peak over the call, i.e. memory allocated through Python's
  allocators, which covers numpy arrays but not torch tensors (torch's CPU allocator is not
  traced);
- RSS peak: the largest resident-set size seen during the call minus the size just before it,
  sampled every millisecond by a background thread with ``psutil``. It covers torch and numpy
  alike; it can miss allocations shorter than a millisecond and undercounts memory that the
  allocator reuses from earlier frees, so read it as an estimate of the extra memory a method
  needs.

The optional ``batchbald_redux`` row (the authors' package, when importable) uses its
``get_batchbald_batch`` on the same probabilities as log-probabilities (N, K, C).
With ``--device cuda`` the inputs are CUDA tensors: BatchBALD, k-center and DEIMOS then run
on the GPU, the numpy scores copy to the CPU first, and a column gives the GPU peak
(``torch.cuda.max_memory_allocated`` over the calls, minus the memory held before them).
Usage: ``python benchmarks/bench_baselines.py [--quick] [--scaling] [--device cuda]``.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import threading
import time
import tracemalloc

import numpy as np

os.environ.setdefault("TQDM_DISABLE", "1")

FULL = dict(n_cand=2000, n_extra=3000, c=10, j=50, d=128, n_lab=30, b=25, num_samples=10000)
QUICK = dict(n_cand=200, n_extra=300, c=10, j=20, d=32, n_lab=10, b=5, num_samples=1000)


def make_data(cfg: dict, seed: int = 0) -> dict:
    """Synthetic MC-dropout outputs: probs (S, C, J), regression preds (S, J), embeddings."""
    rng = np.random.default_rng(seed)
    s = cfg["n_cand"] + cfg["n_extra"]
    feats = rng.normal(size=(s + cfg["n_lab"], cfg["d"]))
    weights = rng.normal(size=(cfg["d"], cfg["c"])) * (1.5 / np.sqrt(cfg["d"]))
    masks = (rng.random((cfg["j"], cfg["d"])) < 0.5) / 0.5                    # (J, D)
    logits = np.ascontiguousarray(np.einsum("nd,jd,dc->ncj", feats[:s], masks, weights))  # (S, C, J)
    probs = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs /= probs.sum(axis=1, keepdims=True)
    noise = 0.005 * float(probs[: cfg["n_cand"]].var(axis=2, ddof=1).mean())
    return dict(
        probs=probs,
        reg=logits[:, 0, :].copy(),
        emb_candidates=feats[: cfg["n_cand"]],
        emb_labelled=feats[s:],
        noise=noise,
    )


def _on_device(x, device: str):
    if device == "numpy":
        return x
    import torch

    return torch.as_tensor(x, device=device)


def _contexts(cfg: dict, data: dict, method: str, variant: str | None):
    from deimos_utils.acquisition.registry import AcquisitionContext

    n, dev = cfg["n_cand"], cfg.get("device", "numpy")
    task = "regression" if method == "max_variance" else "classification"
    preds = data["reg"] if task == "regression" else data["probs"]
    extra = _on_device(preds[n:], dev) if variant == "S_large" else None
    return AcquisitionContext(
        batch_size=cfg["b"], rng=np.random.default_rng(0), task=task,
        cand_preds=_on_device(preds[:n], dev), extra_preds=extra, noise=data["noise"],
        emb_labelled=_on_device(data["emb_labelled"], dev),
        emb_candidates=_on_device(data["emb_candidates"], dev),
    )


def _callable(cfg: dict, data: dict, method: str, variant: str | None):
    """A zero-argument function running one batch."""
    if method == "batchbald_redux":
        import torch
        from batchbald_redux.batchbald import get_batchbald_batch

        log_probs = torch.log(torch.as_tensor(data["probs"][: cfg["n_cand"]]).permute(0, 2, 1).contiguous())
        return lambda: get_batchbald_batch(log_probs, cfg["b"], num_samples=cfg["num_samples"],
                                           dtype=torch.double)
    from deimos_utils.acquisition.registry import batchbald_acquisition, get_acquisition

    fn = batchbald_acquisition(cfg["num_samples"]) if method == "batchbald" else get_acquisition(method)
    ctx = _contexts(cfg, data, method, variant)
    return lambda: fn(ctx)


class _RssSampler:
    def __init__(self, period_s: float = 1e-3):
        import psutil

        self._proc = psutil.Process()
        self._period = period_s
        self._stop = threading.Event()
        self.base = self.peak = self._proc.memory_info().rss

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self._period)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._proc.memory_info().rss)


def _warm_up(cfg: dict, method: str, variant: str | None) -> None:
    """A tiny call first: imports, kernel selection and other first-call costs."""
    small = dict(cfg, n_cand=min(60, cfg["n_cand"]), n_extra=min(40, cfg["n_extra"]), b=2, num_samples=100)
    _callable(small, make_data(small), method, variant)()


def measure(args: tuple) -> dict:
    """Run in a fresh process: build the data, warm up, then time one batch ``repeats`` times."""
    cfg, method, variant, repeats = args
    _warm_up(cfg, method, variant)
    data = make_data(cfg)
    run = _callable(cfg, data, method, variant)
    cuda = cfg.get("device", "numpy").startswith("cuda")
    if cuda:
        import torch

        sync = torch.cuda.synchronize
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        gpu_base = torch.cuda.memory_allocated()
    else:
        def sync():
            return None
    times, traced, rss = [], [], []
    for _ in range(repeats):
        with _RssSampler() as sampler:
            tracemalloc.start()                                 # after the sampler thread starts
            t0 = time.perf_counter()
            run()
            sync()
            times.append(time.perf_counter() - t0)
            traced.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        rss.append(sampler.peak - sampler.base)
    out = dict(time=statistics.median(times), traced=max(traced), rss=max(rss))
    if cuda:
        out["gpu"] = torch.cuda.max_memory_allocated() - gpu_base
    return out


def scaling_time(args: tuple) -> float:
    cfg, method = args
    _warm_up(cfg, method, None)
    data = make_data(cfg)
    run = _callable(cfg, data, method, None)
    t0 = time.perf_counter()
    run()
    if cfg.get("device", "numpy").startswith("cuda"):
        import torch

        torch.cuda.synchronize()
    return time.perf_counter() - t0


def _redux_available() -> bool:
    try:
        import batchbald_redux.batchbald  # noqa: F401
    except Exception:
        return False
    return True


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run")
    parser.add_argument("--repeats", type=int, default=1, help="timed calls per method")
    parser.add_argument("--scaling", action="store_true",
                        help="also time DEIMOS and BatchBALD at larger N, b and J")
    parser.add_argument("--methods", nargs="*", default=None, help="subset of rows to run")
    parser.add_argument("--device", default="numpy",
                        help="'numpy' (inputs as numpy arrays, the default), 'cpu' or 'cuda' (torch "
                             "tensors on that device; the torch-based methods then run there)")
    args = parser.parse_args(argv)
    cfg = dict(QUICK if args.quick else FULL, device=args.device)

    rows = [
        ("random", "random", None),
        ("max_variance (regression)", "max_variance", None),
        ("max_entropy", "max_entropy", None),
        ("bald", "bald", None),
        ("kcenter (robust, D=%d, %d labelled)" % (cfg["d"], cfg["n_lab"]), "kcenter", None),
        ("deimos, S = %d" % cfg["n_cand"], "deimos", None),
        ("deimos, S = %d" % (cfg["n_cand"] + cfg["n_extra"]), "deimos", "S_large"),
        ("batchbald (num_samples=%d)" % cfg["num_samples"], "batchbald", None),
    ]
    if _redux_available():
        rows.append(("batchbald_redux 2.0.5 (authors')", "batchbald_redux", None))
    if args.methods:
        rows = [r for r in rows if r[1] in args.methods]

    ctx = mp.get_context("spawn")
    cuda = args.device.startswith("cuda")
    print(f"N = {cfg['n_cand']} candidates, C = {cfg['c']}, J = {cfg['j']}, b = {cfg['b']}; "
          f"inputs: {args.device}; CPUs = {os.cpu_count()}\n")
    print("| method | time / batch (s) | traced peak (MiB) | RSS peak (MiB) |"
          + (" GPU peak (MiB) |" if cuda else ""))
    print("|---|---:|---:|---:|" + ("---:|" if cuda else ""))
    for label, method, variant in rows:
        with ctx.Pool(1) as pool:
            r = pool.apply(measure, ((cfg, method, variant, args.repeats),))
        gpu = f" {r['gpu'] / 2**20:.1f} |" if cuda else ""
        print(f"| {label} | {r['time']:.3f} | {r['traced'] / 2**20:.1f} | {r['rss'] / 2**20:.1f} |{gpu}",
              flush=True)

    if args.scaling:
        base = dict(cfg)
        grid = [("base", {}), ("N x 2", {"n_cand": 2 * cfg["n_cand"]}),
                ("b x 2", {"b": 2 * cfg["b"]}), ("J x 2", {"j": 2 * cfg["j"]})]
        print("\n| setting | N | b | J | deimos (s) | batchbald (s) |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, change in grid:
            c2 = dict(base, **change, n_extra=0)
            times = []
            for method in ("deimos", "batchbald"):
                with ctx.Pool(1) as pool:
                    times.append(pool.apply(scaling_time, ((c2, method),)))
            print(f"| {name} | {c2['n_cand']} | {c2['b']} | {c2['j']} | {times[0]:.2f} | {times[1]:.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()

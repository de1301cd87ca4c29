"""Where the time of one `deimos_batch` call goes at MNIST 0-9 size, and the floor its product sets.

One thread. Prints a table: the whole call (b picks), the call with b = 1 (checks, features and
the first C x C blocks and scores: the setup), their difference per conditioning, and the one
product every conditioning needs, [Z, R]^T = [u, w]^T P over all candidates' c x J features
(c = C - 1 class directions), run alone through BLAS on the same panels as the kernel, with its
GFLOP/s. (b - 1) times that product is a lower bound on the picks at this BLAS's speed on this
shape; a large square product gives the BLAS's own peak on this core for comparison. Times are the
minimum of ``--repeats`` calls.

    python benchmarks/bench_deimos_floor.py
    python benchmarks/bench_deimos_floor.py --S 2500 --repeats 9
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402


def best_time(call, repeats: int) -> float:
    """The minimum wall-clock time (s) of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times)


def class_predictions(S: int, C: int, J: int, seed: int = 0) -> torch.Tensor:
    """(S, C, J) float64 class probabilities from a Dirichlet, a different draw per mask."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.dirichlet(np.ones(C), size=(S, J)).transpose(0, 2, 1).copy())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--S", type=int, default=5_000, help="sample = candidates")
    parser.add_argument("--C", type=int, default=10)
    parser.add_argument("--J", type=int, default=50)
    parser.add_argument("--b", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    from deimos_utils.acquisition import deimos_batch
    from deimos_utils.acquisition.deimos_numba import panel_lanes

    S, C, J, b, reps = args.S, args.C, args.J, args.b, args.repeats
    preds = class_predictions(S, C, J)
    call = lambda k: deimos_batch(preds, k, noise=1e-3)  # noqa: E731
    call(2)  # compile and warm up
    whole, setup = best_time(lambda: call(b), reps), best_time(lambda: call(1), reps)
    per_pick = (whole - setup) / (b - 1)

    c, B = C - 1, panel_lanes(C - 1)
    n_panels = -(-S // B)
    rng = np.random.default_rng(1)
    panels = rng.standard_normal((n_panels, J, c, B))
    directions = rng.standard_normal((2 * c, J))
    out = np.empty((2 * c, c * B))

    def product():
        for p in range(n_panels):
            np.dot(directions, panels[p].reshape(J, c * B), out)

    flops = 2.0 * (2 * c) * J * c * B * n_panels
    t_product = best_time(product, 3 * reps)
    square = rng.standard_normal((1000, 1000))
    t_square = best_time(lambda: square @ square, reps)

    rows = [
        (f"whole call, b = {b}", whole, ""),
        ("setup (the call with b = 1)", setup, ""),
        ("per conditioning: (whole - setup) / (b - 1)", per_pick, ""),
        ("product [u, w]^T P per conditioning, alone", t_product,
         f"{flops / 1e6:.0f} MFLOP, {flops / t_product / 1e9:.1f} GFLOP/s"),
        ("floor of the picks: (b - 1) x product", (b - 1) * t_product, ""),
        ("rest per conditioning (updates, factorisations, scores)", per_pick - t_product, ""),
        ("BLAS peak here: 1000 x 1000 square product", t_square,
         f"{2e9 / t_square / 1e9:.1f} GFLOP/s"),
    ]
    print(f"deimos_batch, classification, S = {S:,} (candidates = the sample), C = {C}, J = {J}, "
          f"b = {b}, float64, one thread; minimum of {reps} calls")
    print()
    print("| part | time | note |")
    print("|---|---:|---|")
    for name, seconds, note in rows:
        print(f"| {name} | {seconds * 1e3:.1f} ms | {note} |")
    print()
    print(f"load average: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()

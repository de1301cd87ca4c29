"""Appendix A: how close is the greedy batch to the best batch?

Random instances follow the paper: i.i.d. standard normal "predictions" for a small pool of
points under J masks, V = sample covariance + tau^-1 I with tau^-1 = 10% of the mean sample
variance. For each instance the greedy batch (Algorithm 1) and the exhaustive best batch are
compared by their total trace reduction.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .acquisition import greedy_batch_dense, optimal_batch_bruteforce, predictive_covariance
from .runtime import make_rng, progress_bar

#: settings per scale preset: batch sizes, numbers of masks, pool size per batch size (small
#: enough for brute force), random instances per (batch size, masks) cell
PRESETS = {
    "quick": {"batch_sizes": [2, 5, 10], "mask_counts": [5, 20, 50],
              "pool_sizes": {2: 20, 5: 14, 10: 16}, "n_instances": 40},
    "paper": {"batch_sizes": [2, 5, 10], "mask_counts": [5, 20, 50],
              "pool_sizes": {2: 20, 5: 14, 10: 16}, "n_instances": 200},
}

#: the 3 x 3 example of Appendix A
APPENDIX_A_V = np.array([[9.0, 3.0, 2.0], [3.0, 2.0, 3.0], [2.0, 3.0, 9.0]])


def random_instance(rng: np.random.Generator, n_points: int, n_masks: int,
                    noise_fraction: float = 0.1) -> np.ndarray:
    """V (n_points, n_points) from i.i.d. N(0, 1) predictions (n_points, n_masks)."""
    preds = rng.standard_normal((n_points, n_masks))
    noise = noise_fraction * float(preds.var(axis=1, ddof=1).mean())
    return predictive_covariance(preds, noise)


def greedy_vs_optimal(batch_sizes, mask_counts, pool_sizes, n_instances: int, seed: int = 0,
                      noise_fraction: float = 0.1, progress: bool = True) -> pd.DataFrame:
    """One row per random instance: batch size, masks, pool, greedy and optimal trace reduction.

    ``pool_sizes`` maps each batch size to its pool size (small enough for brute force: the
    number of subsets is pool choose batch). Each (batch size, masks) cell has its own seeded
    stream, so cells can be added without changing the others.
    """
    rows = []
    cells = [(b, j) for b in batch_sizes for j in mask_counts]
    bar = progress_bar(total=len(cells) * n_instances, disable=not progress, desc="instances")
    for b, j in cells:
        rng = make_rng(seed, "appendix-a", b, j)
        pool = int(pool_sizes[b])
        for i in range(n_instances):
            V = random_instance(rng, pool, j, noise_fraction)
            _, gains = greedy_batch_dense(V, b)
            _, best = optimal_batch_bruteforce(V, b)
            rows.append({"batch_size": b, "n_masks": j, "pool": pool, "instance": i,
                         "greedy": float(gains.sum()), "optimal": best})
            bar.update()
    bar.close()
    table = pd.DataFrame(rows)
    table["ratio"] = table["greedy"] / table["optimal"]
    return table


def summarize_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per (batch size, masks): instances, min / mean ratio and the share of exact optima."""
    grouped = table.groupby(["batch_size", "n_masks"])["ratio"]
    return pd.DataFrame({
        "instances": grouped.size(),
        "min_ratio": grouped.min(),
        "mean_ratio": grouped.mean(),
        "share_optimal": grouped.apply(lambda r: float((r > 1 - 1e-9).mean())),
    })


def plot_ratio_histograms(table: pd.DataFrame, bins: int = 30):
    """Fig A.1: a histogram of greedy / optimal per (batch size, masks), one panel each."""
    import matplotlib.pyplot as plt

    batch_sizes = sorted(table["batch_size"].unique())
    mask_counts = sorted(table["n_masks"].unique())
    fig, axes = plt.subplots(len(batch_sizes), len(mask_counts), squeeze=False,
                             figsize=(3.2 * len(mask_counts), 2.4 * len(batch_sizes)),
                             sharex=True)
    lo = min(0.95, float(table["ratio"].min()))
    edges = np.linspace(lo, 1.0 + 1e-9, bins + 1)
    for r, b in enumerate(batch_sizes):
        for c, j in enumerate(mask_counts):
            ax = axes[r, c]
            ratios = table.query("batch_size == @b and n_masks == @j")["ratio"]
            ax.hist(ratios, bins=edges, color="#d62728", alpha=0.8)
            ax.set_title(f"b = {b}, J = {j} (min {ratios.min():.4f})", fontsize=9)
            if c == 0:
                ax.set_ylabel("instances")
            if r == len(batch_sizes) - 1:
                ax.set_xlabel("greedy / optimal trace reduction")
    fig.tight_layout()
    return fig

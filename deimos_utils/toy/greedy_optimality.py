"""Appendix A: how close is the greedy batch to the best batch?

Random instances follow the paper: i.i.d. standard normal "predictions" for a small pool of
points under J masks, V = sample covariance + tau^-1 I with tau^-1 = 10% of the mean sample
variance. For each instance the greedy batch (Algorithm 1) and the exhaustive best batch are
compared by their total trace reduction. The authors' own ratios (Fig A.1, their arrays) are
read by :func:`authors_ratio_table` and shown beside ours by :func:`compare_ratios` and
:func:`plot_ratio_histograms`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..acquisition import greedy_batch_dense, optimal_batch_bruteforce, predictive_covariance
from ..runtime import make_rng, progress_bar

#: Fig A.1's cells: J = 2, 3 and 50 masks; b = 2 of 200 points, 5 of 30, 10 of 20
PAPER_MASK_COUNTS = [2, 3, 50]
PAPER_POOL_SIZES = {2: 200, 5: 30, 10: 20}

#: settings per scale preset: batch sizes, numbers of masks, pool size per batch size (small
#: enough for brute force), random instances per (batch size, masks) cell (one number, or one
#: per batch size). paper: Fig A.1's (200 instances each); cpu: its pools and instances where
#: a cell takes a few minutes on a CPU (b = 10 of 20 points tries 184,756 batches an
#: instance: 50 instances); quick: smaller pools, 40 instances, the same J.
PRESETS = {
    "quick": {"batch_sizes": [2, 5, 10], "mask_counts": PAPER_MASK_COUNTS,
              "pool_sizes": {2: 20, 5: 14, 10: 16}, "n_instances": 40},
    "cpu": {"batch_sizes": [2, 5, 10], "mask_counts": PAPER_MASK_COUNTS,
            "pool_sizes": PAPER_POOL_SIZES, "n_instances": {2: 200, 5: 200, 10: 50}},
    "paper": {"batch_sizes": [2, 5, 10], "mask_counts": PAPER_MASK_COUNTS,
              "pool_sizes": PAPER_POOL_SIZES, "n_instances": 200},
}

#: tau^-1 of the random instances, as a fraction of their mean prediction variance
INSTANCE_NOISE_FRACTION = 0.1

#: the 3 x 3 example of Appendix A
APPENDIX_A_V = np.array([[9.0, 3.0, 2.0], [3.0, 2.0, 3.0], [2.0, 3.0, 9.0]])


def random_instance(rng: np.random.Generator, n_points: int, n_masks: int,
                    noise_fraction: float = INSTANCE_NOISE_FRACTION) -> np.ndarray:
    """V (n_points, n_points) from i.i.d. N(0, 1) predictions (n_points, n_masks)."""
    preds = rng.standard_normal((n_points, n_masks))
    noise = noise_fraction * float(preds.var(axis=1, ddof=1).mean())
    return predictive_covariance(preds, noise)


def greedy_vs_optimal(batch_sizes, mask_counts, pool_sizes, n_instances, seed: int = 0,
                      noise_fraction: float = INSTANCE_NOISE_FRACTION, progress: bool = True) -> pd.DataFrame:
    """One row per random instance: batch size, masks, pool, greedy and optimal trace reduction.

    ``pool_sizes`` maps each batch size to its pool size (small enough for brute force: the
    number of subsets is pool choose batch); ``n_instances`` is one count for every cell or
    a mapping batch size -> count. Each (batch size, masks) cell has its own seeded
    stream, so cells can be added without changing the others.
    """
    rows = []
    cells = [(b, j) for b in batch_sizes for j in mask_counts]
    counts = {b: int(n_instances[b] if isinstance(n_instances, dict) else n_instances) for b in batch_sizes}
    bar = progress_bar(total=sum(counts[b] for b, _ in cells), disable=not progress, desc="instances")
    for b, j in cells:
        rng = make_rng(seed, "appendix-a", b, j)
        pool = int(pool_sizes[b])
        for i in range(counts[b]):
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


def ratio_table_path(preset: str, results_dir=None):
    """Where a preset's instances are kept: ``<results>/greedy_optimality/<preset>.csv``."""
    from ..locations import results_root

    return results_root(results_dir) / "greedy_optimality" / f"{preset}.csv"


def save_ratio_table(table: pd.DataFrame, preset: str, results_dir=None):
    """Keep a :func:`greedy_vs_optimal` table of ``preset`` (notebook 02; the claims read it)."""
    path = ratio_table_path(preset, results_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return path


def load_ratio_table(preset: str, results_dir=None) -> pd.DataFrame | None:
    """The kept table of ``preset``, or None when notebook 02 has not run at that preset."""
    path = ratio_table_path(preset, results_dir)
    return pd.read_csv(path) if path.is_file() else None


def summarize_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """Per (batch size, masks): instances, min / mean ratio and the share of exact optima."""
    grouped = table.groupby(["batch_size", "n_masks"])["ratio"]
    return pd.DataFrame({
        "instances": grouped.size(),
        "min_ratio": grouped.min(),
        "mean_ratio": grouped.mean(),
        "share_optimal": grouped.apply(lambda r: float((r > 1 - 1e-9).mean())),
    })


def authors_ratio_table(batch_sizes=(2, 5, 10), mask_counts=PAPER_MASK_COUNTS, data_dir=None
                        ) -> tuple[pd.DataFrame | None, str]:
    """The authors' greedy / optimal ratios of Fig A.1 as a table like
    :func:`greedy_vs_optimal`'s (``batch_size``, ``n_masks``, ``pool``, ``instance``,
    ``ratio``), and ``""``; ``(None, "authors' arrays not found: ...")`` when absent. Cells
    they did not run (J outside 2, 3, 50) are left out."""
    from ..data.authors import load_authors_optimality_ratios
    from ..analysis.authors_comparison import not_found_message
    from ..data.paths import MissingDataError

    frames = []
    for b in batch_sizes:
        for j in mask_counts:
            if b not in PAPER_POOL_SIZES or j not in PAPER_MASK_COUNTS:
                continue
            try:
                r = load_authors_optimality_ratios(b, j, data_dir, download=False)
            except MissingDataError:
                return None, not_found_message(data_dir)
            frames.append(pd.DataFrame({"batch_size": b, "n_masks": j, "pool": PAPER_POOL_SIZES[b],
                                        "instance": np.arange(r.size), "ratio": r}))
    if not frames:
        return None, "the authors ran J = 2, 3 and 50 with b = 2, 5, 10 only"
    return pd.concat(frames, ignore_index=True), ""


def compare_ratios(ours: pd.DataFrame, theirs: pd.DataFrame | None) -> pd.DataFrame:
    """:func:`summarize_ratios` of ours and of the authors' side by side: per (batch size,
    masks) the columns ``pool``, ``instances``, ``min_ratio``, ``mean_ratio``,
    ``share_optimal`` under ``"ours"`` and ``"authors (their arrays)"`` (NaN where they ran
    no such cell, or their arrays are absent)."""
    from ..analysis.authors_comparison import AUTHORS_LABEL

    def side(table):
        out = summarize_ratios(table)
        out.insert(0, "pool", table.groupby(["batch_size", "n_masks"])["pool"].first())
        return out

    a = side(ours)
    b = side(theirs) if theirs is not None and len(theirs) else a.iloc[0:0]
    b = b.reindex(a.index)
    return pd.concat({"ours": a, AUTHORS_LABEL: b}, axis=1)


def plot_ratio_histograms(table: pd.DataFrame, theirs: pd.DataFrame | None = None, bins: int = 30):
    """Fig A.1: a histogram of greedy / optimal per (batch size, masks), one panel each;
    ours filled red, the authors' (``theirs``, :func:`authors_ratio_table`) as a black step
    outline, each as a share of its instances (the counts differ), each panel titled with
    both minimum ratios."""
    import matplotlib.pyplot as plt

    from ..analysis.authors_comparison import AUTHORS_LABEL

    batch_sizes = sorted(table["batch_size"].unique())
    mask_counts = sorted(table["n_masks"].unique())
    fig, axes = plt.subplots(len(batch_sizes), len(mask_counts), squeeze=False,
                             figsize=(3.4 * len(mask_counts), 2.5 * len(batch_sizes)),
                             sharex=True)
    lo = min(0.95, float(table["ratio"].min()))
    if theirs is not None and len(theirs):
        lo = min(lo, float(theirs["ratio"].min()))
    edges = np.linspace(lo, 1.0 + 1e-9, bins + 1)
    for r, b in enumerate(batch_sizes):
        for c, j in enumerate(mask_counts):
            ax = axes[r, c]
            ratios = table.query("batch_size == @b and n_masks == @j")["ratio"]
            pool = int(table.query("batch_size == @b and n_masks == @j")["pool"].iloc[0])
            ax.hist(ratios, bins=edges, weights=np.full(len(ratios), 1 / len(ratios)),
                    color="#d62728", alpha=0.7, label=f"ours ({len(ratios)}, pool {pool})")
            title = f"b = {b}, J = {j}: min {ratios.min():.4f}"
            cell = None if theirs is None else theirs.query("batch_size == @b and n_masks == @j")["ratio"]
            if cell is not None and len(cell):
                ax.hist(cell, bins=edges, weights=np.full(len(cell), 1 / len(cell)), histtype="step",
                        color="k", lw=1.2,
                        label=f"{AUTHORS_LABEL} ({len(cell)}, pool {PAPER_POOL_SIZES[b]})")
                title += f" / theirs {cell.min():.4f}"
            ax.set_title(title, fontsize=8.5)
            ax.legend(fontsize=6, loc="upper left")
            if c == 0:
                ax.set_ylabel("share of instances")
            if r == len(batch_sizes) - 1:
                ax.set_xlabel("greedy / optimal trace reduction")
    fig.tight_layout()
    return fig

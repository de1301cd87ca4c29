"""Figures and tables of the MNIST experiments (section 5.3: Fig 3, Fig B.1).

Everything here reads the results tables of :mod:`deimos_utils.experiment.loop` (one row per run and
iteration, columns :data:`~deimos_utils.experiment.store.COLUMNS`), so the notebooks only call these
functions, :mod:`deimos_utils.figures.common` and the tables every notebook shares
(:mod:`deimos_utils.analysis.tables`: what ran, Table 2, the LMM p-values of Appendix C, titles).

- :func:`plot_accuracy_curves`: test accuracy against acquisitions (Fig 3a, b, Fig B.1).
- :func:`queried_ids`, :func:`first_last_queries`, :func:`plot_queried_images`: the images
  DEIMOS queried first and last (Fig 3c).
- :func:`plot_batch_diversity`, :func:`diversity_wins`: batch diversity per iteration
  (Fig 3d, e).
- :data:`SAMPLE_SIZES`, :func:`sample_size_configs`, :func:`run_sample_sizes`,
  :func:`plot_sample_sizes`, :func:`sample_size_tests`: DEIMOS with several representative
  sample sizes (Fig 3f).
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from .common import mean_sd_lines, plot_learning_curves
from ..analysis.tables import _lrt_row, _methods_in, _note, _others, _p_cells, _require, figure_title, method_label
from ..experiment.store import parse_picked

__all__ = [
    "SAMPLE_SIZES",
    "plot_accuracy_curves",
    "queried_ids",
    "first_last_queries",
    "ids_to_positions",
    "plot_queried_images",
    "plot_batch_diversity",
    "diversity_wins",
    "sample_sizes_for",
    "sample_size_configs",
    "run_sample_sizes",
    "plot_sample_sizes",
    "sample_size_tests",
]

#: Representative sample sizes of Fig 3f (``n_candidates`` overrides) per preset. The paper's
#: 500 / 2,500 / 5,000; the quick preset (50 candidates) uses 20 / 50 / 100.
SAMPLE_SIZES = {"quick": (20, 50, 100), "cpu": (500, 2500, 5000), "paper": (500, 2500, 5000)}


# ------------------------------------------------------------------------------------ accuracy

def _integer_ticks(ax) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _title(dataset: str, config, results: pd.DataFrame, what: str) -> str:
    """:func:`~deimos_utils.analysis.tables.figure_title` with the repeats found in ``results``."""
    return figure_title(dataset, config, int(results["seed"].nunique()), what)


def plot_accuracy_curves(results: pd.DataFrame, config, dataset: str, *, ax=None, methods=None,
                         what: str = "test accuracy"):
    """Test accuracy (mean +-1 sd over repeats) against acquired points, one line per method.

    The title names ``dataset``, the batch size, the preset and the repeats found in
    ``results``. Returns the axes.
    """
    _require(results, ("method", "seed", "n_acquired", "test_accuracy"), "plot_accuracy_curves")
    methods = _methods_in(results, methods)
    ax = plot_learning_curves(results, "test_accuracy", ax=ax, methods=methods,
                              title=_title(dataset, config, results, what),
                              n_initial=config.n_initial)
    ax.set_ylabel("Test accuracy")
    _integer_ticks(ax)
    return ax


# ------------------------------------------------------------------------------------ queried images

def _one_run_set(results: pd.DataFrame, method: str) -> pd.DataFrame:
    _require(results, ("method", "seed", "iteration", "picked"), "queried_ids")
    r = results[results["method"] == method]
    if r.empty:
        raise ValueError(f"method {method!r} is not in results; methods present: "
                         f"{list(dict.fromkeys(results['method']))}")
    keys = [c for c in ("experiment", "preset", "tag") if c in r.columns]
    if keys and len(r[keys].drop_duplicates()) > 1:
        found = r[keys].drop_duplicates().to_dict(orient="records")
        raise ValueError(f"results hold several runs of {method!r} per seed ({found}); pass the rows "
                         "of one experiment, preset and tag")
    if r.duplicated(["seed", "iteration"]).any():
        raise ValueError(f"results hold repeated (seed, iteration) rows for {method!r}")
    return r


def queried_ids(results: pd.DataFrame, method: str = "deimos") -> dict[int, np.ndarray]:
    """Dataset ids ``method`` queried in each repeat, in query order: ``{seed: (n,) int64}``.

    Batches in iteration order, each batch in its pick order (the ``picked`` column).
    """
    r = _one_run_set(results, method)
    out = {}
    for seed, rows in r.sort_values(["seed", "iteration"]).groupby("seed", sort=True):
        picks = [parse_picked(p) for p in rows["picked"]]
        out[int(seed)] = np.concatenate(picks) if picks else np.zeros(0, dtype=np.int64)
    return out


def first_last_queries(results: pd.DataFrame, method: str = "deimos", first: int = 3,
                       last: int = 2) -> pd.DataFrame:
    """The first ``first`` and last ``last`` queries of each repeat (Fig 3c).

    Returns a DataFrame with columns ``seed``, ``query`` (1-based position in the query
    order) and ``id`` (dataset id), sorted by seed and query; a query in both the first and
    the last ones (a short run) appears once.
    """
    if first < 0 or last < 0 or first + last == 0:
        raise ValueError(f"first and last must be >= 0 and not both 0, got {first}, {last}")
    rows = []
    for seed, ids in queried_ids(results, method).items():
        n = len(ids)
        ranks = sorted(set(range(min(first, n))) | set(range(max(n - last, 0), n)))
        rows.extend({"seed": seed, "query": k + 1, "id": int(ids[k])} for k in ranks)
    return pd.DataFrame(rows, columns=["seed", "query", "id"]).astype("int64")


def ids_to_positions(pool_ids, ids) -> np.ndarray:
    """Positions in the pool (``pool_ids``, unique) of the dataset ids ``ids``.

    Raises ValueError naming ids that are not in the pool.
    """
    pool_ids = np.asarray(pool_ids, dtype=np.int64).reshape(-1)
    ids = np.asarray(ids, dtype=np.int64).reshape(-1)
    if np.unique(pool_ids).size != pool_ids.size:
        raise ValueError("pool_ids holds repeated ids")
    order = np.argsort(pool_ids, kind="stable")
    sorted_ids = pool_ids[order]
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    if sorted_ids.size == 0:
        raise ValueError(f"ids {ids[:5].tolist()} are not in an empty pool")
    k = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    ok = sorted_ids[k] == ids
    if not ok.all():
        raise ValueError(f"ids {ids[~ok][:5].tolist()} are not in the pool (wrong dataset or classes?)")
    return order[k].astype(np.int64)


def plot_queried_images(data, queries: pd.DataFrame, *, title: str | None = None):
    """A grid of queried images: one row per query number, one column per repeat (Fig 3c).

    ``data``: the :class:`~deimos_utils.experiment.config.ALData` the runs used; ``queries``: from
    :func:`first_last_queries`. Each image is labelled with its query number and true class.
    Returns the figure.
    """
    import matplotlib.pyplot as plt

    _require(queries, ("seed", "query", "id"), "plot_queried_images")
    seeds = sorted(queries["seed"].unique())
    ranks = sorted(queries["query"].unique())
    pos = ids_to_positions(data.pool_ids, queries["id"].to_numpy())
    names = data.class_names or tuple(str(c) for c in range(data.n_classes or 0))
    fig, axes = plt.subplots(len(ranks), len(seeds), figsize=(1.6 * len(seeds) + 0.8, 1.6 * len(ranks) + 0.6),
                             squeeze=False)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_frame_on(False)
    for (_, q), p in zip(queries.iterrows(), pos):
        ax = axes[ranks.index(q["query"]), seeds.index(q["seed"])]
        img = data.x_pool[int(p)].detach().cpu().float().numpy()
        ax.imshow(img.reshape(img.shape[-2], img.shape[-1]) if img.ndim > 2 else img, cmap="gray_r")
        label = int(data.y_pool[int(p)])
        ax.set_title(f"query {int(q['query'])}: a {names[label] if label < len(names) else label}",
                     fontsize=8)
    for j, s in enumerate(seeds):
        axes[0, j].annotate(f"repeat {s + 1}", (0.5, 1.32), xycoords="axes fraction", ha="center",
                            fontsize=9, fontweight="bold")
    if title:
        fig.suptitle(title, fontsize=10, y=1.02 + 0.02 * (len(ranks) < 3))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------ diversity

def _diversity_rows(results: pd.DataFrame) -> pd.DataFrame:
    _require(results, ("method", "seed", "iteration", "diversity"), "batch diversity")
    rows = results[np.isfinite(pd.to_numeric(results["diversity"], errors="coerce"))]
    if rows.empty:
        raise ValueError("results hold no finite diversity (it is measured for classification batches "
                         "of 2 or more points)")
    return rows.assign(batch=rows["iteration"] + 1)


def plot_batch_diversity(results: pd.DataFrame, config, dataset: str, *, ax=None, methods=None,
                         what: str = "batch diversity"):
    """Batch diversity (mean symmetric KL of the queried batch; mean +-1 sd over repeats)
    against the AL iteration, one line per method (Fig 3d, e). Returns the axes."""
    rows = _diversity_rows(results)
    methods = [m for m in _methods_in(results, methods) if m in set(rows["method"])]
    ax = plot_learning_curves(rows, "diversity", ax=ax, methods=methods, x="batch",
                              title=_title(dataset, config, rows, what))
    ax.set_xlabel(f"AL iteration (batch of {config.batch_size} points)")
    ax.set_ylabel("Batch diversity (mean symmetric KL, nats)")
    _integer_ticks(ax)
    return ax


def diversity_wins(results: pd.DataFrame, reference: str = "deimos", methods=None) -> pd.DataFrame:
    """How often ``reference``'s batches are more diverse than each other method's.

    Per iteration, the mean diversity over repeats of each method; one row per other method:
    ``iterations`` compared (those both have), ``reference higher`` (the fraction where the
    reference's mean is higher), and the two means over those iterations.
    """
    rows = _diversity_rows(results)
    curves = rows.groupby(["method", "batch"])["diversity"].mean()
    others = _others(rows, reference, methods, "the rows with a finite diversity")
    ref = curves.loc[reference]
    out = []
    for m in others:
        other = curves.loc[m]
        common = ref.index.intersection(other.index)
        a, b = ref.loc[common].to_numpy(), other.loc[common].to_numpy()
        out.append({"method": method_label(m), "iterations": int(len(common)),
                    f"{method_label(reference)} higher": float(np.mean(a > b)) if len(common) else float("nan"),
                    f"mean {method_label(reference)}": float(a.mean()) if len(common) else float("nan"),
                    "mean method": float(b.mean()) if len(common) else float("nan")})
    return pd.DataFrame(out).set_index("method")


# ------------------------------------------------------------------------------------ sample sizes

def sample_sizes_for(preset: str) -> tuple[int, ...]:
    """Fig 3f's representative sample sizes at ``preset`` (:data:`SAMPLE_SIZES`)."""
    if preset not in SAMPLE_SIZES:
        raise ValueError(f"no sample sizes for preset {preset!r}; presets: {', '.join(SAMPLE_SIZES)}")
    return SAMPLE_SIZES[preset]


def sample_size_configs(config, sizes: Sequence[int]) -> dict:
    """``{size: config}`` for Fig 3f: ``config`` with ``n_candidates=size`` and
    ``tag=f"samp{size}"`` (its own results folder; appended to the config's own tag, if
    any), or ``config`` itself for the size it already has (that run is the same)."""
    sizes = [int(s) for s in sizes]
    if not sizes or len(set(sizes)) != len(sizes) or min(sizes) < 1:
        raise ValueError(f"sizes must be distinct positive integers, got {sizes}")
    prefix = f"{config.tag}-" if config.tag else ""
    return {s: config if s == config.n_candidates else config.replace(n_candidates=s, tag=f"{prefix}samp{s}")
            for s in sizes}


def run_sample_sizes(config, sizes: Sequence[int], *, method: str = "deimos", data=None,
                     results_dir="results", progress: bool = True) -> pd.DataFrame:
    """Run (or read back) ``method`` at each sample size; all rows with a ``sample_size`` column."""
    from ..experiment.loop import load_data, run_all

    if data is None:
        data = load_data(config)
    frames = []
    for size, cfg in sample_size_configs(config, sizes).items():
        res = run_all(cfg, methods=[method], data=data, results_dir=results_dir, progress=progress)
        frames.append(res.assign(sample_size=size))
    return pd.concat(frames, ignore_index=True)


def _check_sizes(results: pd.DataFrame, what: str) -> list:
    _require(results, ("sample_size", "seed", "iteration", "n_acquired"), what)
    if "method" in results.columns and results["method"].nunique() > 1:
        raise ValueError(f"{what}: results hold several methods {list(pd.unique(results['method']))}; "
                         "pass the rows of one")
    return sorted(int(s) for s in pd.unique(results["sample_size"]))


def plot_sample_sizes(results: pd.DataFrame, config, dataset: str, *, metric: str = "test_accuracy",
                      ax=None, what: str = "representative sample size"):
    """Fig 3f: ``metric`` (mean +-1 sd over repeats) against acquisitions, one line per
    representative sample size (rows from :func:`run_sample_sizes`). Returns the axes."""
    import matplotlib.pyplot as plt

    sizes = _check_sizes(results, "plot_sample_sizes")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    method = results["method"].iloc[0] if "method" in results.columns else "deimos"
    rows = results.groupby(["sample_size", "seed", "n_acquired"])[metric].mean().reset_index()
    n = rows.groupby("sample_size")["seed"].nunique()
    label = {s: f"{method_label(method)}, sample of {s:,} ({n[s]} repeat{'s' * int(n[s] != 1)})"
             for s in sizes}
    rows["curve"] = rows["sample_size"].map(label)
    shades = plt.get_cmap("Reds")(0.45 + 0.5 * np.arange(len(sizes)) / max(len(sizes) - 1, 1))
    mean_sd_lines(ax, rows, "n_acquired", metric, "curve",
                  dict(zip(label.values(), shades)), list(label.values()))
    ax.set_xlabel(f"Number of acquired points ({config.n_initial} initial training points)")
    ax.set_ylabel(metric.replace("_", " ").capitalize())
    ax.set_title(_title(dataset, config, results, what), fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _integer_ticks(ax)
    return ax


def sample_size_tests(results: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """LMM likelihood-ratio test between every two sample sizes (rows of
    :func:`run_sample_sizes`); the paper finds no significant difference (Fig 3f)."""
    sizes = _check_sizes(results, "sample_size_tests")
    if len(sizes) < 2:
        raise ValueError(f"sample_size_tests needs two or more sample sizes, got {sizes}")
    rows = results[np.isfinite(pd.to_numeric(results[metric], errors="coerce"))]
    rows = rows.assign(method=[f"samp{int(s)}" for s in rows["sample_size"]])
    if "experiment" in rows.columns:
        rows = rows.drop(columns="experiment")
    out, all_notes = [], {}
    for a, b in combinations(sizes, 2):
        res, notes = _lrt_row(rows, f"samp{a}", f"samp{b}", metric, None)
        out.append({
            "sizes": f"{a:,} vs {b:,}",
            **_p_cells(res),
            "larger - smaller": float("nan") if res is None else res.effect,
            "fit notes": _note(notes),
        })
        all_notes[(a, b)] = notes
    table = pd.DataFrame(out).set_index("sizes")
    table.attrs["notes"] = all_notes
    return table

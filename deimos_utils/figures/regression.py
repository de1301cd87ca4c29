"""Tables and figures of the regression experiments (5' splicing, UTKFace age; Fig 2, Table 1).

Everything here reads the tidy results tables written by :func:`deimos_utils.experiment.loop.run_all`
(columns of :data:`deimos_utils.experiment.store.COLUMNS`) and returns pandas DataFrames or matplotlib
axes, so that notebooks 03 and 04 stay a few calls long. The tables every notebook shares
(what ran, figure titles, Table 1, Appendix C's LMM tests) are in :mod:`deimos_utils.analysis.tables`.

- :func:`run_overrides`: config overrides from notebook parameters, with a results tag that
  names what was changed.
- :func:`calibration_table`: Appendix E's tau^-1 and the uncertainty quality R^2 per run.
- :func:`relative_thresholds`, :func:`splicing_thresholds`: Table 1's thresholds (for
  :func:`deimos_utils.analysis.tables.threshold_comparison`), rescaled on a simulated library.
- :func:`final_metric_table`, :func:`plot_final_metric`: the metric after the last acquisition.
- :func:`plot_learning_panels`: Fig 2-style learning curves, one panel per batch size, with
  the authors' curves on each (:func:`deimos_utils.figures.authors_overlay.beside`).
- :func:`plot_splicing_curves`: Fig 2 left with the authors' real-data curves: on our axes
  when ours ran on the real library, in a panel of their own with their Table 1 when ours
  ran on the simulated one.
- :func:`calibration_for`: :func:`calibration_table` with a config's own noise rule.
- :func:`timing_summary`: seconds spent per run.
"""
from __future__ import annotations

import math
import textwrap
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .common import method_style
from ..analysis.tables import _methods_in, _require, figure_title, is_simulated

__all__ = [
    "TABLE1_FIRST",
    "TABLE1_LAST",
    "run_overrides",
    "initial_target_sd",
    "calibration_table",
    "relative_thresholds",
    "splicing_thresholds",
    "final_metric_table",
    "plot_final_metric",
    "plot_learning_panels",
    "plot_splicing_curves",
    "calibration_for",
    "timing_summary",
]

#: Default anchors of :func:`relative_thresholds` for Table 1 on a simulated library: the
#: paper's first threshold (0.11) maps to 1/3 of the way from the initial model's MSE to the
#: final MSE, its last (0.09) to the final MSE itself (see :func:`splicing_thresholds`).
TABLE1_FIRST = 1.0 / 3.0
TABLE1_LAST = 1.0


# ------------------------------------------------------------------------------------ what ran

def run_overrides(*, n_acquired: int | None = None, n_repeats: int | None = None,
                  tag: str = "") -> dict:
    """Config overrides from a notebook's parameters (None = keep the preset's value).

    A changed ``n_acquired`` also sets ``tag`` (when none is given) to
    ``"n_acquired<value>"``, so that a shortened run writes to its own, clearly named results
    folder (``<preset>-n_acquired<value>``). ``n_repeats`` needs no tag: repeat k is the same
    whatever the number of repeats. Returns a dict for
    :func:`~deimos_utils.experiment.config.get_config`.
    """
    out: dict = {}
    for name, value in (("n_acquired", n_acquired), ("n_repeats", n_repeats)):
        if value is None:
            continue
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be None or an integer >= 1, got {value!r}")
        out[name] = int(value)
    tag = "" if tag is None else str(tag)
    if not tag and n_acquired is not None:
        tag = f"n_acquired{int(n_acquired)}"
    if tag:
        out["tag"] = tag
    return out


# ------------------------------------------------------------------------------------ Appendix E

def initial_target_sd(config, data, seeds: Sequence[int] | None = None) -> dict:
    """``{seed: sd}``: the population sd of y over each repeat's initial set, the scale the
    loop standardises regression targets with (``config.standardize_y``); 1.0 when the
    targets are not standardised."""
    from ..experiment.loop import initial_split

    seeds = config.seeds if seeds is None else seeds
    out = {}
    for s in seeds:
        if config.task != "regression" or not config.standardize_y:
            out[int(s)] = 1.0
            continue
        init, _ = initial_split(config, data, int(s))
        y = data.y_pool.numpy()[init].astype(np.float64)
        out[int(s)] = float(y.std()) or 1.0
    return out


def calibration_table(results: pd.DataFrame, noise_fraction: float | None = None,
                      target_sd: Mapping[int, float] | None = None) -> pd.DataFrame:
    """Appendix E per (method, seed): tau^-1 and the uncertainty quality R^2.

    Columns: ``tau_inv`` (the ``noise`` column: tau^-1 in units of the model's training
    targets, fixed by the initial model), ``tau_inv_y`` (the same in units of y squared,
    ``tau_inv * target_sd[seed]**2``; only with ``target_sd``, see :func:`initial_target_sd`),
    ``mean_dropout_var`` (``tau_inv / noise_fraction``, the initial model's mean MC-dropout
    variance on the validation set, training-target units; only with ``noise_fraction``),
    and the Pearson R^2 between squared error and dropout variance on the validation set:
    ``r2_initial`` (iteration 0), ``r2_mean`` (mean over iterations, NaN rows skipped),
    ``r2_final`` (last iteration).
    """
    _require(results, ["method", "seed", "iteration", "noise", "val_uncertainty_r2"], "calibration_table")
    rows = []
    for (method, seed), g in results.groupby(["method", "seed"], sort=False):
        g = g.sort_values("iteration")
        r2 = g["val_uncertainty_r2"].to_numpy(dtype=float)
        row = {"method": method, "seed": int(seed), "tau_inv": float(g["noise"].iloc[0])}
        if target_sd is not None:
            if int(seed) not in target_sd:
                raise ValueError(f"target_sd has no entry for seed {int(seed)}")
            row["tau_inv_y"] = row["tau_inv"] * float(target_sd[int(seed)]) ** 2
        if noise_fraction is not None:
            if not noise_fraction > 0:
                raise ValueError(f"noise_fraction must be > 0, got {noise_fraction!r}")
            row["mean_dropout_var"] = row["tau_inv"] / float(noise_fraction)
        row.update(r2_initial=float(r2[0]), r2_mean=float(np.nanmean(r2)) if np.isfinite(r2).any() else math.nan,
                   r2_final=float(r2[-1]))
        rows.append(row)
    return pd.DataFrame(rows).set_index(["method", "seed"])


# ------------------------------------------------------------------------------------ Table 1

def _mean_curves(results: pd.DataFrame, metric: str) -> pd.Series:
    return results.groupby(["method", "n_acquired"], sort=True)[metric].mean()


def relative_thresholds(results: pd.DataFrame, metric: str, paper_thresholds: Sequence[float], *,
                        first: float = TABLE1_FIRST, last: float = TABLE1_LAST,
                        tail: float = 0.1, methods=None) -> tuple[np.ndarray, dict]:
    """The paper's thresholds moved onto this run's scale, keeping their relative spacing.

    With ``m0`` the mean ``metric`` of the initial models (rows with ``n_acquired == 0``,
    every method and seed) and ``m_end`` the final level (per method, the mean curve over
    seeds averaged over its last ``tail`` fraction of acquisition steps, at least one step;
    then the mean over methods), threshold k is::

        m0 - f_k (m0 - m_end),   f_k = first + s_k (last - first),
        s_k = (p_0 - p_k) / (p_0 - p_K)          (p = paper_thresholds; s = 0 ... 1)

    so the first paper threshold sits a fraction ``first`` of the way from the initial level
    to the final one, the last a fraction ``last``, and the ones between keep the paper's
    spacing.

    Returns
    -------
    thresholds : (K,) float array, in the order of ``paper_thresholds``.
    info : dict with ``initial`` (m0), ``final`` (m_end), ``positions`` (s), ``fractions``
        (f) and ``improved`` (whether the final level is better than the initial one; when
        it is not, every threshold is reached at once and the table says nothing).
    """
    _require(results, ["method", "n_acquired", metric], "relative_thresholds")
    p = np.asarray(paper_thresholds, dtype=float)
    if p.ndim != 1 or p.size < 2 or not np.all(np.isfinite(p)):
        raise ValueError(f"paper_thresholds must be 2 or more finite numbers, got {paper_thresholds!r}")
    d = np.diff(p)
    if not (np.all(d < 0) or np.all(d > 0)):
        raise ValueError(f"paper_thresholds must be strictly monotone, got {list(p)}")
    for name, v in (("first", first), ("last", last)):
        if not np.isfinite(v):
            raise ValueError(f"{name} must be finite, got {v!r}")
    if not 0 < tail <= 1:
        raise ValueError(f"tail must lie in (0, 1], got {tail!r}")
    methods = _methods_in(results, methods)
    rows = results[results["method"].isin(methods)]
    start = rows.loc[rows["n_acquired"] == 0, metric].to_numpy(dtype=float)
    if start.size == 0:
        raise ValueError("results holds no row with n_acquired == 0 (the initial models)")
    m0 = float(np.mean(start))
    curves = _mean_curves(rows, metric)
    ends = []
    for m in methods:
        c = curves.loc[m].to_numpy(dtype=float)
        k = max(1, int(math.ceil(tail * (len(c) - 1))))
        ends.append(float(np.mean(c[-k:])))
    m_end = float(np.mean(ends))
    s = (p[0] - p) / (p[0] - p[-1])
    f = first + s * (last - first)
    thresholds = m0 - f * (m0 - m_end)
    improved = bool(m_end < m0) if p[-1] < p[0] else bool(m_end > m0)
    info = {"initial": m0, "final": m_end, "final_per_method": dict(zip(methods, ends)),
            "positions": s, "fractions": f, "improved": improved}
    return thresholds, info


def splicing_thresholds(results: pd.DataFrame, source: str, paper_thresholds: Sequence[float], *,
                        metric: str = "test_mse", first: float = TABLE1_FIRST,
                        last: float = TABLE1_LAST, tail: float = 0.1) -> tuple[np.ndarray, str, dict]:
    """Table 1's thresholds for this run: the paper's own on the real A5SS library, rescaled
    with :func:`relative_thresholds` on a simulated one.

    Returns ``(thresholds, rule, info)``: ``rule`` is a sentence saying which rule was used
    (for the table's caption); ``info`` as :func:`relative_thresholds` (empty for real data).
    """
    if not is_simulated(source):
        rule = (f"the paper's thresholds {list(paper_thresholds)} (real data: {source})")
        return np.asarray(paper_thresholds, dtype=float), rule, {}
    thr, info = relative_thresholds(results, metric, paper_thresholds, first=first, last=last, tail=tail)
    rule = (
        f"SIMULATED library: the paper's thresholds {list(paper_thresholds)} are rescaled, keeping "
        f"their spacing, to lie between {first:.2f} and {last:.2f} of the way from the initial "
        f"models' {metric} ({info['initial']:.4f}) to the final level ({info['final']:.4f}, the mean over "
        f"methods of the last {tail:.0%} of each mean curve)"
    )
    if not info["improved"]:
        rule += "; the curves did not improve, so the table is uninformative"
    return thr, rule, info


# ------------------------------------------------------------------------------------ final metric

def final_metric_table(results: pd.DataFrame, metric: str, *, methods=None) -> pd.DataFrame:
    """``metric`` at the last acquisition step of each method: mean and sd over seeds.

    Columns: ``n_acquired`` (the last step), ``mean``, ``sd`` (ddof 1; NaN for one seed),
    ``n_seeds``; indexed by method.
    """
    _require(results, ["method", "seed", "n_acquired", metric], "final_metric_table")
    methods = _methods_in(results, methods)
    rows = []
    for m in methods:
        g = results[results["method"] == m]
        last = int(g["n_acquired"].max())
        v = g.loc[g["n_acquired"] == last, metric].to_numpy(dtype=float)
        rows.append({"method": m, "n_acquired": last, "mean": float(v.mean()),
                     "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan, "n_seeds": int(v.size)})
    return pd.DataFrame(rows).set_index("method")


def plot_final_metric(tables: Mapping[str, pd.DataFrame], *, ax=None, ylabel: str = "",
                      title: str | None = None, digits: int = 2):
    """Dot plot of :func:`final_metric_table` outputs, one group per entry of ``tables``
    (e.g. ``{"b = 100": t100, "b = 200": t200}``), one marker per method (its mean) with
    +-1 sd error bars when there are several seeds, each labelled with its mean. The y axis
    is not forced to start at 0, so that differences between methods stay visible.
    Returns the axes."""
    import matplotlib.pyplot as plt

    if not tables:
        raise ValueError("tables is empty: nothing to plot")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    methods = list(dict.fromkeys(m for t in tables.values() for m in t.index))
    width = 0.6 / max(len(methods) - 1, 1)
    groups = list(tables)
    for j, m in enumerate(methods):
        xs, means, sds = [], [], []
        for i, g in enumerate(groups):
            t = tables[g]
            if m not in t.index:
                continue
            xs.append(i + (j - (len(methods) - 1) / 2) * width)
            means.append(float(t.at[m, "mean"]))
            sd = float(t.at[m, "sd"])
            sds.append(sd if np.isfinite(sd) else 0.0)
        style = method_style(m)
        ax.errorbar(xs, means, yerr=sds if any(sds) else None, fmt="o", capsize=4, markersize=7,
                    color=style["color"], label=style["label"])
        for x, v in zip(xs, means):
            ax.annotate(f"{v:.{digits}f}", (x, v), textcoords="offset points", xytext=(7, 0),
                        va="center", fontsize=7)
    labels = []
    for g in groups:
        t = tables[g]
        n = int(t["n_seeds"].max())
        labels.append(f"{g}\n({int(t['n_acquired'].max())} acquired, {n} seed{'s' * (n != 1)})")
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_xlim(-0.6, len(groups) - 0.4)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return ax


def timing_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Seconds per (method, seed): ``iterations``, ``train``, ``eval``, ``acquire``, ``total``
    (sums of the timing columns; a resumed run counts only the rows it has)."""
    cols = ["train_seconds", "eval_seconds", "acquire_seconds"]
    _require(results, ["method", "seed", "iteration", *cols], "timing_summary")
    g = results.groupby(["method", "seed"], sort=False)
    out = pd.DataFrame({
        "iterations": g["iteration"].count(),
        "train": g["train_seconds"].sum(),
        "eval": g["eval_seconds"].sum(),
        "acquire": g["acquire_seconds"].sum(),
    })
    out["total"] = out[["train", "eval", "acquire"]].sum(axis=1)
    return out


def plot_learning_panels(panels: Mapping[str, tuple], metric: str, source: str, *, what: str,
                         ylabel: str = "", width: float = 5.6, height: float = 4.0,
                         authors: Mapping | None = None):
    """One learning-curve panel (mean +-1 sd over seeds) per entry of ``panels``.

    ``panels`` maps a panel name (e.g. the experiment) to ``(results, config)``; each title
    is :func:`~deimos_utils.analysis.tables.figure_title` of ``source``, the panel's config (its batch
    size) and the seeds in its results. ``authors`` maps a panel name to its
    :class:`~deimos_utils.figures.authors_overlay.AuthorsArrays`: their curves go on that panel and
    the caption under the figure says what differs (or that the arrays are absent).
    Returns ``(fig, axes, caption)`` with ``axes`` a list and ``caption`` the text written
    under the figure (``""`` without ``authors``).
    """
    import matplotlib.pyplot as plt

    from .authors_overlay import beside
    from .common import plot_learning_curves

    if not panels:
        raise ValueError("panels is empty: nothing to plot")
    fig, axes = plt.subplots(1, len(panels), figsize=(width * len(panels), height), squeeze=False)
    axes = list(axes[0])
    captions = []
    for ax, (name, (res, cfg)) in zip(axes, panels.items()):
        n_seeds = int(res["seed"].nunique())
        plot_learning_curves(res, metric, ax=ax, methods=cfg.methods, n_initial=cfg.n_initial,
                             title=figure_title(source, cfg, n_seeds, what))
        if ylabel:
            ax.set_ylabel(ylabel)
    fig.tight_layout()
    for ax, (name, (res, cfg)) in zip(axes, panels.items()):
        if authors is not None and name in authors:
            captions.append(beside(fig, ax, authors[name], cfg, res, metric, data_source=source,
                                   prefix=f"{name}: " if len(panels) > 1 else ""))
    return fig, axes, "\n".join(captions)


def _authors_table1_panel(ax, arrays, table: Mapping, thresholds: Sequence[float]) -> None:
    """Their curves up to Table 1's range, the thresholds as dotted lines, their Table 1 as a
    table in the panel."""
    from .authors_overlay import TABLE_ENTRIES, plot_authors_curves
    from ..analysis.tables import method_label

    x_max = max(TABLE_ENTRIES["splicing"].values()) - 1
    plot_authors_curves(ax, arrays, "test_mse", x_max=x_max)
    ax.legend(fontsize=7, loc="lower left")
    for t in thresholds:
        ax.axhline(t, ls=":", color="0.5", lw=0.8)
    methods = list(table)
    cells = [[f"{t:g}"] + ["not reached" if table[m][k] is None else str(table[m][k]) for m in methods]
             for k, t in enumerate(thresholds)]
    tab = ax.table(cellText=cells, colLabels=["MSE"] + [method_label(m) for m in methods],
                   loc="upper right", colLoc="center", cellLoc="center", bbox=(0.38, 0.62, 0.6, 0.36))
    tab.auto_set_font_size(False)
    tab.set_fontsize(7)
    seeds = int(arrays.results["seed"].nunique())
    ax.set_title(f"authors (their arrays): REAL A5SS library, batch size 1\n{seeds} seeds; "
                 "inset: their Table 1 (acquisitions to reach each MSE)", fontsize=10)
    ax.set_xlabel("Number of acquired points (75 initial training points)")
    ax.set_ylabel("test MSE (SD1 usage)")
    ax.grid(alpha=0.3)


def plot_splicing_curves(results: pd.DataFrame, config, source: str, arrays, *,
                         what: str = "5' splicing test MSE"):
    """Fig 2 (left): our test MSE curves, and the authors' curves on the real A5SS library.

    On the real library (``source`` not simulated) their curves go on our axes. On a
    simulated library they never do: they get a panel of their own with their Table 1
    (from their arrays: the paper's). ``arrays``: an
    :class:`~deimos_utils.figures.authors_overlay.AuthorsArrays`. Returns ``(fig, axes, caption)``.
    """
    import matplotlib.pyplot as plt

    from .authors_overlay import authors_thresholds, beside, caption
    from ..analysis.paper import TABLE1_SPLICING_MSE
    from .common import add_caption, plot_learning_curves

    own_panel = is_simulated(source) and arrays.available
    fig, axes = plt.subplots(1, 2 if own_panel else 1, figsize=(13 if own_panel else 6.5, 4.4),
                             squeeze=False)
    axes = list(axes[0])
    plot_learning_curves(results, "test_mse", ax=axes[0], methods=config.methods,
                         n_initial=config.n_initial,
                         title=figure_title(source, config, int(results["seed"].nunique()), what))
    axes[0].set_ylabel("test MSE (SD1 usage)")
    fig.tight_layout()
    if not is_simulated(source):
        return fig, axes, beside(fig, axes[0], arrays, config, results, "test_mse", data_source=source)
    text = caption(config, arrays, source)
    if own_panel:
        thresholds = TABLE1_SPLICING_MSE["thresholds"]
        _authors_table1_panel(axes[1], arrays, authors_thresholds(arrays, "test_mse", thresholds),
                              thresholds)
        fig.tight_layout()
        text = textwrap.fill("right: the authors' curves on the REAL library, in a panel of their own "
                             "(ours ran on the SIMULATED library: other data, other MSE scale)",
                             110, subsequent_indent="  ") + "\n" + text
    add_caption(fig, text)
    return fig, axes, text


def calibration_for(results: pd.DataFrame, config, data) -> pd.DataFrame:
    """:func:`calibration_table` of ``config``'s runs: with its ``noise_fraction`` only when
    tau^-1 comes from it (not from a fixed ``noise``), in y's units via
    :func:`initial_target_sd`."""
    fraction = None if config.noise is not None else config.noise_fraction
    return calibration_table(results, fraction, initial_target_sd(config, data))

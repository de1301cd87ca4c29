"""Tables of the regression experiments (5' splicing, UTKFace age; Table 1, Appendix E).

Everything here reads the tidy results tables written by
:func:`deimos_utils.experiment.loop.run_all` and returns pandas DataFrames; the figures are
drawn by :mod:`deimos_utils.figures.regression`.

- :func:`calibration_table`, :func:`calibration_for`: Appendix E's tau^-1 and the uncertainty
  quality R^2 per run.
- :func:`relative_thresholds`, :func:`splicing_thresholds`: Table 1's thresholds (for
  :func:`deimos_utils.analysis.tables.threshold_comparison`), rescaled on a simulated library.
- :func:`final_metric_table`: the metric after the last acquisition.
- :func:`timing_summary`: seconds spent per run.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..experiment.loop import initial_target_sd
from .tables import is_simulated, methods_in, require_columns

__all__ = [
    "TABLE1_FIRST",
    "TABLE1_LAST",
    "calibration_table",
    "calibration_for",
    "relative_thresholds",
    "splicing_thresholds",
    "final_metric_table",
    "timing_summary",
]


#: Default anchors of :func:`relative_thresholds` for Table 1 on a simulated library: the
#: paper's first threshold (0.11) maps to 1/3 of the way from the initial model's MSE to the
#: final MSE, its last (0.09) to the final MSE itself (see :func:`splicing_thresholds`).
TABLE1_FIRST = 1.0 / 3.0


TABLE1_LAST = 1.0


def calibration_table(results: pd.DataFrame, noise_fraction: float | None = None,
                      target_sd: Mapping[int, float] | None = None) -> pd.DataFrame:
    """Appendix E per (method, seed): tau^-1 and the uncertainty quality R^2.

    Columns: ``tau_inv`` (the ``noise`` column: tau^-1 in units of the model's training
    targets, fixed by the initial model), ``tau_inv_y`` (the same in units of y squared,
    ``tau_inv * target_sd[seed]**2``; only with ``target_sd``, see
    :func:`~deimos_utils.experiment.loop.initial_target_sd`),
    ``mean_dropout_var`` (``tau_inv / noise_fraction``, the initial model's mean MC-dropout
    variance on the validation set, training-target units; only with ``noise_fraction``),
    and the Pearson R^2 between squared error and dropout variance on the validation set:
    ``r2_initial`` (iteration 0), ``r2_mean`` (mean over iterations, NaN rows skipped),
    ``r2_final`` (last iteration).
    """
    require_columns(results, ["method", "seed", "iteration", "noise", "val_uncertainty_r2"], "calibration_table")
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


def calibration_for(results: pd.DataFrame, config, data) -> pd.DataFrame:
    """:func:`calibration_table` of ``config``'s runs: with its ``noise_fraction`` only when
    tau^-1 comes from it (not from a fixed ``noise``), in y's units via
    :func:`initial_target_sd`."""
    fraction = None if config.noise is not None else config.fitted_noise_fraction
    return calibration_table(results, fraction, initial_target_sd(config, data))


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
    require_columns(results, ["method", "n_acquired", metric], "relative_thresholds")
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
    methods = methods_in(results, methods)
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


def final_metric_table(results: pd.DataFrame, metric: str, *, methods=None) -> pd.DataFrame:
    """``metric`` at the last acquisition step of each method: mean and sd over seeds.

    Columns: ``n_acquired`` (the last step), ``mean``, ``sd`` (ddof 1; NaN for one seed),
    ``n_seeds``; indexed by method.
    """
    require_columns(results, ["method", "seed", "n_acquired", metric], "final_metric_table")
    methods = methods_in(results, methods)
    rows = []
    for m in methods:
        g = results[results["method"] == m]
        last = int(g["n_acquired"].max())
        v = g.loc[g["n_acquired"] == last, metric].to_numpy(dtype=float)
        rows.append({"method": m, "n_acquired": last, "mean": float(v.mean()),
                     "sd": float(v.std(ddof=1)) if v.size > 1 else math.nan, "n_seeds": int(v.size)})
    return pd.DataFrame(rows).set_index("method")


def timing_summary(results: pd.DataFrame) -> pd.DataFrame:
    """Seconds per (method, seed): ``iterations``, ``train``, ``eval``, ``acquire``, ``total``
    (sums of the timing columns; a resumed run counts only the rows it has)."""
    cols = ["train_seconds", "eval_seconds", "acquire_seconds"]
    require_columns(results, ["method", "seed", "iteration", *cols], "timing_summary")
    g = results.groupby(["method", "seed"], sort=False)
    out = pd.DataFrame({
        "iterations": g["iteration"].count(),
        "train": g["train_seconds"].sum(),
        "eval": g["eval_seconds"].sum(),
        "acquire": g["acquire_seconds"].sum(),
    })
    out["total"] = out[["train", "eval", "acquire"]].sum(axis=1)
    return out

"""Comparisons that respect run-level dependence: one number per seed, methods paired by seed.

The paper's LMM (Appendix C, :func:`~deimos_utils.analysis.lmm.lmm_lrt`) treats every iteration of every
run as an independent observation, so one run lying above another for a whole curve gives a
tiny p-value however few runs there are. Here each run is summarised by the area under its
learning curve (AUC: the trapezoid mean of the metric over ``n_acquired``, in the metric's
units), and two methods are compared on the per-seed differences of their AUCs:

* an exact sign-flip permutation test over seeds (two-sided; with S seeds its smallest
  possible p-value is ``2 / 2**S``: 0.25 for the paper's 3 seeds),
* a paired t-test (S - 1 degrees of freedom; assumes normal differences),
* a percentile bootstrap interval of the mean difference, resampling seeds.

:func:`seed_level_table` puts these beside the LMM for every pair DEIMOS vs baseline.
"""
from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["curve_auc", "paired_auc_test", "seed_level_table"]


def curve_auc(results: pd.DataFrame, metric: str, *, max_acquired: float | None = None) -> pd.DataFrame:
    """Per (method, seed): the trapezoid mean of ``metric`` over ``n_acquired``.

    Rows above ``max_acquired`` are dropped first. A run with a single row has its value as
    AUC. Returns columns method, seed, auc, n_points, last_acquired.
    """
    for col in ("method", "seed", "n_acquired", metric):
        if col not in results.columns:
            raise ValueError(f"results need a column {col!r} (have: {', '.join(results.columns)})")
    df = results if max_acquired is None else results[results["n_acquired"] <= max_acquired]
    rows = []
    for (method, seed), run in df.groupby(["method", "seed"], sort=False):
        run = run.sort_values("n_acquired")
        x = run["n_acquired"].to_numpy(float)
        y = run[metric].to_numpy(float)
        if np.unique(x).size != x.size:
            raise ValueError(f"method {method!r} seed {seed}: repeated n_acquired values")
        auc = float(y[0]) if x.size == 1 else float(np.trapezoid(y, x) / (x[-1] - x[0]))
        rows.append({"method": method, "seed": seed, "auc": auc, "n_points": int(x.size),
                     "last_acquired": float(x[-1])})
    return pd.DataFrame(rows)


def _common_range(results: pd.DataFrame, a, b) -> float:
    """The largest n_acquired every run of ``a`` and ``b`` reaches."""
    sub = results[results["method"].isin([a, b])]
    return float(sub.groupby(["method", "seed"])["n_acquired"].max().min())


def paired_auc_test(results: pd.DataFrame, method_a, method_b, metric: str, *,
                    max_acquired: float | None = None, n_boot: int = 10000, seed: int = 0) -> dict:
    """Compare ``method_b`` with ``method_a`` on per-seed AUC differences (b minus a).

    Both methods' runs are cut to their common range (and ``max_acquired``); seeds present for
    only one method are left out. Returns a dict: ``n_seeds``, ``diff`` (mean AUC difference,
    b - a), ``diffs`` (per seed), ``p_permutation`` (exact, two-sided), ``p_min`` (the smallest
    p-value the permutation test can give), ``p_t`` (paired t-test; NaN for one seed),
    ``ci_low``/``ci_high`` (95% bootstrap interval over seeds), ``max_acquired`` (range used).
    """
    limit = _common_range(results, method_a, method_b)
    if max_acquired is not None:
        limit = min(limit, float(max_acquired))
    auc = curve_auc(results[results["method"].isin([method_a, method_b])], metric, max_acquired=limit)
    wide = auc.pivot(index="seed", columns="method", values="auc")
    for m in (method_a, method_b):
        if m not in wide.columns:
            raise ValueError(f"no runs of method {m!r} (have: {', '.join(map(str, auc.method.unique()))})")
    wide = wide.dropna()
    if wide.empty:
        raise ValueError(f"methods {method_a!r} and {method_b!r} share no seed")
    d = (wide[method_b] - wide[method_a]).to_numpy(float)
    s = d.size
    observed = abs(d.mean())
    flips = np.array(list(itertools.product((1.0, -1.0), repeat=s)))
    null = np.abs((flips * d).mean(axis=1))
    p_perm = float(np.mean(null >= observed - 1e-12 * max(1.0, observed)))
    if s >= 2 and np.std(d) > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p_t = float(sps.ttest_1samp(d, 0.0).pvalue)
    else:
        p_t = float("nan")
    rng = np.random.default_rng(seed)
    boots = d[rng.integers(0, s, size=(n_boot, s))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"n_seeds": int(s), "diff": float(d.mean()), "diffs": d.tolist(),
            "p_permutation": p_perm, "p_min": float(2.0 / 2 ** s) if s else float("nan"),
            "p_t": p_t, "ci_low": float(lo), "ci_high": float(hi), "max_acquired": limit}


def seed_level_table(results: pd.DataFrame, metric: str, *, reference: str = "deimos",
                     methods=None, max_acquired: float | None = None, alpha: float = 0.05,
                     lmm: bool = True) -> pd.DataFrame:
    """DEIMOS (``reference``) against each other method: the LMM beside the seed-level tests.

    One row per method: ``lmm_p`` (Appendix C's test over the same rows), ``auc_diff``
    (reference minus method, metric units: positive = the reference has the higher curve),
    ``p_permutation``, ``p_min``, ``p_t``, the bootstrap interval, and ``agree`` (whether the
    LMM and the permutation test reach the same decision at ``alpha``).
    """
    from .lmm import lmm_lrt

    methods = [m for m in (methods or results["method"].unique()) if m != reference]
    rows = []
    for m in methods:
        test = paired_auc_test(results, m, reference, metric, max_acquired=max_acquired)
        row = {"method": m, "n_seeds": test["n_seeds"], "range": test["max_acquired"],
               "auc_diff": test["diff"], "ci_low": test["ci_low"], "ci_high": test["ci_high"],
               "p_permutation": test["p_permutation"], "p_min": test["p_min"], "p_t": test["p_t"]}
        if lmm:
            sub = results[results["method"].isin([m, reference]) & (results["n_acquired"] <= test["max_acquired"])]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                row["lmm_p"] = float(lmm_lrt(sub, reference, m, metric).p_value)
            row["agree"] = (row["lmm_p"] < alpha) == (row["p_permutation"] < alpha)
        rows.append(row)
    return pd.DataFrame(rows)

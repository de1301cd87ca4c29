"""Tables of the MNIST experiments (section 5.3): the queried images, batch diversity wins,
the sample-size tests of Fig 3f. Their figures are drawn by :mod:`deimos_utils.figures.mnist`.

- :func:`queried_ids`, :func:`first_last_queries`: the images DEIMOS queried first and last (Fig 3c).
- :func:`diversity_rows`, :func:`diversity_wins`: batch diversity per iteration (Fig 3d, e).
- :func:`check_sample_sizes`, :func:`sample_size_tests`: DEIMOS with several representative
  sample sizes (Fig 3f; the runs: :mod:`deimos_utils.experiment.sample_sizes`).
"""
from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from ..acquisition.labels import method_label
from ..experiment.store import parse_picked
from .tables import fit_note, lrt_row, other_methods, p_value_cells, require_columns

__all__ = [
    "queried_ids",
    "first_last_queries",
    "diversity_rows",
    "diversity_wins",
    "check_sample_sizes",
    "sample_size_tests",
]


def one_run_set(results: pd.DataFrame, method: str) -> pd.DataFrame:
    """The rows of ``method``, checked to be one set of runs (one per seed)."""
    require_columns(results, ("method", "seed", "iteration", "picked"), "queried_ids")
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
    r = one_run_set(results, method)
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


def diversity_rows(results: pd.DataFrame) -> pd.DataFrame:
    """The rows with a finite batch diversity, with ``batch`` = iteration + 1."""
    require_columns(results, ("method", "seed", "iteration", "diversity"), "batch diversity")
    rows = results[np.isfinite(pd.to_numeric(results["diversity"], errors="coerce"))]
    if rows.empty:
        raise ValueError("results hold no finite diversity (it is measured for classification batches "
                         "of 2 or more points)")
    return rows.assign(batch=rows["iteration"] + 1)


def diversity_wins(results: pd.DataFrame, reference: str = "deimos", methods=None) -> pd.DataFrame:
    """How often ``reference``'s batches are more diverse than each other method's.

    Per iteration, the mean diversity over repeats of each method; one row per other method:
    ``iterations`` compared (those both have), ``reference higher`` (the fraction where the
    reference's mean is higher), and the two means over those iterations.
    """
    rows = diversity_rows(results)
    curves = rows.groupby(["method", "batch"])["diversity"].mean()
    others = other_methods(rows, reference, methods, "the rows with a finite diversity")
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


def check_sample_sizes(results: pd.DataFrame, what: str) -> list:
    """The sample sizes of ``results`` (one method's rows with a ``sample_size`` column), sorted."""
    require_columns(results, ("sample_size", "seed", "iteration", "n_acquired"), what)
    if "method" in results.columns and results["method"].nunique() > 1:
        raise ValueError(f"{what}: results hold several methods {list(pd.unique(results['method']))}; "
                         "pass the rows of one")
    return sorted(int(s) for s in pd.unique(results["sample_size"]))


def sample_size_tests(results: pd.DataFrame, metric: str = "test_accuracy") -> pd.DataFrame:
    """LMM likelihood-ratio test between every two sample sizes (rows of
    :func:`~deimos_utils.experiment.sample_sizes.run_sample_sizes`); the paper finds no significant difference (Fig 3f).

    One row per pair, indexed ``"500 vs 2,500"``; ``attrs["p_values"]``: (smaller, larger) ->
    p-value (NaN where the test could not run), ``attrs["notes"]``: the fit notes per pair."""
    sizes = check_sample_sizes(results, "sample_size_tests")
    if len(sizes) < 2:
        raise ValueError(f"sample_size_tests needs two or more sample sizes, got {sizes}")
    rows = results[np.isfinite(pd.to_numeric(results[metric], errors="coerce"))]
    rows = rows.assign(method=[f"samp{int(s)}" for s in rows["sample_size"]])
    if "experiment" in rows.columns:
        rows = rows.drop(columns="experiment")
    out, all_notes, p_values = [], {}, {}
    for a, b in combinations(sizes, 2):
        res, notes = lrt_row(rows, f"samp{a}", f"samp{b}", metric, None)
        p_values[(a, b)] = float("nan") if res is None else res.p_value
        out.append({
            "sizes": f"{a:,} vs {b:,}",
            **p_value_cells(res),
            "larger - smaller": float("nan") if res is None else res.effect,
            "fit notes": fit_note(notes),
        })
        all_notes[(a, b)] = notes
    table = pd.DataFrame(out).set_index("sizes")
    table.attrs["notes"] = all_notes
    table.attrs["p_values"] = p_values
    return table

"""Tables shared by every experiment's notebook: Appendix C's LMM tests beside the paper's.

:func:`lmm_comparison` tests DEIMOS against each other method of one experiment's results
(:func:`deimos_utils.stats.lmm_lrt`) and formats the p-values (:func:`format_p_value`, finite
even where a p-value underflows a float) next to the paper's (:data:`deimos_utils.paper.PAPER_P_VALUES`).
"""
from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .paper import PAPER_P_VALUES
from .plots import METHOD_LABELS
from .stats import lmm_lrt

__all__ = ["format_p_value", "lmm_comparison", "method_label"]


def method_label(method: str) -> str:
    """The display name of an acquisition method (``"kcenter"`` -> ``"Robust k-center"``)."""
    return METHOD_LABELS.get(method, method)


def _require(results, columns: Sequence[str], what: str) -> pd.DataFrame:
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"{what}: results must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"{what}: results lacks the column(s) {missing}; columns present: "
                         f"{list(results.columns)}")
    if results.empty:
        raise ValueError(f"{what}: results has no rows")
    return results


def _methods_in(results: pd.DataFrame, methods) -> list:
    present = list(dict.fromkeys(results["method"]))
    if methods is None:
        return present
    methods = list(methods)
    unknown = [m for m in methods if m not in present]
    if unknown:
        raise ValueError(f"method(s) {unknown} are not in results; methods present: {present}")
    return methods


def format_p_value(log10_p: float) -> str:
    """A p-value from its log10: ``"0.042"`` from 1e-3 up, ``"2.3e-21"`` below (finite even
    where the p-value underflows a float)."""
    if log10_p is None or not math.isfinite(log10_p):
        return "n/a"
    if log10_p >= -3:
        return f"{10.0 ** log10_p:.3f}"
    exponent = math.floor(log10_p)
    mantissa = 10.0 ** (log10_p - exponent)
    if mantissa >= 9.95:  # rounds up to 10.0
        mantissa, exponent = 1.0, exponent + 1
    return f"{mantissa:.1f}e{exponent}"


def _lrt_row(rows: pd.DataFrame, a, b, metric, higher_is_better):
    """``(LRTResult or None, notes)``: the test on ``rows``, warnings and errors as notes."""
    with warnings.catch_warnings():
        # lmm_lrt lists its fit problems in LRTResult.warnings as well as warning about them
        warnings.simplefilter("ignore")
        try:
            res = lmm_lrt(rows, a, b, metric, higher_is_better=higher_is_better)
        except ValueError as err:
            return None, [f"not tested: {err}"]
    return res, list(res.warnings)


def _note(notes: list) -> str:
    """A short cell for a table: ``""``, ``"not tested: ..."`` or ``"k fit warning(s)"``."""
    if not notes:
        return ""
    if notes[0].startswith("not tested"):
        return notes[0]
    return f"{len(notes)} fit warning{'s' * (len(notes) != 1)}"


def _single_experiment(results: pd.DataFrame):
    if "experiment" not in results.columns:
        return None
    present = list(pd.unique(results["experiment"]))
    if len(present) > 1:
        raise ValueError(f"results holds several experiments {present}; pass the rows of one")
    return present[0]


def lmm_comparison(results: pd.DataFrame, others=None, *, reference: str = "deimos",
                   metric: str = "test_accuracy", paper: Mapping | None = PAPER_P_VALUES,
                   higher_is_better: bool | None = None) -> pd.DataFrame:
    """Appendix C's LMM likelihood-ratio test of ``reference`` against each of ``others``.

    Rows with a NaN ``metric`` are dropped first (e.g. the last row's diversity). One row per
    other method: ``p-value`` (ours, see :func:`format_p_value`), ``log10 p``, ``difference``
    (reference minus method, metric units, adjusted for the iteration), ``better``, the
    paper's p-value (``paper[(experiment, method)]``, ``"-"`` when it reports none) and
    ``fit notes`` (the number of fit warnings, or why no test was possible, e.g. a constant
    metric at a tiny preset). Fit warnings are collected instead of shown: the full messages
    are in ``table.attrs["notes"]`` (``{method: [messages]}``).
    """
    _require(results, ("method", "iteration", metric), "lmm_comparison")
    experiment = _single_experiment(results)
    rows = results[np.isfinite(pd.to_numeric(results[metric], errors="coerce"))]
    present = list(dict.fromkeys(results["method"]))
    if reference not in present:
        raise ValueError(f"reference method {reference!r} is not in results; methods present: {present}")
    others = [m for m in present if m != reference] if others is None else _methods_in(results, others)
    out, all_notes = [], {}
    for m in others:
        res, notes = _lrt_row(rows, reference, m, metric, higher_is_better)
        theirs = "-"
        if paper is not None and experiment is not None:
            theirs = paper.get((experiment, m), "-")
        out.append({
            "method": method_label(m),
            "p-value": "n/a" if res is None else format_p_value(res.log10_p_value),
            "log10 p": float("nan") if res is None else round(res.log10_p_value, 2),
            f"{method_label(reference)} - method": float("nan") if res is None else -res.effect,
            "better": "-" if res is None or res.better is None else method_label(res.better),
            "p-value (paper)": theirs,
            "fit notes": _note(notes),
        })
        all_notes[m] = notes
    table = pd.DataFrame(out).set_index("method")
    table.attrs["notes"] = all_notes
    return table

"""Tables and titles shared by every experiment's notebook (03-07), beside the paper's numbers.

- :func:`config_summary` (fields :data:`CONFIG_FIELDS`), :func:`describe_runs`: what ran, and
  where each setting comes from (:func:`deimos_utils.experiment.config.field_provenance`).
- :func:`is_simulated`, :func:`data_label`, :func:`figure_title`: figure titles that name the
  data (``"SIMULATED library"`` for simulated data), the preset and the repeats.
- :func:`threshold_comparison`: Tables 1 and 2, acquisitions needed to reach each threshold
  (:func:`deimos_utils.analysis.thresholds.acquisitions_to_threshold`), ours beside the authors' arrays'
  (:func:`deimos_utils.analysis.authors_comparison.authors_thresholds`) and the paper's.
- :func:`lmm_comparison`: Appendix C, DEIMOS against each other method of one experiment's
  results (:func:`deimos_utils.analysis.lmm.lmm_lrt`), the p-values (:func:`format_p_value`, finite
  even where a p-value underflows a float) next to the paper's
  (:data:`deimos_utils.analysis.paper.PAPER_P_VALUES`).

Everything reads the results tables of :mod:`deimos_utils.experiment.loop` (one row per run and
iteration, columns :data:`~deimos_utils.experiment.store.COLUMNS`).
"""
from __future__ import annotations

import math
import warnings
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .paper import PAPER_P_VALUES
from ..acquisition.labels import method_label
from .lmm import lmm_lrt
from .thresholds import acquisitions_to_threshold, format_threshold_table

__all__ = [
    "CONFIG_FIELDS",
    "method_label",
    "require_columns",
    "methods_in",
    "other_methods",
    "lrt_row",
    "p_value_cells",
    "fit_note",
    "config_summary",
    "describe_runs",
    "is_simulated",
    "data_label",
    "figure_title",
    "threshold_comparison",
    "format_p_value",
    "lmm_comparison",
]

#: Configuration fields :func:`config_summary` shows by default, per task, in this order.
CONFIG_FIELDS = {
    "classification": (
        "classes", "methods", "n_repeats", "initial_set", "n_initial", "n_validation", "batch_size",
        "n_acquired", "n_candidates", "n_test", "test_mc_passes", "n_masks", "model", "conv_dropout",
        "dropout", "weight_decay_c", "optimizer", "learning_rate", "train_steps", "train_epochs",
        "train_batch_size", "input_scale", "noise", "noise_fraction", "smoothing",
    ),
    "regression": (
        "experiment", "preset", "tag", "dataset", "resolution", "methods", "n_repeats", "initial_set",
        "n_initial", "n_acquired", "batch_size", "n_candidates", "n_validation", "test_fraction",
        "n_test", "test_mc_passes", "n_masks", "model", "conv_dropout", "dropout", "weight_decay_c",
        "optimizer", "learning_rate", "train_steps", "train_epochs", "train_batch_size",
        "standardize_y", "noise", "noise_fraction",
    ),
}
#: fields that name a run rather than set it (no provenance)
_NAMES_THE_RUN = ("experiment", "preset", "tag")
#: the second-level column names of :func:`config_summary`
VALUE, PROVENANCE = "value", "provenance"


def require_columns(results, columns: Sequence[str], what: str) -> pd.DataFrame:
    """``results`` when it is a non-empty DataFrame with ``columns``; ValueError naming
    ``what`` (the calling function) otherwise."""
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"{what}: results must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in columns if c not in results.columns]
    if missing:
        raise ValueError(f"{what}: results lacks the column(s) {missing}; columns present: "
                         f"{list(results.columns)}")
    if results.empty:
        raise ValueError(f"{what}: results has no rows")
    return results


def methods_in(results: pd.DataFrame, methods) -> list:
    """``methods`` (default: every method of ``results``, in order of appearance), each
    checked to be in ``results``."""
    present = list(dict.fromkeys(results["method"]))
    if methods is None:
        return present
    methods = list(methods)
    unknown = [m for m in methods if m not in present]
    if unknown:
        raise ValueError(f"method(s) {unknown} are not in results; methods present: {present}")
    return methods


def methods_present(results: pd.DataFrame, methods: Sequence[str]) -> list:
    """The ``methods`` that have rows in ``results``, in the order given (a grid read before
    it has finished lacks some)."""
    present = set(results["method"])
    return [m for m in methods if m in present]


def other_methods(results: pd.DataFrame, reference: str, others, where: str = "results") -> list:
    """The methods to compare ``reference`` with: ``others`` checked against ``results``,
    by default every other method in order of appearance. Raises when ``reference`` is not
    in ``results`` (described as ``where`` in the message)."""
    present = list(dict.fromkeys(results["method"]))
    if reference not in present:
        raise ValueError(f"reference method {reference!r} is not in {where}; methods present: {present}")
    return [m for m in present if m != reference] if others is None else methods_in(results, others)


# ------------------------------------------------------------------------------------ what ran

def _field_text(name: str, value) -> str:
    """A config value as table text: tuples joined with ``", "``; None as ``"all"`` for
    ``classes`` and ``"-"`` elsewhere; ``"-"`` for an empty value."""
    if value is None:
        return "all" if name == "classes" else "-"
    text = ", ".join(str(v) for v in value) if isinstance(value, tuple) else str(value)
    return text or "-"


def config_summary(*configs, fields: Sequence[str] | None = None, provenance: bool = True) -> pd.DataFrame:
    """The configuration fields that decide what ran, and where each comes from.

    One row per field; per config a column ``"<experiment> (<run_name>)"``. With
    ``provenance`` (default) the columns are two levels, ``(<name>, "value")`` and
    ``(<name>, "provenance")``: the paper, the authors' code, or ours (the ``cpu`` / ``quick``
    preset, or an override), from :func:`deimos_utils.experiment.config.field_provenance`. ``fields``
    defaults to :data:`CONFIG_FIELDS` of the configs' task (their union, in order, when the
    configs mix tasks). Values are text (see :func:`_field_text`).
    """
    from ..experiment.config import field_provenance

    if not configs:
        raise ValueError("config_summary needs at least one config")
    if fields is None:
        tasks = list(dict.fromkeys(c.task for c in configs))
        unknown = [t for t in tasks if t not in CONFIG_FIELDS]
        if unknown:
            raise ValueError(f"no default fields for task(s) {unknown}; pass fields")
        fields = list(dict.fromkeys(f for t in tasks for f in CONFIG_FIELDS[t]))
    fields = list(fields)
    if not fields:
        raise ValueError("fields is empty: nothing to show")
    cols = {}
    for cfg in configs:
        missing = [f for f in fields if not hasattr(cfg, f)]
        if missing:
            raise ValueError(f"config {cfg.experiment!r} has no field(s) {missing}")
        name = f"{cfg.experiment} ({cfg.run_name})"
        if any(key[0] == name for key in cols):
            raise ValueError(f"two configs are both {name!r}; give them distinct tags")
        unused = cfg.noise is not None  # a fixed tau^-1 replaces noise_fraction
        cols[(name, VALUE)] = ["unused (noise is set)" if f == "noise_fraction" and unused
                               else _field_text(f, getattr(cfg, f)) for f in fields]
        if provenance:
            prov = field_provenance(cfg)
            cols[(name, PROVENANCE)] = ["-" if f in _NAMES_THE_RUN else prov[f] for f in fields]
    table = pd.DataFrame(cols, index=pd.Index(fields, name="field"))
    if not provenance:
        table.columns = [name for name, _ in table.columns]
    return table


def describe_runs(results: pd.DataFrame, by: str = "method") -> pd.DataFrame:
    """One row per value of ``by`` (a method, or e.g. ``"sample_size"``; in order of
    appearance): repeats, table rows per repeat, batch size and points acquired in the
    longest repeat. Stable across machines (no metrics)."""
    require_columns(results, (by, "seed", "iteration", "n_acquired", "batch_size"), "describe_runs")
    rows = []
    for m in dict.fromkeys(results[by]):
        r = results[results[by] == m]
        per_seed = r.groupby("seed")["iteration"].count()
        rows.append({
            by: m,
            "repeats": int(r["seed"].nunique()),
            "rows per repeat": int(per_seed.min()) if per_seed.min() == per_seed.max()
            else f"{int(per_seed.min())}-{int(per_seed.max())}",
            "batch size": int(r["batch_size"].iloc[0]),
            "acquired": int(r["n_acquired"].max()),
        })
    return pd.DataFrame(rows).set_index(by)


# ------------------------------------------------------------------------------------ titles

def is_simulated(source: str) -> bool:
    """Whether a data ``source`` string (``ALData.source``) marks simulated data."""
    return "simulated" in str(source).lower()


def data_label(source: str) -> str:
    """The data as a title names them: ``"SIMULATED library"`` for simulated data, else
    ``source`` itself (a data source or a label such as ``"MNIST 7 vs 9"``)."""
    if is_simulated(source):
        return "SIMULATED library"
    return str(source) if source else "unknown source"


def figure_title(dataset: str, config, n_seeds: int | None = None, what: str = "", *,
                 batch_size: bool = True) -> str:
    """``"<what>: <data>, batch size b\\n<preset> preset (<tag>), k repeat(s)"`` (two lines).

    ``dataset``: a label (``"MNIST 7 vs 9"``) or a data source (``ALData.source``), shown
    through :func:`data_label`; ``n_seeds``: the repeats plotted (default
    ``config.n_repeats``); ``batch_size=False`` leaves the batch size out (for a figure of
    several batch sizes). ``"<what>: "`` and ``" (<tag>)"`` only when not empty.
    """
    n = int(config.n_repeats if n_seeds is None else n_seeds)
    head = f"{what}: " if what else ""
    size = f", batch size {config.batch_size}" if batch_size else ""
    tag = f" ({config.tag})" if config.tag else ""
    return (f"{head}{data_label(dataset)}{size}\n"
            f"{config.preset} preset{tag}, {n} repeat{'s' * (n != 1)}")


# ------------------------------------------------------------------------------------ Tables 1, 2

def _threshold_labels(thresholds: list, digits: int) -> list:
    """Thresholds as text with ``digits`` significant digits, more where needed to tell
    distinct thresholds apart."""
    distinct = len(set(thresholds))
    while digits < 12 and len({f"{t:.{digits}g}" for t in thresholds}) < distinct:
        digits += 1
    return [f"{t:.{digits}g}" for t in thresholds]


def threshold_comparison(results: pd.DataFrame, metric: str, thresholds: Sequence[float] | None = None,
                         paper: Mapping | None = None, *, methods=None, digits: int = 4,
                         authors: Mapping | None = None) -> pd.DataFrame:
    """Tables 1 and 2: acquisitions each method's mean curve needs to reach each threshold.

    ``paper``: a mapping like :data:`~deimos_utils.analysis.paper.TABLE2_MNIST_7V9_ACCURACY` (key
    ``"thresholds"`` plus one list per method, in the order of the thresholds);
    ``thresholds``: ours, default the paper's (pass others when the paper's do not fit this
    run's scale, e.g. :func:`deimos_utils.figures.regression.splicing_thresholds`);
    ``authors``: ``{method: [acquisitions or None per threshold]}`` from the authors' arrays
    at the paper's thresholds (:func:`deimos_utils.analysis.authors_comparison.authors_thresholds`;
    ``{}`` when their arrays are absent).

    Without ``authors`` cells read ``"ours (paper)"`` (ours alone for a method the paper does
    not list). With it, three numbers a cell: ``"ours / their arrays / paper"`` (``"-"`` for a
    method one of them lacks). ``"not reached"`` where a mean curve never gets there. Columns:
    the methods' display names (the column index is named after the cells' layout). Rows: our
    thresholds as text (``digits`` significant digits, more where needed to tell them
    apart), with the paper's threshold in brackets where ours differ from it (theirs and the
    paper's count at the paper's). ``table.attrs`` holds the raw numbers: ``"thresholds"``
    (ours, floats), ``"acquisitions"`` (``{method: [int or None per threshold]}``, ours) and,
    with ``authors``, ``"authors"`` (as given, for :meth:`~deimos_utils.figures.common.Output.save_numbers`).
    """
    require_columns(results, ("method", "n_acquired", metric), "threshold_comparison")
    methods = methods_in(results, methods)
    theirs = dict(paper) if paper is not None else {}
    paper_thresholds = theirs.pop("thresholds", None)
    if thresholds is None:
        if paper_thresholds is None:
            raise ValueError("threshold_comparison needs thresholds, or a paper mapping holding 'thresholds'")
        thresholds = paper_thresholds
    thr = [float(t) for t in thresholds]
    if paper_thresholds is not None and len(paper_thresholds) != len(thr):
        raise ValueError(f"paper['thresholds'] has {len(paper_thresholds)} values for {len(thr)} thresholds")
    raw = acquisitions_to_threshold(results, metric, thr, methods=methods)
    theirs = {m: v for m, v in theirs.items() if m in methods}
    if authors is None:
        text = format_threshold_table(raw, paper=theirs)
        layout = "ours (paper)" if theirs else None
    else:
        text = _three_way(raw, dict(authors), theirs)
        layout = "ours / their arrays / paper"
    labels = _threshold_labels(thr, digits)
    if paper_thresholds is not None and [float(p) for p in paper_thresholds] != thr:
        labels = [f"{ours} ({float(p):g})" for ours, p in zip(labels, paper_thresholds)]
    text.index = pd.Index(labels, name=f"{metric.replace('_', ' ')} threshold")
    text.columns = pd.Index([method_label(m) for m in raw.columns], name=layout)
    text.attrs["thresholds"] = thr
    text.attrs["acquisitions"] = {m: [None if pd.isna(v) else int(v) for v in raw[m]] for m in raw.columns}
    if authors is not None:
        text.attrs["authors"] = {m: list(v) for m, v in authors.items()}
    return text


def _count_text(value) -> str:
    return "not reached" if value is None or value is pd.NA or (
        isinstance(value, float) and math.isnan(value)) else str(int(value))


def _three_way(raw: pd.DataFrame, authors: dict, paper: dict) -> pd.DataFrame:
    """Cells ``"ours / theirs / paper"``: ``"-"`` where a method has no numbers of theirs or
    the paper's, ``"not reached"`` where a curve never gets there."""
    n = len(raw.index)
    for what, table in (("authors", authors), ("paper", paper)):
        for m, vals in table.items():
            if len(list(vals)) != n:
                raise ValueError(f"{what}[{m!r}] has {len(list(vals))} values for {n} thresholds")
    out = pd.DataFrame(index=raw.index, columns=raw.columns, dtype=object)
    for m in raw.columns:
        for k, t in enumerate(raw.index):
            cells = [_count_text(raw.at[t, m])]
            for table in (authors, paper):
                cells.append(_count_text(list(table[m])[k]) if m in table else "-")
            out.at[t, m] = " / ".join(cells)
    return out


# ------------------------------------------------------------------------------------ Appendix C

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


def lrt_row(rows: pd.DataFrame, a, b, metric, higher_is_better):
    """``(LRTResult or None, notes)``: the test on ``rows``, warnings and errors as notes
    (a test that cannot be run, or whose fits all fail, is noted, not raised)."""
    with warnings.catch_warnings():
        # lmm_lrt lists its fit problems in LRTResult.warnings as well as warning about them
        warnings.simplefilter("ignore")
        try:
            res = lmm_lrt(rows, a, b, metric, higher_is_better=higher_is_better)
        except (ValueError, RuntimeError, np.linalg.LinAlgError) as err:
            return None, [f"not tested: {err}"]
    return res, list(res.warnings)


def p_value_cells(res) -> dict:
    """The ``p-value`` (text) and ``log10 p`` cells of a test's row; ``"n/a"`` and NaN
    without a test."""
    if res is None:
        return {"p-value": "n/a", "log10 p": float("nan")}
    return {"p-value": format_p_value(res.log10_p_value), "log10 p": round(res.log10_p_value, 2)}


def fit_note(notes: list) -> str:
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
    require_columns(results, ("method", "iteration", metric), "lmm_comparison")
    experiment = _single_experiment(results)
    rows = results[np.isfinite(pd.to_numeric(results[metric], errors="coerce"))]
    others = other_methods(results, reference, others)
    out, all_notes = [], {}
    for m in others:
        res, notes = lrt_row(rows, reference, m, metric, higher_is_better)
        theirs = "-"
        if paper is not None and experiment is not None:
            theirs = paper.get((experiment, m), "-")
        out.append({
            "method": method_label(m),
            **p_value_cells(res),
            f"{method_label(reference)} - method": float("nan") if res is None else -res.effect,
            "better": "-" if res is None or res.better is None else method_label(res.better),
            "p-value (paper)": theirs,
            "fit notes": fit_note(notes),
        })
        all_notes[m] = notes
    table = pd.DataFrame(out).set_index("method")
    table.attrs["notes"] = all_notes
    return table

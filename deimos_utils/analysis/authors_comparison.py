"""The authors' side of every comparison: their arrays for one of our experiments, their
curves and Tables 1 and 2 from them, and what differs between their settings and ours.

The arrays themselves are read by :mod:`deimos_utils.data.authors`; the drawing is
:mod:`deimos_utils.figures.authors_overlay`.

- :func:`load_arrays` -> :class:`AuthorsArrays`: the arrays that go with one of our
  experiments (:data:`AUTHORS_EXPERIMENT_OF`: our MNIST 0-9 at b = 25 gets their b = 100
  arrays), or, when they are absent, the message ``"authors' arrays not found: <what to do>"``.
- :func:`authors_curves`: their mean +-1 sd over seeds per method, x = acquired points.
- :func:`settings_line`, :func:`caption`: one line saying which preset ours is and how it
  differs from what the authors ran (from :func:`deimos_utils.experiment.config.field_provenance`),
  plus the quirks of their arrays.
- :data:`TABLE_ENTRIES`, :func:`authors_thresholds`: Tables 1 and 2 from their arrays (the
  entries that reproduce the paper's numbers), for
  :func:`deimos_utils.analysis.tables.threshold_comparison`.
- :func:`runnable_config`: a configuration that uses the authors' initial sets, made to run
  without their arrays (random class-balanced initial sets, in a results folder of its own).
"""
from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..data.authors import (
    AUTHORS_COMMIT,
    AUTHORS_EXPERIMENT_OF,
    AUTHORS_EXPERIMENTS,
    AUTHORS_REPO,
    authors_experiment_of,
    load_authors_results,
    within_horizon,
)
from ..data.paths import ENV_VAR, MissingDataError, resolve_data_dir


__all__ = [
    "AUTHORS_EXPERIMENT_OF",
    "AUTHORS_LABEL",
    "NOT_FOUND",
    "TABLE_ENTRIES",
    "RANDOM_INITIAL_TAG",
    "not_found_message",
    "AuthorsArrays",
    "load_arrays",
    "authors_curves",
    "settings_differences",
    "settings_line",
    "caption",
    "authors_thresholds",
    "runnable_config",
]

AUTHORS_LABEL = "authors (their arrays)"
NOT_FOUND = "authors' arrays not found"

#: Tables 1 and 2 from the arrays: per experiment, how many entries of each curve count
#: (``"*"`` for every method); these reproduce the paper's tables exactly
#: (tests/test_authors.py). Table 2: the first 201 entries; Table 1: 600, 750 for max variance.
TABLE_ENTRIES = {
    "mnist_7v9_b1": {"*": 201},
    "splicing": {"*": 600, "max_variance": 750},
}

#: the results-folder tag of runs that use random initial sets because the authors' are absent
RANDOM_INITIAL_TAG = "random-initial"
#: fields that name a run rather than change it: never listed as differences
_BOOKKEEPING = ("experiment", "preset", "tag", "predict_batch_size")


def not_found_message(root=None) -> str:
    """``"authors' arrays not found: <what to do>"`` (one line), for data folder ``root``."""
    where = resolve_data_dir(root) / "authors"
    return (f"{NOT_FOUND}: put the .npy files of github.com/{AUTHORS_REPO} at commit "
            f"{AUTHORS_COMMIT[:7]} under {where}/ (same relative paths; "
            f"deimos_utils.data.authors.load_authors_results(..., download=True) fetches them when a "
            f"network is there), or point {ENV_VAR} at a folder whose authors/ holds them")


@dataclass
class AuthorsArrays:
    """The authors' arrays that go with our ``experiment``, or why there are none.

    ``results``: their table (:func:`deimos_utils.data.authors.load_authors_results`), None when
    absent; ``message``: empty, or the not-found line; ``notes``: the quirks of their arrays,
    to be said wherever they are shown.
    """

    experiment: str
    authors_experiment: str
    results: pd.DataFrame | None = None
    message: str = ""
    notes: tuple = field(default_factory=tuple)

    @property
    def available(self) -> bool:
        return self.results is not None

    @property
    def batch_size(self) -> int:
        return AUTHORS_EXPERIMENTS[self.authors_experiment].batch_size

    @property
    def horizon(self) -> int:
        """The acquisitions the paper's figures and tests use (their arrays may run longer)."""
        return AUTHORS_EXPERIMENTS[self.authors_experiment].horizon

    def label(self, our_batch_size: int | None = None) -> str:
        """``"authors (their arrays)"``, with their batch size when it is not ours."""
        if our_batch_size is not None and int(our_batch_size) != self.batch_size:
            return f"authors (their arrays, b = {self.batch_size})"
        return AUTHORS_LABEL


def load_arrays(experiment: str, data_dir=None, *, download: bool = False) -> AuthorsArrays:
    """The authors' arrays for our ``experiment``; absent files give a message, not an error.

    ``download=False`` (default) never touches the network. A present but bad array (wrong
    shape, dtype, range) still raises ValueError naming the file.
    """
    key = authors_experiment_of(experiment)
    try:
        df = load_authors_results(key, data_dir, download=download)
    except MissingDataError:
        return AuthorsArrays(experiment, key, None, not_found_message(data_dir))
    return AuthorsArrays(experiment, key, df, "", tuple(df.attrs.get("notes", ())))


# ------------------------------------------------------------------------------------ curves

def authors_curves(results: pd.DataFrame, metric: str, *, x_max: float | None = None,
                   methods=None) -> pd.DataFrame:
    """Their mean and sd over seeds of ``metric`` at each ``n_acquired``, per method.

    Rows up to ``x_max`` acquisitions (default: the paper's range,
    :func:`deimos_utils.data.authors.within_horizon`). A point counts the seeds whose curve
    reaches it; ``sd`` is the sample sd (ddof 1; 0 for one seed). Columns ``method``,
    ``n_acquired``, ``mean``, ``sd``, ``n_seeds``.
    """
    if metric not in results.columns:
        raise ValueError(f"the authors' table has no column {metric!r}; columns: {list(results.columns)}")
    rows = within_horizon(results) if x_max is None else results[results["n_acquired"] <= x_max]
    if methods is not None:
        rows = rows[rows["method"].isin(list(methods))]
    g = rows.groupby(["method", "n_acquired"], sort=False)[metric]
    out = pd.DataFrame({"mean": g.mean(), "sd": g.std(ddof=1).fillna(0.0), "n_seeds": g.count()})
    order = {m: i for i, m in enumerate(dict.fromkeys(rows["method"]))}
    out = out.reset_index()
    out["_order"] = out["method"].map(order)
    return out.sort_values(["_order", "n_acquired"]).drop(columns="_order").reset_index(drop=True)


def _text(name: str, value) -> str:
    if value is None:
        return "all" if name in ("n_test", "classes") else "none"
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def settings_differences(config) -> list[tuple[str, str, str]]:
    """``[(field, ours, the paper preset's or why)]``: the fields whose provenance is ours
    (:func:`~deimos_utils.experiment.config.field_provenance`), other than bookkeeping.

    A field that differs from the experiment's ``paper`` preset gives that preset's value; a
    field the paper preset itself sets our way (e.g. splicing's initial set) gives the reason
    its provenance states.
    """
    from ..experiment.config import EXPERIMENTS, PROVENANCE, field_provenance, get_config

    prov = field_provenance(config)
    paper = get_config(config.experiment, "paper") if config.experiment in EXPERIMENTS else None
    out = []
    for name, source in prov.items():
        if name in _BOOKKEEPING or not source.startswith("ours"):
            continue
        ours = getattr(config, name)
        if paper is not None and ours != getattr(paper, name):
            out.append((name, _text(name, ours), _text(name, getattr(paper, name))))
        elif PROVENANCE.get(config.experiment, {}).get(name, "").startswith("ours"):
            out.append((name, _text(name, ours), source))
    return out


def _theirs_data(config, data_source: str) -> str:
    """Where their runs' data differ from ours, as text to append to ``"theirs: ..."``."""
    from ..analysis.tables import is_simulated

    if config.dataset == "utkface":
        return " on 200 px faces"
    if config.dataset == "splicing":
        return " on the real A5SS library" + (
            " (ours: the SIMULATED library)" if is_simulated(data_source) else "")
    return ""


def _reason(provenance: str) -> str:
    """``"ours (why)"`` -> ``"ours: why"``."""
    if provenance.startswith("ours (") and provenance.endswith(")"):
        return "ours: " + provenance[len("ours ("):-1]
    return provenance


def settings_line(config, arrays: AuthorsArrays | None = None, data_source: str = "") -> str:
    """``"ours: <preset> preset (<field> <ours> (theirs <value>), ...); theirs: ..."``.

    The differences are :func:`settings_differences`; ``arrays`` adds their batch size and
    seeds when they differ from ours; ``data_source`` (``ALData.source``) says when ours ran
    on simulated data.
    """
    from ..experiment.config import EXPERIMENTS, get_config

    diffs = settings_differences(config)
    items = [f"{n} {o} ({'theirs ' + p if not p.startswith('ours') else _reason(p)})"
             for n, o, p in diffs]
    ours = f"ours: {config.run_name} preset" + (f" ({'; '.join(items)})" if items else
                                                 " (the authors' settings throughout)")
    theirs = f"theirs: the paper preset's settings{_theirs_data(config, data_source)}"
    if arrays is not None and arrays.available:
        seeds = int(arrays.results["seed"].nunique())
        theirs += f", {seeds} seeds"
        paper_b = (get_config(config.experiment, "paper").batch_size
                   if config.experiment in EXPERIMENTS else config.batch_size)
        if arrays.batch_size != paper_b:
            theirs += (f", batches of {arrays.batch_size} (the paper's b = {paper_b} run is not "
                       "in their repository)")
    return f"{ours}; {theirs}"


def caption(config, arrays: AuthorsArrays, data_source: str = "", width: int = 110) -> str:
    """The lines printed under a figure with their curves: :func:`settings_line` and the
    quirks of their arrays, or the not-found message; wrapped at ``width`` characters."""
    lines = [settings_line(config, arrays, data_source)]
    lines += [f"their arrays: {n}" for n in arrays.notes] if arrays.available else [arrays.message]
    return "\n".join(textwrap.fill(t, width, subsequent_indent="  ") for t in lines)


def authors_thresholds(arrays: AuthorsArrays, metric: str, thresholds) -> dict:
    """``{method: [acquisitions or None per threshold]}`` from their mean curves.

    Each curve counts its first :data:`TABLE_ENTRIES` entries (the paper's range for an
    experiment not listed there). ``{}`` when the arrays are absent.
    """
    from ..analysis.thresholds import acquisitions_to_threshold

    if not arrays.available:
        return {}
    df = arrays.results
    limits = TABLE_ENTRIES.get(arrays.authors_experiment)
    if limits is None:
        rows = within_horizon(df)
    else:
        keep = df["iteration"] < df["method"].map(lambda m: limits.get(m, limits["*"]))
        rows = df[keep]
    table = acquisitions_to_threshold(rows, metric, thresholds)
    return {m: [None if pd.isna(v) else int(v) for v in table[m]] for m in table.columns}


# ------------------------------------------------------------------------------------ runs

def runnable_config(config, data_dir=None) -> tuple:
    """``(config, message)``: ``config`` itself and ``""`` when it can run here; when it uses
    the authors' initial sets (``initial_set="authors"``) and their files are absent, a copy
    with random class-balanced initial sets, tagged :data:`RANDOM_INITIAL_TAG` (appended to
    any tag, so its results get a folder of their own), and a message that says so."""
    from ..data.authors import authors_initial_ids

    if config.initial_set != "authors":
        return config, ""
    try:
        for seed in config.seeds:
            authors_initial_ids(config.experiment, seed, data_dir, download=False)
    except MissingDataError:
        tag = f"{config.tag}-{RANDOM_INITIAL_TAG}" if config.tag else RANDOM_INITIAL_TAG
        message = (f"{not_found_message(data_dir)}; {config.experiment} runs with random "
                   f"class-balanced initial sets instead of theirs (results folder "
                   f"{config.preset}-{tag})")
        return config.replace(initial_set="random", tag=tag), message
    return config, ""

"""Figures and recorded numbers: one place decides where the notebooks write them.

Every notebook calls :func:`set_output_dir` once (from its ``output_dir`` parameter), then
:func:`savefig` for each figure and :func:`save_numbers` for the key numbers a test or the README
reads. Relative paths are taken from the repository root, so a notebook writes to the same place
whether it runs in JupyterLab, papermill or nbval.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from ..acquisition.labels import METHOD_COLORS, METHOD_LABELS
from ..runtime import project_root

REPO_ROOT = project_root()
_output_dir = REPO_ROOT / "outputs"

def set_output_dir(path: str | Path) -> Path:
    """Set (and create) the folder for figures and numbers; relative to the repository root."""
    global _output_dir
    path = Path(path)
    _output_dir = path if path.is_absolute() else REPO_ROOT / path
    (_output_dir / "figures").mkdir(parents=True, exist_ok=True)
    return _output_dir


def output_dir() -> Path:
    return _output_dir


def savefig(fig, name: str, *, dpi: int = 130) -> Path:
    """Write ``fig`` as ``<output_dir>/figures/<name>.png`` and return the path."""
    folder = _output_dir / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    return path


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) else value
    return value


def save_numbers(name: str, numbers: dict) -> Path:
    """Write the key numbers of a notebook as ``<output_dir>/<name>.json``."""
    _output_dir.mkdir(parents=True, exist_ok=True)
    path = _output_dir / f"{name}.json"
    path.write_text(json.dumps(_jsonable(numbers), indent=2, sort_keys=True) + "\n")
    return path


def add_caption(fig, text: str, *, fontsize: float = 7.0):
    """Write ``text`` under the figure's axes (``savefig``'s tight bounding box keeps it).

    A second call on the same figure adds its text below the first. Returns the text artist.
    """
    previous = getattr(fig, "_deimos_caption", None)
    if previous is not None:
        text = previous.get_text() + "\n" + text
        previous.remove()
    artist = fig.text(0.01, -0.01, text, ha="left", va="top", fontsize=fontsize, wrap=False)
    fig._deimos_caption = artist
    return artist


def method_style(method: str) -> dict:
    return {"color": METHOD_COLORS.get(method, None), "label": METHOD_LABELS.get(method, method)}


def mean_sd_band(ax, x, curves, method: str, **kwargs):
    """Plot the mean of ``curves`` (repeats x points) against ``x`` with a +-1 sd band."""
    curves = np.atleast_2d(np.asarray(curves, dtype=float))
    mean = np.nanmean(curves, axis=0)
    sd = np.nanstd(curves, axis=0, ddof=1) if curves.shape[0] > 1 else np.zeros_like(mean)
    style = {**method_style(method), **kwargs}
    (line,) = ax.plot(x, mean, **style)
    ax.fill_between(x, mean - sd, mean + sd, color=line.get_color(), alpha=0.18, linewidth=0)
    return line


def new_figure(ncols: int = 1, width: float = 5.0, height: float = 3.6, **kwargs):
    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), **kwargs)
    return fig, axes


def plot_learning_curves(results, metric: str, *, ax=None, methods=None, title: str | None = None,
                         x: str = "n_acquired", n_initial: int | None = None):
    """Mean +-1 sd over seeds of ``metric`` against ``x``, one line per method.

    ``results``: a results table of the loop's store (columns ``method``, ``seed``, ``x``,
    ``metric``). Returns the axes.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    methods = list(methods) if methods is not None else list(dict.fromkeys(results["method"]))
    for method in methods:
        rows = results[results["method"] == method]
        if rows.empty:
            continue
        wide = rows.pivot_table(index="seed", columns=x, values=metric, aggfunc="mean")
        n_seeds = len(wide)
        line = mean_sd_band(ax, wide.columns.to_numpy(), wide.to_numpy(), method)
        line.set_label(f"{METHOD_LABELS.get(method, method)} ({n_seeds} seed{'s' * (n_seeds > 1)})")
    label = "Number of acquired points"
    if n_initial is not None:
        label += f" ({n_initial} initial training points)"
    ax.set_xlabel(label)
    ax.set_ylabel(metric.replace("_", " "))
    if title:
        ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax

"""Fig 3f's runs: DEIMOS with several representative sample sizes (``n_candidates``).

:data:`SAMPLE_SIZES` per preset, :func:`sample_size_configs` (one config and results folder
per size), :func:`run_sample_sizes` (run or read back every size). Their tests are in
:mod:`deimos_utils.analysis.mnist_tables`, their figure in :mod:`deimos_utils.figures.mnist`.
"""
from __future__ import annotations

from typing import Sequence

import pandas as pd

from ..data.aldata import load_data
from .loop import run_all

__all__ = ["SAMPLE_SIZES", "sample_sizes_for", "sample_size_configs", "run_sample_sizes"]


#: Representative sample sizes of Fig 3f (``n_candidates`` overrides) per preset. The paper's
#: 500 / 2,500 / 5,000; the quick preset (50 candidates) uses 20 / 50 / 100.
SAMPLE_SIZES = {"quick": (20, 50, 100), "cpu": (500, 2500, 5000), "paper": (500, 2500, 5000)}


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
                     results_dir="results", progress: bool = True, train: bool = True) -> pd.DataFrame:
    """Run (or read back) ``method`` at each sample size; all rows with a ``sample_size`` column.
    ``train=False``: only read what the tables hold (see :func:`~deimos_utils.experiment.loop.run_all`)."""
    if data is None:
        data = load_data(config)
    frames = []
    for size, cfg in sample_size_configs(config, sizes).items():
        res = run_all(cfg, methods=[method], data=data, results_dir=results_dir, progress=progress, train=train)
        frames.append(res.assign(sample_size=size))
    return pd.concat(frames, ignore_index=True)

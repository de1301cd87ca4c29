"""DEIMOS on your own PyTorch model, in one call.

    from deimos_utils.select import select_batch
    picked = select_batch(model, x_pool, batch_size=25, x_val=x_val)

The model needs dropout before its fully connected layers (``nn.Dropout`` is converted in place
to fixed-mask dropout). Candidates are scored against a representative sample: by default the
candidates themselves, or ``x_sample`` (e.g. a random draw from the labelled and unlabelled
data, Appendix D) whose points count in the trace but are never picked.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .acquisition import deimos_batch
from .calibration import noise_from_validation
from .mc_dropout import convert_dropout, dropout_layers, mc_predict

#: Appendix E's default fractions of the mean dropout variance
DEFAULT_NOISE_FRACTION = {"regression": 0.15, "classification": 0.005}


@dataclass
class Selection:
    """What :func:`select_batch` returns: indices into ``x_pool`` in pick order, their gains
    (trace reduction of V), the noise used and the task."""

    picked: np.ndarray
    gains: np.ndarray
    noise: float
    task: str


def select_batch(model: torch.nn.Module, x_pool, batch_size: int, *, x_sample=None, x_val=None,
                 noise: float | None = None, noise_fraction: float | None = None,
                 task: str = "auto", n_masks: int = 50, seed: int = 0,
                 predict_batch_size: int = 256) -> Selection:
    """Pick ``batch_size`` points of ``x_pool`` with DEIMOS (greedy, exact).

    Parameters
    ----------
    model : a trained network whose dropout layers are ``nn.Dropout`` or ``FixedMaskDropout``.
    x_pool : (N, ...) candidate inputs (tensor or array).
    x_sample : optional (M, ...) further inputs of the representative sample (counted in the
        trace, never picked).
    x_val : inputs whose mean dropout variance sets the noise (Appendix E); default the pool.
    noise : tau^-1 (regression) or tau_s^-1 (classification); default ``noise_fraction`` times
        the mean dropout variance on ``x_val`` (0.15 regression, 0.005 classification).
    task, n_masks, seed, predict_batch_size : as in :func:`~deimos_utils.mc_dropout.mc_predict`.
    """
    if not dropout_layers(model):
        convert_dropout(model)

    def predict(x):
        return mc_predict(model, x, n_masks=n_masks, seed=seed, batch_size=predict_batch_size,
                          task=task)

    preds = predict(x_pool)
    resolved = "regression" if preds.ndim == 2 else "classification"
    if x_sample is not None:
        preds = torch.cat([preds, predict(x_sample)], dim=0)
    if noise is None:
        fraction = DEFAULT_NOISE_FRACTION[resolved] if noise_fraction is None else noise_fraction
        val = preds[: len(x_pool)] if x_val is None else predict(x_val)
        noise = noise_from_validation(val.double().cpu().numpy(), resolved, fraction)
    picked, gains = deimos_batch(preds.double(), batch_size,
                                 candidates=np.arange(len(x_pool)), noise=noise)
    return Selection(picked, gains, float(noise), resolved)

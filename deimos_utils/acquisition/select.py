"""DEIMOS on your own PyTorch model, in one call.

    from deimos_utils.acquisition.select import select_batch
    picked = select_batch(model, x_pool, batch_size=25, x_val=x_val)

The model needs dropout before its fully connected layers (``nn.Dropout`` is converted in place
to fixed-mask dropout). Candidates are scored against a representative sample: by default the
candidates themselves, or those plus ``x_sample`` (e.g. a random draw from the labelled and
unlabelled data, Appendix D) whose points count in the trace but are never picked. With
``pool_in_sample=False`` the sample is ``x_sample`` alone and the pool's points are candidates
outside it (e.g. 100,000 candidates against a 5,000-point sample).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import deimos_batch
from ..uncertainty.calibration import DEFAULT_NOISE_FRACTION, noise_from_validation
from ..uncertainty.mc_dropout import convert_dropout, dropout_layers, mc_predict



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
                 predict_batch_size: int = 256, pool_in_sample: bool = True) -> Selection:
    """Pick ``batch_size`` points of ``x_pool`` with DEIMOS (greedy, exact).

    Parameters
    ----------
    model : a trained network whose dropout layers are ``nn.Dropout`` or ``FixedMaskDropout``.
    x_pool : (N, ...) candidate inputs (tensor or array).
    x_sample : optional (M, ...) further inputs of the representative sample (counted in the
        trace, never picked).
    pool_in_sample : if False, the representative sample is ``x_sample`` only (required) and the
        pool's points are candidates outside it: the trace runs over the sample's points, and
        each candidate is conditioned on through its noisy observation
        (``deimos_batch(..., candidate_preds=...)``).
    x_val : inputs whose mean dropout variance sets the noise (Appendix E); default the pool.
    noise : tau^-1 (regression) or tau_s^-1 (classification); default ``noise_fraction`` times
        the mean dropout variance on ``x_val`` (0.15 regression, 0.005 classification).
    task, n_masks, seed, predict_batch_size : as in :func:`~deimos_utils.uncertainty.mc_dropout.mc_predict`.
    """
    if not dropout_layers(model):
        convert_dropout(model)

    def predict(x):
        return mc_predict(model, x, n_masks=n_masks, seed=seed, batch_size=predict_batch_size,
                          task=task)

    if not pool_in_sample and x_sample is None:
        raise ValueError("pool_in_sample=False needs x_sample: the representative sample that "
                         "the pool's points are scored against")
    preds = predict(x_pool)
    resolved = "regression" if preds.ndim == 2 else "classification"
    sample = None if x_sample is None else predict(x_sample)
    if noise is None:
        fraction = DEFAULT_NOISE_FRACTION[resolved] if noise_fraction is None else noise_fraction
        val = preds if x_val is None else predict(x_val)
        noise = noise_from_validation(val.double().cpu().numpy(), resolved, fraction)
    if pool_in_sample:
        both = preds if sample is None else torch.cat([preds, sample], dim=0)
        picked, gains = deimos_batch(both.double(), batch_size,
                                     candidates=np.arange(len(x_pool)), noise=noise)
    else:
        picked, gains = deimos_batch(sample.double(), batch_size,
                                     candidate_preds=preds.double(), noise=noise)
    return Selection(picked, gains, float(noise), resolved)

"""DEIMOS on your own PyTorch model, in one call.

    from deimos_utils import select_batch
    sel = select_batch(model, x_pool, batch_size=25, x_val=x_val)
    sel.picked          # indices into x_pool, in pick order

The model needs dropout before its fully connected layers: every ``nn.Dropout`` is converted
to fixed-mask dropout, on a copy of the model unless ``inplace=True``. Candidates are scored
against a representative sample: by default the pool itself, or the pool plus ``x_sample``
(e.g. a random draw from the labelled and unlabelled data, Appendix D) whose points count in
the trace but are never picked. ``candidates`` restricts which pool points may be picked. With
``pool_in_sample=False`` the sample is ``x_sample`` alone and the pool's points are candidates
outside it (e.g. 100,000 candidates against a 5,000-point sample). ``return_scores=True`` also
gives every candidate's expected improvement under the current model (the first greedy step).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn

from .._checks import check_candidates
from . import deimos_batch, deimos_scores
from ..uncertainty.calibration import DEFAULT_NOISE_FRACTION, noise_from_validation
from ..uncertainty.mc_dropout import convert_dropout, dropout_layers, fixed_masks, mc_predict


_EMBEDDINGS = (nn.Embedding, nn.EmbeddingBag)


@dataclass
class Selection:
    """What :func:`select_batch` returns.

    picked : (b,) int64 indices into ``x_pool``, in pick order.
    gains : (b,) float64 trace reduction of V caused by each pick.
    noise : the tau^-1 (regression) or tau_s^-1 (classification) used.
    task : "regression" or "classification".
    scores : (N,) float64 expected improvement of every pool point under the current model
        (NaN where a point is not a candidate), or None unless ``return_scores=True``.
    """

    picked: np.ndarray
    gains: np.ndarray
    noise: float
    task: str
    scores: np.ndarray | None = None


def prepare_model(model: nn.Module, inplace: bool = False) -> nn.Module:
    """``model`` (or a deep copy of it unless ``inplace``) with every ``nn.Dropout`` converted to
    :class:`~deimos_utils.mc_dropout.FixedMaskDropout`; layers already fixed-mask stay as they
    are. ValueError when the model has no dropout at all."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not inplace:
        model = copy.deepcopy(model)
    model = convert_dropout(model)
    if not dropout_layers(model):
        raise ValueError(
            "model has no dropout layer (nn.Dropout or FixedMaskDropout): DEIMOS needs MC "
            "dropout predictions; add dropout before the fully connected layers"
        )
    return model


def _first_layer(model: nn.Module) -> nn.Module | None:
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d) + _EMBEDDINGS):
            return m
    return None


def expected_input(model: nn.Module) -> str:
    """The input shape the model's first weight layer takes, in words (for error messages)."""
    layer = _first_layer(model)
    if isinstance(layer, nn.Linear):
        return f"(N, {layer.in_features})"
    if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        spatial = {nn.Conv1d: "L", nn.Conv2d: "H, W", nn.Conv3d: "D, H, W"}[type(layer)]
        return f"(N, {layer.in_channels}, {spatial})"
    if isinstance(layer, _EMBEDDINGS):
        return f"integer token ids below {layer.num_embeddings}"
    return "what its first layer takes"


def as_model_input(model: nn.Module, x, name: str) -> torch.Tensor:
    """``x`` as a tensor the model can take: integer or boolean inputs are cast to the model's
    floating dtype unless the model embeds tokens (``nn.Embedding``); a forward pass on its
    first two points checks the shape (ValueError naming ``name``, its shape and the expected
    one)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)}): need at least one point")
    embeds = any(isinstance(m, _EMBEDDINGS) for m in model.modules())
    if not (x.is_floating_point() or x.is_complex() or embeds):
        params = [p for p in model.parameters() if p.is_floating_point()]
        x = x.to(params[0].dtype if params else torch.get_default_dtype())
    params = list(model.parameters())
    probe = x[:2].to(params[0].device) if params else x[:2]
    try:
        with torch.no_grad(), fixed_masks(model, 1, 0):
            model(probe)
    except (RuntimeError, ValueError, IndexError) as err:
        first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ValueError(
            f"{name} has shape {tuple(x.shape)} (dtype {x.dtype}), which the model cannot take: "
            f"it expects {expected_input(model)}. The model said: {first_line}"
        ) from None
    return x


def _pool_candidates(candidates, n_pool: int) -> np.ndarray:
    if candidates is None:
        return np.arange(n_pool)
    return check_candidates(candidates, n_pool, "candidates")


def _scores_over_pool(n_pool: int, cand: np.ndarray, score: np.ndarray) -> np.ndarray:
    full = np.full(n_pool, np.nan)
    full[cand] = score
    return full


def select_batch(model: nn.Module, x_pool, batch_size: int, *, candidates=None, x_sample=None,
                 x_val=None, noise: float | None = None, noise_fraction: float | None = None,
                 task: str = "auto", n_masks: int = 50, seed: int = 0,
                 predict_batch_size: int = 256, pool_in_sample: bool = True,
                 inplace: bool = False, return_scores: bool = False) -> Selection:
    """Pick ``batch_size`` points of ``x_pool`` with DEIMOS (greedy, exact).

    Parameters
    ----------
    model : a trained network with dropout (``nn.Dropout`` and/or ``FixedMaskDropout``).
    x_pool : (N, ...) pool inputs (tensor or array; integer inputs such as uint8 images are cast
        to the model's dtype unless the model embeds tokens).
    candidates : optional indices into ``x_pool`` that may be picked (default: all); the other
        pool points still count in the trace when ``pool_in_sample``.
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
    inplace : convert the model's ``nn.Dropout`` layers in place (default: work on a copy and
        leave ``model`` unchanged).
    return_scores : also return every candidate's expected improvement (``Selection.scores``).
    """
    if not pool_in_sample and x_sample is None:
        raise ValueError("pool_in_sample=False needs x_sample: the representative sample that "
                         "the pool's points are scored against")
    model = prepare_model(model, inplace)

    def predict(x, name):
        x = as_model_input(model, x, name)
        return mc_predict(model, x, n_masks=n_masks, seed=seed, batch_size=predict_batch_size,
                          task=task).double()

    preds = predict(x_pool, "x_pool")
    cand = _pool_candidates(candidates, len(preds))
    resolved = "regression" if preds.ndim == 2 else "classification"
    sample = None if x_sample is None else predict(x_sample, "x_sample")
    if noise is None:
        fraction = DEFAULT_NOISE_FRACTION[resolved] if noise_fraction is None else noise_fraction
        val = preds if x_val is None else predict(x_val, "x_val")
        noise = noise_from_validation(val.cpu().numpy(), resolved, fraction)
    if pool_in_sample:
        both = preds if sample is None else torch.cat([preds, sample], dim=0)
        args, kwargs = (both,), dict(candidates=cand, noise=noise)
    else:
        args, kwargs = (sample,), dict(candidate_preds=preds[torch.as_tensor(cand)], noise=noise)
    picked, gains = deimos_batch(*args, batch_size, **kwargs)
    if not pool_in_sample:
        picked = cand[picked]
    scores = None
    if return_scores:
        scores = _scores_over_pool(len(preds), cand, deimos_scores(*args, **kwargs))
    return Selection(np.asarray(picked, dtype=np.int64), gains, float(noise), resolved, scores)

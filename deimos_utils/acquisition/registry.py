"""One calling convention for every acquisition method used in the experiments.

>>> method = get_acquisition("bald")
>>> picked = method(AcquisitionContext(batch_size=25, rng=rng, task="classification",
...                                    cand_preds=probs))         # (N, C, J) probabilities

Each method is an :class:`Acquisition`: a ``name``, the inputs it ``needs`` (``"preds"``: MC
predictions of the candidates; ``"sample"``: MC predictions of the labelled points of the
representative sample as well, in ``ctx.extra_preds``, Appendix D's X_samp; ``"embeddings"``:
embeddings of the labelled points and of the candidates), the ``tasks`` it supports, and a call ``method(ctx) -> np.ndarray`` returning
candidate indices (0..N-1) in pick order.

Methods: ``deimos`` (this paper), ``random``, ``max_variance`` (regression), ``max_entropy``
(Gal et al. 2017), ``bald`` (Houlsby et al. 2011), ``batchbald`` (Kirsch et al. 2019),
``kcenter`` (robust k-center core sets, Sener & Savarese 2018). Single-point scores take the
top b. Other settings are made with :func:`batchbald_acquisition` and
:func:`kcenter_acquisition`, or any ``Acquisition(name, needs, tasks, fn)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Union

import numpy as np
import torch

from .._checks import TASKS, check_batch_size, check_nonnegative
from .batchbald import batchbald_batch
from .dense import DEFAULT_SMOOTHING
from .kcenter import KCENTER_OUTLIER_FRACTION, kcenter_batch
from .scores import bald_scores, entropy_scores, top_k, variance_scores

__all__ = [
    "AcquisitionContext",
    "Acquisition",
    "ACQUISITIONS",
    "TASKS",
    "get_acquisition",
    "batchbald_acquisition",
    "kcenter_acquisition",
]

ArrayLike = Union[np.ndarray, torch.Tensor]
BATCHBALD_NUM_SAMPLES = 10000


@dataclass
class AcquisitionContext:
    """Everything an acquisition method may need for one batch.

    Attributes
    ----------
    batch_size : int
        Number of candidates b to pick.
    rng : numpy Generator
        Randomness (random picks, BatchBALD's sampled configurations, k-center's first center).
    task : str
        ``"regression"`` or ``"classification"``.
    cand_preds : (N, J) or (N, C, J), optional
        MC-dropout predictions (regression) or class probabilities of the N candidates.
    extra_preds : (M, J) or (M, C, J), optional
        Points of the representative sample that count in DEIMOS's trace but are never picked
        (its labelled points).
    noise : float
        tau^-1 (regression) or tau_s^-1 (classification) for DEIMOS.
    smoothing : str
        Where DEIMOS puts tau_s^-1 in classification: ``"diagonal"`` (the authors' code) or
        ``"block"`` (the paper's text); see :func:`~deimos_utils.acquisition.deimos_batch`.
        Regression accepts only ``"diagonal"``.
    emb_labelled : (L, D), optional
        Embeddings of the labelled points (k-center).
    emb_candidates : (N, D), optional
        Embeddings of the candidates (k-center).
    n_candidates : int, optional
        N when no predictions or embeddings are given (random).
    """

    batch_size: int
    rng: np.random.Generator
    task: str
    cand_preds: ArrayLike | None = None
    extra_preds: ArrayLike | None = None
    noise: float = 0.0
    smoothing: str = DEFAULT_SMOOTHING
    emb_labelled: ArrayLike | None = None
    emb_candidates: ArrayLike | None = None
    n_candidates: int | None = None

    def num_candidates(self) -> int:
        """N, from ``n_candidates``, ``cand_preds`` or ``emb_candidates`` (which must agree)."""
        sizes = {}
        if self.n_candidates is not None:
            if isinstance(self.n_candidates, bool) or int(self.n_candidates) != self.n_candidates \
                    or self.n_candidates < 0:
                raise ValueError(f"n_candidates must be a non-negative integer, got {self.n_candidates!r}")
            sizes["n_candidates"] = int(self.n_candidates)
        for field in ("cand_preds", "emb_candidates"):
            value = getattr(self, field)
            if value is not None:
                shape = _shape(value)
                if not shape:
                    raise ValueError(f"ctx.{field} must be an array with points on axis 0, got a scalar")
                sizes[field] = shape[0]
        if not sizes:
            raise ValueError(
                "the number of candidates is unknown: give n_candidates, cand_preds or emb_candidates"
            )
        if len(set(sizes.values())) > 1:
            raise ValueError(f"the number of candidates disagrees between fields: {sizes}")
        return next(iter(sizes.values()))


def _shape(x) -> tuple:
    return tuple(x.shape) if hasattr(x, "shape") else np.shape(x)


#: need -> the context fields it fills (``"sample"`` may leave ``extra_preds`` None: a sample
#: can hold no labelled point)
_NEED_FIELDS = {
    "preds": ("cand_preds",),
    "sample": (),
    "embeddings": ("emb_labelled", "emb_candidates"),
}


@dataclass(frozen=True)
class Acquisition:
    """An acquisition method: ``method(ctx) -> (b,) int64 candidate indices in pick order``."""

    name: str
    needs: frozenset
    tasks: frozenset
    fn: Callable[[AcquisitionContext], np.ndarray]

    def __post_init__(self):
        unknown = set(self.needs) - set(_NEED_FIELDS)
        if unknown:
            raise ValueError(f"acquisition {self.name!r}: unknown needs {sorted(unknown)}; "
                             f"valid needs: {', '.join(_NEED_FIELDS)}")
        if "sample" in self.needs and "preds" not in self.needs:
            raise ValueError(f"acquisition {self.name!r}: the need 'sample' comes with 'preds'")

    def __call__(self, ctx: AcquisitionContext) -> np.ndarray:
        if not isinstance(ctx, AcquisitionContext):
            raise ValueError(f"{self.name} expects an AcquisitionContext, got {type(ctx).__name__}")
        if ctx.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {ctx.task!r}")
        if ctx.task not in self.tasks:
            raise ValueError(
                f"acquisition {self.name!r} does not support task {ctx.task!r} "
                f"(supports: {', '.join(sorted(self.tasks))})"
            )
        for need in sorted(self.needs):
            for field in _NEED_FIELDS[need]:
                if getattr(ctx, field) is None:
                    raise ValueError(f"acquisition {self.name!r} needs ctx.{field}, which is None")
        if not isinstance(ctx.rng, np.random.Generator):
            raise ValueError(f"ctx.rng must be a numpy Generator, got {type(ctx.rng).__name__}")
        ctx.num_candidates()  # the candidate count must agree between the fields given
        picked = np.asarray(self.fn(ctx), dtype=np.int64)
        return picked

    def __repr__(self) -> str:
        return (f"Acquisition({self.name!r}, needs={sorted(self.needs)}, "
                f"tasks={sorted(self.tasks)})")


def _check_preds_ndim(ctx: AcquisitionContext, field: str = "cand_preds") -> None:
    want = 2 if ctx.task == "regression" else 3
    shape = _shape(getattr(ctx, field))
    if len(shape) != want:
        layout = "(N, J)" if want == 2 else "(N, C, J)"
        raise ValueError(
            f"ctx.{field} must be {layout} for task {ctx.task!r}, got shape {shape}"
        )


def _random(ctx: AcquisitionContext) -> np.ndarray:
    n = ctx.num_candidates()
    b = check_batch_size(ctx.batch_size, n, "candidates")
    return ctx.rng.choice(n, b, replace=False)


def _max_variance(ctx: AcquisitionContext) -> np.ndarray:
    _check_preds_ndim(ctx)
    return top_k(variance_scores(ctx.cand_preds), ctx.batch_size)


def _max_entropy(ctx: AcquisitionContext) -> np.ndarray:
    _check_preds_ndim(ctx)
    return top_k(entropy_scores(ctx.cand_preds), ctx.batch_size)


def _bald(ctx: AcquisitionContext) -> np.ndarray:
    _check_preds_ndim(ctx)
    return top_k(bald_scores(ctx.cand_preds), ctx.batch_size)


def _batchbald(ctx: AcquisitionContext, num_samples: int = BATCHBALD_NUM_SAMPLES) -> np.ndarray:
    _check_preds_ndim(ctx)
    picked, _ = batchbald_batch(ctx.cand_preds, ctx.batch_size, num_samples=num_samples, rng=ctx.rng)
    return picked


def _kcenter(ctx: AcquisitionContext, outlier_fraction: float = KCENTER_OUTLIER_FRACTION) -> np.ndarray:
    return kcenter_batch(
        ctx.emb_labelled, ctx.emb_candidates, ctx.batch_size,
        outlier_fraction=outlier_fraction, rng=ctx.rng,
    )


def _concat_preds(cand, extra):
    if extra is None:
        return cand
    if isinstance(cand, torch.Tensor) or isinstance(extra, torch.Tensor):
        device = cand.device if isinstance(cand, torch.Tensor) else extra.device
        ct = torch.as_tensor(cand, device=device)
        et = torch.as_tensor(extra, device=device)
        dtype = torch.promote_types(ct.dtype, et.dtype)
        return torch.cat([ct.to(dtype), et.to(dtype)], dim=0)
    return np.concatenate([np.asarray(cand), np.asarray(extra)], axis=0)


def _deimos(ctx: AcquisitionContext) -> np.ndarray:
    from .deimos import deimos_batch  # imported at call time

    _check_preds_ndim(ctx)
    if ctx.extra_preds is not None:
        _check_preds_ndim(ctx, "extra_preds")
        e_shape, c_shape = _shape(ctx.extra_preds), _shape(ctx.cand_preds)
        if e_shape[1:] != c_shape[1:]:
            raise ValueError(
                f"ctx.extra_preds has shape {e_shape}, incompatible with ctx.cand_preds "
                f"{c_shape} (all axes but the first must match)"
            )
    noise = check_nonnegative(ctx.noise, "ctx.noise")
    n = _shape(ctx.cand_preds)[0]
    preds = _concat_preds(ctx.cand_preds, ctx.extra_preds)
    picked, _ = deimos_batch(preds, ctx.batch_size, candidates=np.arange(n), noise=noise,
                             smoothing=ctx.smoothing)
    if isinstance(picked, torch.Tensor):
        picked = picked.detach().cpu().numpy()
    return np.asarray(picked, dtype=np.int64)


_BOTH = frozenset(TASKS)
_CLS = frozenset({"classification"})
_REG = frozenset({"regression"})
_PREDS = frozenset({"preds"})
_PREDS_AND_SAMPLE = frozenset({"preds", "sample"})

ACQUISITIONS: dict[str, Acquisition] = {
    "deimos": Acquisition("deimos", _PREDS_AND_SAMPLE, _BOTH, _deimos),
    "random": Acquisition("random", frozenset(), _BOTH, _random),
    "max_variance": Acquisition("max_variance", _PREDS, _REG, _max_variance),
    "max_entropy": Acquisition("max_entropy", _PREDS, _CLS, _max_entropy),
    "bald": Acquisition("bald", _PREDS, _CLS, _bald),
}


def batchbald_acquisition(num_samples: int = BATCHBALD_NUM_SAMPLES) -> Acquisition:
    """BatchBALD with another ``num_samples`` (see :func:`batchbald_batch`)."""
    return Acquisition("batchbald", _PREDS, _CLS, partial(_batchbald, num_samples=num_samples))


def kcenter_acquisition(outlier_fraction: float = KCENTER_OUTLIER_FRACTION) -> Acquisition:
    """Robust k-center with another outlier budget (see :func:`kcenter_batch`)."""
    return Acquisition("kcenter", frozenset({"embeddings"}), _BOTH,
                       partial(_kcenter, outlier_fraction=outlier_fraction))


ACQUISITIONS["batchbald"] = batchbald_acquisition()
ACQUISITIONS["kcenter"] = kcenter_acquisition()


def get_acquisition(name: str) -> Acquisition:
    """The registered method ``name``; ValueError listing the valid names otherwise."""
    try:
        return ACQUISITIONS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown acquisition {name!r}; valid names: {', '.join(ACQUISITIONS)}"
        ) from None

"""Appendix E as functions: weight decay, the noise terms of V, and the quality of MC dropout.

* ``lambda = C / N`` (:func:`weight_decay`): weight decay that shrinks as the training set grows,
  so that the model precision tau stays constant over the active-learning iterations.
* Regression: ``tau^-1 = fraction * mean dropout variance`` of the initial model on the
  validation set, ``fraction`` in 0.1-0.2 (:func:`regression_noise`).
* Classification: ``tau_s^-1 = fraction * mean class dropout variance`` on the validation set,
  ``fraction`` in 0.001-0.01 (:func:`classification_smoothing`), a smoothing term only.
* The quality of the MC-dropout uncertainty (used to choose the dropout probability p):
  Pearson R^2 between the squared error of the MC-mean prediction and its predicted variance on
  the validation set (:func:`uncertainty_quality`).

Predictions follow :func:`~deimos_utils.uncertainty.mc_dropout.mc_predict`: ``(N, J)`` regression outputs
or ``(N, C, J)`` class probabilities, J fixed masks; variances are unbiased (divide by J - 1).
"""
from __future__ import annotations

import numpy as np

from .._checks import as_float_array, check_n_masks

__all__ = [
    "weight_decay",
    "mean_dropout_variance",
    "regression_noise",
    "classification_smoothing",
    "noise_from_validation",
    "uncertainty_quality",
    "REGRESSION_NOISE_RANGE",
    "CLASSIFICATION_SMOOTHING_RANGE",
    "DEFAULT_NOISE_FRACTION",
]

REGRESSION_NOISE_RANGE = (0.1, 0.2)
"""Appendix E: tau^-1 is 0.1-0.2 times the mean dropout variance (regression)."""
CLASSIFICATION_SMOOTHING_RANGE = (0.001, 0.01)
"""Appendix E: tau_s^-1 is 0.001-0.01 times the mean class dropout variance (classification)."""
DEFAULT_NOISE_FRACTION = {"regression": 0.15, "classification": 0.005}
"""The fraction used when none is given, per task (near the middle of each range above): the
default of :func:`regression_noise`, :func:`classification_smoothing`,
:func:`~deimos_utils.acquisition.select.select_batch`, the 1D experiment and its teaching view.
and of the active-learning loop when the config's ``noise_fraction`` is None (its default;
:class:`~deimos_utils.experiment.config.ExperimentConfig`)."""


def weight_decay(c: float, n: int) -> float:
    """``lambda = C / N`` for weight-decay hyperparameter ``c`` and ``n`` training points."""
    c = float(c)
    if not np.isfinite(c) or c < 0:
        raise ValueError(f"weight-decay hyperparameter C must be a finite number >= 0, got {c}")
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"the training-set size N must be an integer >= 1, got {n!r}")
    return c / int(n)


def _preds(preds, task: str | None) -> tuple[np.ndarray, str]:
    arr = as_float_array(preds, "preds", (2, 3))
    inferred = "regression" if arr.ndim == 2 else "classification"
    if task is not None and task != inferred:
        want = "(N, J)" if task == "regression" else "(N, C, J)"
        raise ValueError(f"task {task!r} needs preds of shape {want}, got {arr.shape}")
    if arr.shape[0] < 1:
        raise ValueError("preds holds no points")
    check_n_masks(arr.shape[-1])
    return arr, inferred


def mean_dropout_variance(preds, task: str | None = None) -> float:
    """Mean over points (and classes) of the unbiased variance over the J masks.

    ``preds``: ``(N, J)`` (regression) or ``(N, C, J)`` probabilities (classification; the
    mean runs over the N * C (point, class) pairs). ``task`` only checks the shape.
    """
    arr, _ = _preds(preds, task)
    return float(arr.var(axis=-1, ddof=1).mean())


_RANGE = {"regression": (REGRESSION_NOISE_RANGE, "regression noise"),
          "classification": (CLASSIFICATION_SMOOTHING_RANGE, "classification smoothing")}


def _fraction(fraction: float | None, task: str, strict: bool) -> float:
    """``fraction`` checked (default :data:`DEFAULT_NOISE_FRACTION` of ``task``)."""
    allowed, what = _RANGE[task]
    fraction = float(DEFAULT_NOISE_FRACTION[task] if fraction is None else fraction)
    if not np.isfinite(fraction) or fraction < 0:
        raise ValueError(f"{what} fraction must be a finite number >= 0, got {fraction}")
    if strict and not allowed[0] <= fraction <= allowed[1]:
        raise ValueError(
            f"{what} fraction {fraction} lies outside Appendix E's range "
            f"[{allowed[0]}, {allowed[1]}] (pass strict=False to allow it)"
        )
    return fraction


def regression_noise(preds_val, fraction: float | None = None, *, strict: bool = False) -> float:
    """``tau^-1 = fraction * mean dropout variance`` of ``preds_val`` ``(N, J)`` (regression).

    ``fraction`` default: :data:`DEFAULT_NOISE_FRACTION`. With ``strict=True`` a fraction
    outside Appendix E's 0.1-0.2 raises ValueError.
    """
    return _fraction(fraction, "regression", strict) * mean_dropout_variance(preds_val, "regression")


def classification_smoothing(probs_val, fraction: float | None = None, *, strict: bool = False) -> float:
    """``tau_s^-1 = fraction * mean class dropout variance`` of ``probs_val`` ``(N, C, J)``.

    ``fraction`` default: :data:`DEFAULT_NOISE_FRACTION`. With ``strict=True`` a fraction
    outside Appendix E's 0.001-0.01 raises ValueError.
    """
    return _fraction(fraction, "classification", strict) * mean_dropout_variance(probs_val, "classification")


def noise_from_validation(preds_val, task: str, fraction: float) -> float:
    """:func:`regression_noise` or :func:`classification_smoothing`, by ``task``."""
    if task == "regression":
        return regression_noise(preds_val, fraction)
    if task == "classification":
        return classification_smoothing(preds_val, fraction)
    raise ValueError(f"task must be 'classification' or 'regression', got {task!r}")


def uncertainty_quality(preds_val, y_val, task: str | None = None) -> float:
    """Pearson R^2 between squared error and predicted dropout variance on validation points.

    Regression: error ``(mean_j y_ij - y_i)^2`` against ``var_j y_ij``. Classification (labels
    ``y_val`` in 0..C-1): the Brier error ``sum_c (mean_j p_icj - [y_i = c])^2`` against the
    summed class variance ``sum_c var_j p_icj``. Returns NaN when either quantity is constant
    (or fewer than 2 points): the correlation is undefined.
    """
    arr, task = _preds(preds_val, task)
    y = np.asarray(y_val)
    if y.ndim != 1 or y.shape[0] != arr.shape[0]:
        raise ValueError(f"y_val must have shape ({arr.shape[0]},), got {y.shape}")
    mean = arr.mean(axis=-1)
    var = arr.var(axis=-1, ddof=1)
    if task == "regression":
        err = (mean - y.astype(np.float64)) ** 2
    else:
        n_classes = arr.shape[1]
        labels = y.astype(np.int64)
        if not np.array_equal(labels, y) or labels.min() < 0 or labels.max() >= n_classes:
            raise ValueError(f"y_val must hold integer class labels in [0, {n_classes})")
        onehot = np.eye(n_classes)[labels]
        err = ((mean - onehot) ** 2).sum(axis=1)
        var = var.sum(axis=1)
    if err.size < 2 or np.ptp(err) == 0 or np.ptp(var) == 0:
        return float("nan")
    r = np.corrcoef(err, var)[0, 1]
    return float(r * r)

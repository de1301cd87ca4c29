"""Appendix C: the likelihood-ratio test between linear mixed models of two methods' curves.

:func:`lmm_lrt` fits a random intercept per acquisition iteration and a fixed effect of the
method, with and without that effect, on a tidy results table
(:mod:`deimos_utils.analysis.results`); :class:`LRTResult` holds the outcome, with the
p-value as log10 (:func:`chi2_log10_sf`) so that tiny ones stay finite. Tables 1 and 2 are
in :mod:`deimos_utils.analysis.thresholds`, batch diversity in
:mod:`deimos_utils.analysis.diversity`.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special, stats

from .results import check_methods, check_metric_values, check_results, higher_is_better_for

__all__ = [
    "LRTResult",
    "lmm_lrt",
    "chi2_log10_sf",
]

#: Optimizers tried in turn when a mixed-model fit does not converge. ``None`` is statsmodels'
#: default (which itself runs bfgs, then lbfgs, then cg); the derivative-free ones come next.
FALLBACK_OPTIMIZERS: tuple = (None, "powell", "nm")

_LOG10_TINY = math.log10(np.finfo(np.float64).tiny)

# Warning categories passed through untouched rather than reported as fitting problems.
_PASS_THROUGH = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)

# ----------------------------------------------------------------------------------------------
# Likelihood-ratio test between linear mixed models (Appendix C)
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LRTResult:
    """Outcome of :func:`lmm_lrt`.

    Attributes
    ----------
    method_a, method_b, metric
        What was compared.
    statistic
        ``2 (llf_alt - llf_null)``, clipped at 0.
    df
        Degrees of freedom of the chi-square reference (1 for a pair of methods).
    p_value
        Chi-square survival function at ``statistic``. Tiny p-values stay positive down to
        the smallest normal float (~2.2e-308); below that it is 0.0 and ``log10_p_value``
        carries the number.
    log10_p_value
        ``log10(p_value)`` computed in log space: always finite.
    effect
        Fixed effect of ``method_b`` relative to ``method_a``, in metric units
        (mean of b minus mean of a, adjusted for the iteration effect).
    better
        The better method's name given the metric's direction; ``None`` when ``effect`` is
        exactly 0.
    n_rows
        Rows of the two methods used in both fits.
    converged
        Whether both fits converged.
    warnings
        Messages about the fits (statsmodels warnings, optimizer fallbacks); empty when clean.
    """

    method_a: object
    method_b: object
    metric: str
    statistic: float
    df: int
    p_value: float
    log10_p_value: float
    effect: float
    better: object
    n_rows: int
    converged: bool
    warnings: tuple = ()


def chi2_log10_sf(statistic: float, df: int) -> float:
    """``log10`` of the chi-square survival function, finite even where the p-value underflows.

    Uses ``scipy.stats.chi2.logsf``; where that underflows to ``-inf`` (statistic beyond
    ~1,400 for df = 1) it switches to an exact expression for df = 1,
    ``sf(x) = 2 Phi(-sqrt(x))`` via ``scipy.special.log_ndtr``, and for df > 1 to
    ``log`` of the regularised upper incomplete gamma function's leading asymptotic term.
    """
    x = float(statistic)
    if not math.isfinite(x):
        raise ValueError(f"statistic must be finite, got {statistic}")
    logsf = float(stats.chi2.logsf(max(x, 0.0), df))
    if not math.isfinite(logsf):
        if df == 1:
            logsf = math.log(2.0) + float(special.log_ndtr(-math.sqrt(x)))
        else:
            # Q(a, z) ~ z^(a-1) e^-z / Gamma(a) for z >> a, with a = df / 2 and z = x / 2.
            a, z = df / 2.0, x / 2.0
            logsf = (a - 1.0) * math.log(z) - z - math.lgamma(a)
    return logsf / math.log(10.0)


def _fit_mixedlm(formula: str, data: pd.DataFrame, group: str, method, reml: bool):
    """One statsmodels MixedLM fit (random intercept per ``group``); returns the results."""
    import statsmodels.formula.api as smf

    model = smf.mixedlm(formula, data, groups=data[group])
    return model.fit(reml=reml, method=method)


def _fit_with_fallbacks(formula: str, data: pd.DataFrame, group: str, reml: bool, label: str):
    """Fit, trying :data:`FALLBACK_OPTIMIZERS` in turn until one converges.

    Returns ``(result, converged, messages, passed_through)``: the first converged fit (or,
    when none converges, the one with the highest finite log-likelihood), the messages of
    the warnings raised by the fit that was kept plus a note per failed optimizer, and the
    deprecation-type warnings to re-emit unchanged.
    """
    attempts = []  # (result or None, converged, messages, passed, optimizer name)
    notes = []
    for optimizer in FALLBACK_OPTIMIZERS:
        name = "default" if optimizer is None else optimizer
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                res = _fit_mixedlm(formula, data, group, optimizer, reml)
                llf = float(res.llf)  # computed lazily: evaluate while warnings are caught
                error = None
            except (np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError) as err:
                res, error = None, err
        passed = [w for w in caught if issubclass(w.category, _PASS_THROUGH)]
        messages = []
        for w in caught:
            if issubclass(w.category, _PASS_THROUGH):
                continue
            msg = f"{label} ({name} optimizer): {w.category.__name__}: {w.message}"
            if msg not in messages:
                messages.append(msg)
        if error is not None:
            notes.append(f"{label}: {name} optimizer raised {type(error).__name__}: {error}")
            attempts.append((None, False, messages, passed, name))
            continue
        ok = bool(getattr(res, "converged", False)) and math.isfinite(llf)
        attempts.append((res, ok, messages, passed, name))
        if ok:
            break
        notes.append(f"{label}: {name} optimizer did not converge")
    usable = [a for a in attempts if a[0] is not None and math.isfinite(float(a[0].llf))]
    if not usable:
        raise RuntimeError(
            f"every optimizer failed to fit the {label}: " + "; ".join(notes + attempts[-1][2])
        )
    converged_fits = [a for a in usable if a[1]]
    kept = converged_fits[0] if converged_fits else max(usable, key=lambda a: float(a[0].llf))
    res, ok, messages, passed, name = kept
    if not ok:
        notes.append(f"{label}: no optimizer converged; kept the {name} fit (highest likelihood)")
    elif name != "default":
        notes.append(f"{label}: used the {name} optimizer")
    return res, ok, notes + messages, passed


def _model_data(table: pd.DataFrame, method_a, method_b, metric: str, group: str) -> tuple[pd.DataFrame, float]:
    """``(data, sd)``: the two methods' rows as columns ``y`` (the metric standardised: mean 0,
    sd 1), ``is_b`` (1 for ``method_b``, 0 for ``method_a``) and ``grp``; ``sd`` the metric's sd.
    Raises ValueError for NaN values, missing groups, fewer than two groups, a constant metric."""
    rows = table[table["method"].isin([method_a, method_b])]
    y = check_metric_values(rows[metric], metric)
    n_groups = rows[group].nunique(dropna=True)
    if rows[group].isna().any():
        raise ValueError(f"group column {group!r} holds missing values in the rows used")
    if n_groups < 2:
        raise ValueError(
            f"the two methods' rows span {n_groups} distinct {group!r} value(s); "
            "the mixed model needs at least two iterations"
        )
    sd = float(np.std(y))
    if not sd > 0:
        raise ValueError(
            f"metric {metric!r} is constant over the rows of {method_a!r} and {method_b!r}; "
            "there is nothing to test"
        )
    centre = float(np.mean(y))
    data = pd.DataFrame(
        {
            "y": (y - centre) / sd,
            # b coded 1 and a 0: the coefficient is b minus a.
            "is_b": (rows["method"].to_numpy() == method_b).astype(np.float64),
            "grp": rows[group].to_numpy(),
        }
    )
    return data, sd


def lmm_lrt(
    results: pd.DataFrame,
    method_a,
    method_b,
    metric: str,
    *,
    group: str = "iteration",
    reml: bool = False,
    higher_is_better: bool | None = None,
    experiment=None,
) -> LRTResult:
    """Likelihood-ratio test for a difference between two methods (Appendix C).

    On the rows of the two methods, fits by maximum likelihood (statsmodels ``MixedLM``)

    - null: ``metric ~ 1`` with a random intercept per ``group`` (the acquisition iteration),
    - alternative: ``metric ~ 1 + C(method)`` with the same random intercept,

    and refers ``2 (llf_alt - llf_null)`` (clipped at 0) to a chi-square with 1 degree of
    freedom. The random intercept absorbs the learning curve: rows of the same iteration
    share it whatever the method and seed.

    The metric is standardised (mean 0, sd 1 over the rows used) before fitting; this leaves
    the likelihood ratio unchanged, keeps the optimizer and statsmodels' absolute
    boundary check (variance < 0.01) on a sensible scale, and ``effect`` is converted back
    to metric units.

    Each fit tries statsmodels' default optimizer, then Powell, then Nelder-Mead
    (:data:`FALLBACK_OPTIMIZERS`) until one converges. Warnings raised during the kept fits
    (non-convergence, parameters on the boundary, singular Hessians) are caught, listed in
    ``LRTResult.warnings`` and re-emitted together as a single ``RuntimeWarning``.

    Parameters
    ----------
    results : DataFrame
        Tidy results with columns ``method``, ``group`` and ``metric``.
    method_a, method_b
        The two methods; ``effect`` is b minus a.
    metric : str
        Metric column.
    group : str
        Column of the random intercept (default the acquisition ``iteration``).
    reml : bool
        Must be False: REML likelihoods of models with different fixed effects are not
        comparable, so a likelihood-ratio test needs ML. Kept as an argument to make the
        choice explicit; ``True`` raises ``ValueError``.
    higher_is_better : bool, optional
        Direction of the metric; default read from its name (:func:`higher_is_better_for`).
    experiment : optional
        Which experiment's rows to use when the table holds several.

    Returns
    -------
    LRTResult

    Raises
    ------
    ValueError
        Missing columns, unknown methods (the message lists those present), the same method
        twice, fewer than two distinct ``group`` values, NaN in the metric, a metric with no
        variation, or ``reml=True``.
    RuntimeError
        When no optimizer produced a fit with a finite likelihood.
    """
    if reml:
        raise ValueError(
            "reml=True: REML likelihoods of models with different fixed effects are not "
            "comparable; the likelihood-ratio test needs maximum likelihood (reml=False)"
        )
    if method_a == method_b:
        raise ValueError(f"method_a and method_b are the same method {method_a!r}")
    table = check_results(results, metric, ["method", group], experiment)
    check_methods(table, [method_a, method_b])
    if higher_is_better is None:
        higher_is_better = higher_is_better_for(metric)

    data, sd = _model_data(table, method_a, method_b, metric, group)

    null, ok_null, msg_null, pass_null = _fit_with_fallbacks("y ~ 1", data, "grp", False, "null model")
    alt, ok_alt, msg_alt, pass_alt = _fit_with_fallbacks(
        "y ~ 1 + is_b", data, "grp", False, "alternative model"
    )
    messages = msg_null + msg_alt
    raw = 2.0 * (float(alt.llf) - float(null.llf))
    if raw < -1e-6:
        messages.append(
            f"the alternative model's log-likelihood is below the null's by {-raw / 2:.3g}; "
            "an optimizer stopped early (statistic clipped at 0)"
        )
    statistic = max(raw, 0.0)
    df = 1
    log10_p = chi2_log10_sf(statistic, df)
    # Below the smallest normal float (~2.2e-308) report 0.0; log10_p_value keeps the number.
    p_value = float(10.0**log10_p) if log10_p >= _LOG10_TINY else 0.0

    effect = float(alt.fe_params["is_b"]) * sd
    if effect == 0:
        better = None
    else:
        better = method_b if (effect > 0) == bool(higher_is_better) else method_a

    for w in pass_null + pass_alt:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    messages = tuple(dict.fromkeys(messages))
    if messages:
        warnings.warn(
            f"lmm_lrt({method_a!r} vs {method_b!r}, {metric!r}): mixed-model fit reported "
            f"{len(messages)} problem(s):\n  " + "\n  ".join(messages),
            RuntimeWarning,
            stacklevel=2,
        )
    return LRTResult(
        method_a=method_a,
        method_b=method_b,
        metric=metric,
        statistic=float(statistic),
        df=df,
        p_value=p_value,
        log10_p_value=float(log10_p),
        effect=effect,
        better=better,
        n_rows=int(len(data)),
        converged=bool(ok_null and ok_alt),
        warnings=messages,
    )

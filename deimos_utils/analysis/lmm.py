"""Statistics on active-learning results: mixed-model tests, data efficiency, batch diversity.

Results tables are pandas DataFrames in tidy form, one row per
(experiment, method, seed, iteration), with at least the columns ``method``, ``seed``,
``iteration``, ``n_acquired`` (points acquired so far, the initial set not counted) and a
metric column (``test_accuracy``, ``test_mse``, ``test_rmse``, ...). When the table holds
an ``experiment`` column with more than one experiment, pass ``experiment=`` to pick one.

- :func:`lmm_lrt`: the likelihood-ratio test between linear mixed models of Appendix C
  (random intercept per acquisition iteration; fixed effect of the method).
- :func:`acquisitions_to_threshold` and :func:`format_threshold_table`: Tables 1 and 2
  (acquisitions needed for the mean curve to reach a test-performance threshold).
- :func:`batch_diversity`: mean pairwise symmetric KL divergence of a queried batch (Fig 3d, e).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from .._checks import as_float_array

__all__ = [
    "LRTResult",
    "lmm_lrt",
    "chi2_log10_sf",
    "higher_is_better_for",
    "acquisitions_to_threshold",
    "format_threshold_table",
    "NOT_REACHED",
    "batch_diversity",
    "DIVERSITY_EPS",
]

#: Text shown by :func:`format_threshold_table` for a threshold a method never reached.
NOT_REACHED = "not reached"

#: Probabilities are clipped to at least this value before taking logs in :func:`batch_diversity`.
DIVERSITY_EPS = 1e-12

#: Optimizers tried in turn when a mixed-model fit does not converge. ``None`` is statsmodels'
#: default (which itself runs bfgs, then lbfgs, then cg); the derivative-free ones come next.
FALLBACK_OPTIMIZERS: tuple = (None, "powell", "nm")

_LOG10_TINY = math.log10(np.finfo(np.float64).tiny)

# Warning categories passed through untouched rather than reported as fitting problems.
_PASS_THROUGH = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)

_HIGHER_WORDS = ("accuracy", "acc", "auc", "r2", "f1", "precision", "recall", "pearson", "spearman")
_LOWER_WORDS = ("mse", "rmse", "mae", "loss", "error", "nll", "ece", "brier")


# ----------------------------------------------------------------------------------------------
# Input checks
# ----------------------------------------------------------------------------------------------
def higher_is_better_for(metric: str) -> bool:
    """Whether larger values of ``metric`` are better, read from its name.

    Accuracy-like names (``accuracy``, ``auc``, ``r2``, ...) -> True; error-like names
    (``mse``, ``rmse``, ``mae``, ``loss``, ``error``, ...) -> False. The name is split on
    ``_``, ``-``, ``.`` and spaces and matched word by word. Raises ``ValueError`` when no
    word (or words of both kinds) matches: pass ``higher_is_better`` explicitly then.
    """
    words = {w for w in str(metric).lower().replace("-", "_").replace(".", "_").replace(" ", "_").split("_") if w}
    higher = bool(words & set(_HIGHER_WORDS))
    lower = bool(words & set(_LOWER_WORDS))
    if higher == lower:
        raise ValueError(
            f"cannot tell from the metric name {metric!r} whether higher is better; "
            "pass higher_is_better=True or False"
        )
    return higher


def _check_table(results, metric: str, required: Sequence[str], experiment) -> pd.DataFrame:
    """The rows of one experiment, after checking the columns. Does not copy more than needed."""
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    needed = list(dict.fromkeys([*required, metric]))
    missing = [c for c in needed if c not in results.columns]
    if missing:
        raise ValueError(
            f"results lacks the column(s) {missing}; columns present: {list(results.columns)}"
        )
    if "experiment" in results.columns:
        present = list(pd.unique(results["experiment"]))
        if experiment is None:
            if len(present) > 1:
                raise ValueError(
                    f"results holds several experiments {present}; pass experiment= to pick one"
                )
        else:
            if experiment not in present:
                raise ValueError(
                    f"experiment {experiment!r} is not in results; experiments present: {present}"
                )
            results = results[results["experiment"] == experiment]
    elif experiment is not None:
        raise ValueError(
            f"experiment={experiment!r} was given but results has no 'experiment' column; "
            f"columns present: {list(results.columns)}"
        )
    if len(results) == 0:
        raise ValueError("results has no rows")
    return results


def _check_methods(results: pd.DataFrame, methods: Iterable) -> None:
    present = list(pd.unique(results["method"]))
    for m in methods:
        if m not in present:
            raise ValueError(f"method {m!r} is not in results; methods present: {present}")


def _check_metric_values(values: pd.Series, metric: str) -> np.ndarray:
    try:
        y = pd.to_numeric(values, errors="raise").to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"metric column {metric!r} must be numeric: {err}") from None
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(
            f"metric column {metric!r} holds {int(bad.sum())} NaN or infinite values "
            f"in the rows used; drop or fill them first"
        )
    return y


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
    table = _check_table(results, metric, ["method", group], experiment)
    _check_methods(table, [method_a, method_b])
    if higher_is_better is None:
        higher_is_better = higher_is_better_for(metric)

    rows = table[table["method"].isin([method_a, method_b])]
    y = _check_metric_values(rows[metric], metric)
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


# ----------------------------------------------------------------------------------------------
# Acquisitions needed to reach a threshold (Tables 1 and 2)
# ----------------------------------------------------------------------------------------------
def acquisitions_to_threshold(
    results: pd.DataFrame,
    metric: str,
    thresholds: Sequence[float],
    higher_is_better: bool | None = None,
    *,
    methods: Sequence | None = None,
    experiment=None,
) -> pd.DataFrame:
    """Acquisitions each method needs for its mean curve to reach each threshold.

    Per method, the curve is the mean of ``metric`` over the repeats (seeds) at each
    ``n_acquired`` (the mean of the rows present there). The entry for a threshold is the
    smallest ``n_acquired`` at which that mean is ``>= threshold`` (higher is better) or
    ``<= threshold`` (lower is better).

    Parameters
    ----------
    results : DataFrame
        Tidy results with columns ``method``, ``n_acquired`` and ``metric``.
    metric : str
        Metric column.
    thresholds : sequence of float
        Thresholds, in the order of the rows of the output.
    higher_is_better : bool, optional
        Default read from the metric's name (:func:`higher_is_better_for`).
    methods : sequence, optional
        Methods (columns) to report, in this order; default all, in order of appearance.
    experiment : optional
        Which experiment's rows to use when the table holds several.

    Returns
    -------
    DataFrame
        Indexed by threshold (index name ``"threshold"``), one column per method, nullable
        ``Int64`` dtype; ``pd.NA`` where the mean curve never reaches the threshold (render
        it with :func:`format_threshold_table`).
    """
    table = _check_table(results, metric, ["method", "n_acquired"], experiment)
    if methods is None:
        methods = list(pd.unique(table["method"]))
    else:
        methods = list(methods)
        _check_methods(table, methods)
        table = table[table["method"].isin(methods)]
    if higher_is_better is None:
        higher_is_better = higher_is_better_for(metric)
    thr = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if thr.ndim != 1 or thr.size == 0:
        raise ValueError(f"thresholds must be a non-empty 1-D sequence, got {thresholds!r}")
    if not np.all(np.isfinite(thr)):
        raise ValueError(f"thresholds must be finite, got {thresholds!r}")
    _check_metric_values(table[metric], metric)
    if table["n_acquired"].isna().any():
        raise ValueError("column 'n_acquired' holds missing values")

    curves = table.groupby(["method", "n_acquired"], sort=True)[metric].mean()
    out = pd.DataFrame(index=pd.Index(thr, name="threshold"))
    for m in methods:
        curve = curves.loc[m]
        n = curve.index.to_numpy()
        v = curve.to_numpy(dtype=np.float64)
        reached = v[None, :] >= thr[:, None] if higher_is_better else v[None, :] <= thr[:, None]
        first = reached.argmax(axis=1)
        col = pd.array([int(n[i]) if reached[k, i] else pd.NA for k, i in enumerate(first)], dtype="Int64")
        out[m] = col
    out.columns.name = "method"
    return out


def _cell_text(value) -> str | None:
    """Text for one cell: the integer, ``NOT_REACHED``, or None for a missing entry."""
    if isinstance(value, str):
        return value
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if float(value) == int(value):
        return str(int(value))
    return str(value)


def format_threshold_table(table: pd.DataFrame, paper=None) -> pd.DataFrame:
    """Render a table from :func:`acquisitions_to_threshold` as text.

    Each cell is the number of acquisitions, or ``"not reached"``. With ``paper`` (a
    DataFrame indexed by threshold with one column per method, or a mapping
    ``{method: [values in the order of the thresholds]}`` or ``{method: {threshold: value}}``),
    cells read ``"ours (paper)"``, e.g. ``"72 (69)"``; a paper cell that is missing (NaN/None,
    or a method or threshold the paper does not list) leaves ours alone, and a paper cell
    that the paper marks as never reached should be given as the string ``"not reached"``.
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    if paper is not None:
        if isinstance(paper, Mapping) and not isinstance(paper, pd.DataFrame):
            cols = {}
            for m, vals in paper.items():
                if isinstance(vals, Mapping):
                    cols[m] = pd.Series(vals, dtype=object)
                else:
                    vals = list(vals)
                    if len(vals) != len(table.index):
                        raise ValueError(
                            f"paper[{m!r}] has {len(vals)} values but the table has "
                            f"{len(table.index)} thresholds"
                        )
                    cols[m] = pd.Series(vals, index=table.index, dtype=object)
            paper = pd.DataFrame(cols)
        elif not isinstance(paper, pd.DataFrame):
            raise ValueError(
                f"paper must be a DataFrame or a mapping of method -> values, got {type(paper).__name__}"
            )
        paper = paper.astype(object).reindex(index=table.index, columns=table.columns)
    out = pd.DataFrame(index=table.index, columns=table.columns, dtype=object)
    for m in table.columns:
        for t in table.index:
            ours = _cell_text(table.at[t, m])
            text = NOT_REACHED if ours is None else ours
            if paper is not None:
                theirs = _cell_text(paper.at[t, m])
                if theirs is not None:
                    text = f"{text} ({theirs})"
            out.at[t, m] = text
    return out


# ----------------------------------------------------------------------------------------------
# Batch diversity (Fig 3d, e)
# ----------------------------------------------------------------------------------------------
def batch_diversity(probs_of_batch, eps: float = DIVERSITY_EPS) -> float:
    """Mean symmetric KL divergence between the predicted class distributions of a batch.

    ``mean over pairs i < j of KL(p_i || p_j) + KL(p_j || p_i)
    = sum_c (p_ic - p_jc) (log p_ic - log p_jc)``, in nats.

    Parameters
    ----------
    probs_of_batch : array (b, C), numpy or torch
        Class probabilities of the b points of one queried batch; rows must be
        non-negative and sum to 1 (within 1e-3).
    eps : float
        Probabilities are clipped to ``[eps, 1]`` inside the logs only (the weights stay
        unclipped), so a zero probability contributes a finite ``log(eps)`` term instead of
        an infinite one. Default 1e-12.

    Returns
    -------
    float
        The mean over the ``b (b - 1) / 2`` unordered pairs; NaN when ``b < 2`` (no pair).
    """
    p = as_float_array(probs_of_batch, "probs_of_batch", (2,))
    if p.shape[1] < 1:
        raise ValueError(f"probs_of_batch needs at least one class column, got shape {p.shape}")
    if np.any(p < 0):
        raise ValueError("probs_of_batch holds negative probabilities")
    sums = p.sum(axis=1)
    if p.shape[0] and not np.allclose(sums, 1.0, atol=1e-3):
        worst = float(sums[np.argmax(np.abs(sums - 1.0))])
        raise ValueError(f"rows of probs_of_batch must sum to 1, found a row summing to {worst}")
    if not (0 < eps < 1):
        raise ValueError(f"eps must lie in (0, 1), got {eps}")
    b = p.shape[0]
    if b < 2:
        return float("nan")
    logp = np.log(np.clip(p, eps, 1.0))
    # (b, b) matrix of symmetric KL: sum_c (p_i - p_j)(log p_i - log p_j); exactly 0 for equal rows.
    sym = np.einsum("ijc,ijc->ij", p[:, None, :] - p[None, :, :], logp[:, None, :] - logp[None, :, :])
    iu = np.triu_indices(b, k=1)
    return float(sym[iu].mean())

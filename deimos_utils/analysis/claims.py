"""A verdict per claim of the paper: the paper's number, the authors' arrays', ours.

Each claim is tested the same way on the authors' arrays and on our results, by rules fixed
here before any result was read:

* an *ordering* (Tables 1 and 2, Fig 3a/b): DEIMOS's mean curve reaches every threshold (or,
  for Fig 3a/b, ends: the mean over seeds at the last acquisition every run reached) no later
  (no worse) than each baseline's;
* a *significance* claim (Table 2's p-values, Fig 2, Fig 3a/b): the LMM of Appendix C gives
  p < 0.05 with DEIMOS better; the seed-level permutation test over per-seed AUCs
  (:mod:`~deimos_utils.analysis.seed_tests`) is shown beside it, since with 3 seeds it cannot go below
  0.25;
* Fig 3d, e: DEIMOS's batches are more diverse than BatchBALD's and max entropy's in most
  iterations (mean symmetric KL per batch, averaged over seeds);
* Fig 3f: no two representative-sample sizes differ (every pairwise LMM p >= 0.05);
* Appendix A: every greedy / optimal ratio is above 0.97.

Verdicts: "reproduced", "not reproduced", or "not testable here" with the reason (e.g. the
real A5SS files are absent; a run is not finished).
"""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from . import paper
from ..acquisition.labels import method_label
from .seed_tests import paired_auc_test
from .lmm import lmm_lrt
from .mnist_tables import diversity_wins, sample_size_tests
from .thresholds import acquisitions_to_threshold

__all__ = ["ALPHA", "claims_table", "collect", "finished_runs", "finished_sample_size_runs"]

ALPHA = 0.05
REFERENCE = "deimos"


def _fmt_p(p: float) -> str:
    return "-" if p is None or not np.isfinite(p) else (f"{p:.1e}" if p < 0.01 else f"{p:.2f}")


def _thresholds(df: pd.DataFrame, metric: str, thresholds) -> pd.DataFrame:
    return acquisitions_to_threshold(df, metric, thresholds)


def _ordering(table: pd.DataFrame) -> tuple[bool, str]:
    """DEIMOS first (or tied) at every threshold DEIMOS reaches, and reaches all others reach."""
    beaten = []
    for thr, row in table.iterrows():
        ours = row.get(REFERENCE)
        for m, v in row.items():
            if m == REFERENCE or pd.isna(v):
                continue
            if pd.isna(ours) or v < ours:
                beaten.append(f"{m} at {thr:g}")
    return (not beaten), ("first or tied everywhere" if not beaten else "earlier: " + ", ".join(beaten))


def _cells(table: pd.DataFrame) -> str:
    return "; ".join(f"{m} " + "/".join("-" if pd.isna(v) else str(int(v)) for v in table[m])
                     for m in table.columns)


def _lmm(df: pd.DataFrame, other: str, metric: str) -> tuple[float, float]:
    """(p, effect of DEIMOS minus ``other`` in metric units) over the common range."""
    limit = df[df.method.isin([REFERENCE, other])].groupby(["method", "seed"]).n_acquired.max().min()
    sub = df[df.method.isin([REFERENCE, other]) & (df.n_acquired <= limit)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = lmm_lrt(sub, other, REFERENCE, metric)
    return float(res.p_value), float(res.effect)


def _better(effect: float, metric: str) -> bool:
    return effect > 0 if metric == "test_accuracy" else effect < 0


def _significance_cell(df: pd.DataFrame | None, other: str, metric: str) -> tuple[str, bool | None]:
    if df is None or not {REFERENCE, other} <= set(df.method):
        return "-", None
    p, effect = _lmm(df, other, metric)
    seed = paired_auc_test(df, other, REFERENCE, metric)
    ok = p < ALPHA and _better(effect, metric)
    side = "DEIMOS better" if _better(effect, metric) else "DEIMOS worse"
    return f"LMM p {_fmt_p(p)} ({side}); seeds p {_fmt_p(seed['p_permutation'])}", ok


def _status(ours: pd.DataFrame | None, expected_seeds: int = 3) -> str | None:
    """Why our results cannot be judged yet (None when they can)."""
    if ours is None or ours.empty:
        return "our runs are not there yet"
    runs = ours.groupby("method").seed.nunique()
    if runs.min() < expected_seeds:
        return f"our runs are not finished ({int(runs.min())} of {expected_seeds} seeds for some method)"
    return None


def _verdict(ok: bool | None, why_not: str | None) -> str:
    if why_not or ok is None:
        return "not testable here"
    return "reproduced" if ok else "not reproduced"


def _threshold_claims(ours: dict, authors: dict, simulated_splicing: bool) -> list:
    """Tables 1 and 2: thresholds and orderings.
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []
    for exp, spec, metric, label, limit in (
            ("splicing", paper.TABLE1_SPLICING_MSE, "test_mse", "Table 1 (splicing): DEIMOS needs the fewest acquisitions", None),
            ("mnist_7v9_b1", paper.TABLE2_MNIST_7V9_ACCURACY, "test_accuracy", "Table 2 (MNIST 7 vs 9, b = 1): DEIMOS reaches each accuracy first", 200)):
        thr = spec["thresholds"]
        paper_text = "; ".join(f"{m} " + "/".join(map(str, spec[m])) for m in spec if m != "thresholds")
        theirs = authors.get(exp)
        if theirs is not None and exp == "splicing":  # Table 1's rule: 600 entries, 750 for max variance
            theirs = theirs[theirs.iteration < np.where(theirs.method == "max_variance", 750, 600)]
        theirs_text = _cells(_thresholds(theirs, metric, thr)) if theirs is not None else "-"
        df = ours.get(exp)
        why = _status(df)
        if exp == "splicing" and simulated_splicing:
            why = "the real A5SS files are absent: ours run on the simulated library"
        ours_text, ok = "-", None
        if df is not None and not df.empty:
            table = _thresholds(df if limit is None else df[df.n_acquired <= limit], metric, thr)
            ours_text = _cells(table)
            ok, detail = _ordering(table)
            ours_text += f" ({detail})"
        claims.append((label, paper_text, theirs_text, ours_text, _verdict(ok, why), why or ""))
    return claims


def _final_means(df: pd.DataFrame, metric: str) -> tuple[pd.Series, int]:
    """Each method's mean over seeds of ``metric`` at the last acquisition count every run
    reached, and that count."""
    limit = int(df.groupby(["method", "seed"]).n_acquired.max().min())
    return df[df.n_acquired == limit].groupby("method")[metric].mean(), limit


def _end_ordering_cell(df: pd.DataFrame, metric: str) -> tuple[str, bool]:
    """The methods' final means, best first, and whether DEIMOS's is no worse than any other."""
    means, limit = _final_means(df, metric)
    higher = metric == "test_accuracy"
    means = means.sort_values(ascending=not higher)
    ok = bool(all((means[REFERENCE] >= v) if higher else (means[REFERENCE] <= v) for v in means))
    return f"at {limit:,} acquired: " + ", ".join(f"{m} {v:.4f}" for m, v in means.items()), ok


def _end_ordering_claims(ours: dict, authors: dict) -> list:
    """Fig 3a/b orderings: DEIMOS's mean curve ends no worse than each baseline's.
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []
    for exp, theirs_exp, label in (("mnist_7v9_b25", "mnist_7v9_b25", "Fig 3a (MNIST 7 vs 9, b = 25)"),
                                   ("mnist_0to9_b25", "mnist_0to9_b100", "Fig 3b (MNIST 0-9, b = 25)")):
        theirs = authors.get(theirs_exp)
        theirs_text = "-" if theirs is None else _end_ordering_cell(theirs, "test_accuracy")[0]
        if theirs is not None and theirs_exp != exp:
            theirs_text += " (their arrays: b = 100)"
        df = ours.get(exp)
        why = _status(df)
        ours_text, ok = _end_ordering_cell(df, "test_accuracy") if why is None else ("-", None)
        claims.append((f"{label}: DEIMOS's mean curve ends no worse than each baseline's",
                       "DEIMOS on top or level (figure)", theirs_text, ours_text, _verdict(ok, why), why or ""))
    return claims


def _p_value_claims(ours: dict, authors: dict) -> list:
    """p-values: Table 2, Fig 2, Fig 3a/b.
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []
    for exp, metric, label in (("mnist_7v9_b1", "test_accuracy", "Table 2"),
                               ("utkface_b100", "test_rmse", "Fig 2 centre (UTKFace, b = 100)"),
                               ("utkface_b200", "test_rmse", "Fig 2 right (UTKFace, b = 200)"),
                               ("mnist_7v9_b25", "test_accuracy", "Fig 3a (MNIST 7 vs 9, b = 25)"),
                               ("mnist_0to9_b25", "test_accuracy", "Fig 3b (MNIST 0-9, b = 25)")):
        for (e, other), text in paper.PAPER_P_VALUES.items():
            if e != exp:
                continue
            theirs = authors.get(exp if exp != "mnist_0to9_b25" else "mnist_0to9_b100")
            theirs_text = _significance_cell(theirs, other, metric)[0] if theirs is not None else "-"
            if exp == "mnist_0to9_b25" and theirs is not None:
                theirs_text += " (their arrays: b = 100)"
            df = ours.get(exp)
            why = _status(df)
            if why is None and other not in set(df.method):
                why = f"no runs of {other}"
            ours_text, ok = _significance_cell(df, other, metric) if why is None else ("-", None)
            claims.append((f"{label}: DEIMOS better than {other}", f"p {text}", theirs_text, ours_text,
                           _verdict(ok, why), why or ""))
    return claims


DIVERSITY_EXPERIMENTS = {"mnist_7v9_b25": "Fig 3d (MNIST 7 vs 9, b = 25)", "mnist_0to9_b25": "Fig 3e (MNIST 0-9, b = 25)"}


def _diversity_claims(ours: dict) -> list:
    """Fig 3d, e: batch diversity, judged on the per-iteration means over seeds
    (:func:`~deimos_utils.analysis.mnist_tables.diversity_wins`).
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []
    others = ("batchbald", "max_entropy")
    for exp, figure in DIVERSITY_EXPERIMENTS.items():
        df = ours.get(exp)
        why = _status(df)
        ours_text, ok = "-", None
        if why is None:
            try:
                wins = diversity_wins(df, REFERENCE, others)
            except ValueError as err:
                why = f"no batch diversity to compare: {err}"
            else:
                shares = wins[f"{method_label(REFERENCE)} higher"]
                ours_text = "; ".join(f"above {m} in {s:.0%} of iterations" for m, s in shares.items())
                ok = bool((shares > 0.5).all())
        claims.append((f"{figure}: DEIMOS's batches are more diverse than BatchBALD's and max entropy's",
                       "more diverse (figure)", "not testable: their arrays hold no predictions", ours_text,
                       _verdict(ok, why), why or ""))
    return claims


def _sample_size_claims(sample_sizes: pd.DataFrame | None) -> list:
    """Fig 3f: representative sample sizes.
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []
    why, ours_text, ok = "our runs are not there yet", "-", None
    if sample_sizes is not None and not sample_sizes.empty:
        ps = sample_size_tests(sample_sizes).attrs["p_values"]
        n_seeds = sorted(set(sample_sizes.groupby("sample_size").seed.nunique()))
        ours_text = ("; ".join(f"{a} vs {b}: p {_fmt_p(p)}" for (a, b), p in ps.items())
                     + f" ({'/'.join(map(str, n_seeds))} seed{'s' if n_seeds != [1] else ''} each)")
        tested = [p for p in ps.values() if np.isfinite(p)]
        if len(tested) == len(ps):
            ok, why = all(p >= ALPHA for p in tested), None
        else:
            untested = ", ".join(f"{a} vs {b}" for (a, b), p in ps.items() if not np.isfinite(p))
            why = f"the LMM could not be fitted for {untested}"
    claims.append(("Fig 3f: DEIMOS does not depend on the representative sample size (500 / 2,500 / 5,000)",
                   "no significant difference", "not in their repository", ours_text, _verdict(ok, why), why or ""))
    return claims


def _appendix_a_claims(ratios_ours, ratios_authors) -> list:
    """Appendix A: greedy against optimal batches.
    Rows as tuples (claim, paper, authors' arrays, ours, verdict, reason)."""
    claims = []

    def ratio_text(r):
        return "-" if r is None else f"min ratio {float(np.min(r)):.4f} over {len(r)} instances"
    ok = None if ratios_ours is None else bool(np.min(ratios_ours) > 0.97)
    claims.append(("Appendix A: every greedy / optimal ratio is above 0.97", "> 0.97", ratio_text(ratios_authors),
                   ratio_text(ratios_ours), _verdict(ok, None if ratios_ours is not None else "not computed"),
                   "" if ratios_ours is not None else "not computed"))
    return claims


def claims_table(ours: dict, *, authors: dict | None = None, ratios_ours=None, ratios_authors=None,
                 simulated_splicing: bool = True, sample_sizes: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per claim: claim, paper, authors' arrays, ours, verdict, reason.

    ``ours``/``authors``: experiment -> results DataFrame (ours from the store, theirs from
    :func:`~deimos_utils.data.authors.load_authors_results` cut with ``within_horizon``); an
    experiment absent from ``ours`` is "not testable here". ``ratios_*``: Appendix A ratios.
    ``sample_sizes``: Fig 3f's results with a ``sample_size`` column.
    """
    authors = authors or {}
    claims = (_threshold_claims(ours, authors, simulated_splicing) + _p_value_claims(ours, authors)
              + _end_ordering_claims(ours, authors) + _diversity_claims(ours) + _sample_size_claims(sample_sizes)
              + _appendix_a_claims(ratios_ours, ratios_authors))
    columns = ("claim", "paper", "authors' arrays", "ours", "verdict", "reason")
    return pd.DataFrame([dict(zip(columns, c)) for c in claims], columns=list(columns))


def finished_runs(results: pd.DataFrame, n_iterations: int) -> pd.DataFrame:
    """The rows of the runs (method, seed) that reached iteration ``n_iterations`` (untagged)."""
    df = results[results.get("tag", "").fillna("") == ""] if "tag" in results else results
    last = df.groupby(["method", "seed"]).iteration.transform("max")
    return df[last >= n_iterations].reset_index(drop=True)


def finished_sample_size_runs(results: pd.DataFrame, config, sizes, method: str = REFERENCE) -> pd.DataFrame | None:
    """Fig 3f's finished runs of ``method``: the rows of each size's config
    (:func:`~deimos_utils.experiment.sample_sizes.sample_size_configs` of ``config``, the
    experiment's config at the preset) whose runs reached its last iteration, with a
    ``sample_size`` column; None unless every size has one."""
    from ..experiment.sample_sizes import sample_size_configs

    tags = results["tag"].fillna("") if "tag" in results else pd.Series("", index=results.index)
    frames = []
    for size, cfg in sample_size_configs(config, sizes).items():
        rows = results[(tags == (cfg.tag or "")) & (results["method"] == method)]
        rows = rows[rows.groupby("seed").iteration.transform("max") >= cfg.n_iterations]
        if rows.empty:
            return None
        frames.append(rows.assign(sample_size=size))
    return pd.concat(frames, ignore_index=True)


def collect(preset: str = "cpu", results_dir=None, data_dir=None) -> dict:
    """Inputs of :func:`claims_table`: our finished runs at ``preset`` (under
    :func:`~deimos_utils.locations.results_root` of ``results_dir``), the authors' arrays (cut to
    the paper's range), their Appendix A ratios and ours (kept by notebook 02 at ``preset``)."""
    from ..data.authors import AUTHORS_EXPERIMENTS, load_authors_optimality_ratios, load_authors_results, within_horizon
    from ..experiment.config import get_config
    from ..experiment.sample_sizes import sample_sizes_for
    from ..experiment.store import load_results
    from ..locations import results_root
    from ..toy.greedy_optimality import load_ratio_table

    results_dir = results_root(results_dir)
    ours, sample_sizes = {}, None
    for exp in ("splicing", "mnist_7v9_b1", "mnist_7v9_b25", "mnist_0to9_b25", "utkface_b100", "utkface_b200"):
        try:
            everything = load_results(exp, results_dir, preset=preset)
        except FileNotFoundError:
            continue
        config = get_config(exp, preset)
        df = finished_runs(everything, config.n_iterations)
        if not df.empty:
            ours[exp] = df
        if exp == "mnist_7v9_b25":
            sample_sizes = finished_sample_size_runs(everything, config, sample_sizes_for(preset))
    theirs = {e: load_authors_results(e, data_dir) for e in AUTHORS_EXPERIMENTS}
    theirs = {e: (d if e == "splicing" else within_horizon(d)) for e, d in theirs.items()}
    ratios = np.concatenate([load_authors_optimality_ratios(b, j, data_dir) for b in (2, 5, 10) for j in (2, 3, 50)])
    kept = load_ratio_table(preset, results_dir)
    return {"ours": ours, "authors": theirs, "ratios_authors": ratios, "sample_sizes": sample_sizes,
            "ratios_ours": None if kept is None else kept["ratio"].to_numpy()}


def main(argv=None) -> int:
    """``python -m deimos_utils.analysis.claims [--preset cpu] [--results-dir results]``: print the table."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m deimos_utils.analysis.claims", description=main.__doc__)
    parser.add_argument("--preset", default="cpu")
    parser.add_argument("--results-dir", default=None,
                        help="default: $DEIMOS_RESULTS_DIR, else results/ of the repository")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    inputs = collect(args.preset, args.results_dir)
    table = claims_table(inputs["ours"], authors=inputs["authors"], ratios_authors=inputs["ratios_authors"],
                         ratios_ours=inputs["ratios_ours"], sample_sizes=inputs["sample_sizes"])
    if args.markdown:
        cols = ["claim", "paper", "authors' arrays", "ours", "verdict"]
        print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
        for _, r in table.iterrows():
            print("| " + " | ".join(str(r[c]).replace("|", "/") for c in cols) + " |")
    else:
        with pd.option_context("display.max_colwidth", 80, "display.width", 250):
            print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())

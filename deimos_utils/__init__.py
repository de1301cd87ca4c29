"""deimos_utils: the logic behind the DEIMOS reproduction notebooks.

The public entry points are importable from the top (loaded on first use)::

    from deimos_utils import select_batch, deimos_batch, mc_predict, get_config, run_all

Modules
-------
acquisition      DEIMOS (exact and fast, plus the literal Algorithm 1) and the baselines
mc_dropout       fixed-mask MC dropout and batched prediction
select           DEIMOS on a user's own model in one call
loop, config     the active-learning loop and the quick / cpu / paper presets
store, cli, grid the resumable results store (one locked writer per run), the command line,
                 experiment grids on dask (local, any cluster, Slurm)
provenance       code, versions and device recorded in every run's sidecar
models, training, calibration   networks, seeded training, Appendix E
epoch_rule       the cpu preset's epoch count (docs/cpu_preset.md)
data             MNIST, UTKFace and A5SS splicing loaders (and the simulated library); fetch
authors          the authors' published results, initial sets and splits
stats, report, significance     LMM tests, acquisitions-to-threshold, batch diversity
seed_tests       comparisons over seeds (per-seed AUC, permutation, bootstrap)
claims           a verdict per claim of the paper, on the authors' arrays and on ours
synthetic, optimality           the 1D experiment (Fig 1) and Appendix A
plots, mnist_figures, regression_figures, authors_overlay   figures, each saved as a file
teaching         the interactive DEIMOS view for a class (notebook 08)
paper            the numbers the paper reports
run_notebooks    ``make notebooks``
runtime          seeds, devices, progress bars
"""
from importlib import import_module

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "select_batch": "select",
    "deimos_batch": "acquisition",
    "greedy_batch_dense": "acquisition",
    "ACQUISITIONS": "acquisition",
    "mc_predict": "mc_dropout",
    "convert_dropout": "mc_dropout",
    "get_config": "config",
    "ExperimentConfig": "config",
    "ALData": "config",
    "run_all": "loop",
    "run_experiment": "loop",
    "load_data": "loop",
    "load_results": "store",
    "load_authors_results": "authors",
    "lmm_lrt": "stats",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        value = getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'deimos_utils' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))

"""deimos_utils: the logic behind the DEIMOS reproduction notebooks.

The public entry points are importable from the top (loaded on first use)::

    from deimos_utils import select_batch, deimos_batch, mc_predict, get_config, run_all

Where things live
-----------------
acquisition    DEIMOS (exact and fast, plus the literal Algorithm 1), the baselines, the registry
               the loop calls (ACQUISITIONS), and select_batch: DEIMOS on a user's own model
uncertainty    fixed-mask MC dropout; Appendix E (weight decay, noise terms, calibration)
experiment     config and presets, the loop, the results store, the CLI, grids, models, training,
               provenance, the cpu preset's epoch rule
data           ALData (what the loop needs from a dataset) and load_data; MNIST, UTKFace and A5SS
               splicing loaders (and the simulated library), the authors' published arrays,
               initial sets and splits; fetch
analysis       LMM tests, thresholds, diversity, seed-level tests, tables, claims, the paper's numbers,
               what a grid costs (budget)
figures        drawing only: every figure, saved as a file
toy            the 1D experiment (Fig 1), Appendix A, the interactive teaching view (notebook 08)
run_notebooks  ``make notebooks``
locations      where the repository, the results tables and the notebook outputs are
runtime        seeds, devices, progress bars
"""
from importlib import import_module

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS = {
    "select_batch": "acquisition.select",
    "deimos_batch": "acquisition",
    "greedy_batch_dense": "acquisition",
    "ACQUISITIONS": "acquisition",
    "mc_predict": "uncertainty.mc_dropout",
    "convert_dropout": "uncertainty.mc_dropout",
    "get_config": "experiment.config",
    "ExperimentConfig": "experiment.config",
    "ALData": "data.aldata",
    "run_all": "experiment.loop",
    "run_experiment": "experiment.loop",
    "load_data": "data.aldata",
    "load_results": "experiment.store",
    "load_authors_results": "data.authors",
    "lmm_lrt": "analysis.lmm",
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

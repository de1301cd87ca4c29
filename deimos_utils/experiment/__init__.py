"""One active-learning experiment, from its configuration to its results tables.

config        ExperimentConfig, the quick / cpu / paper presets (get_config), overrides from a
              notebook's parameters (run_overrides)
loop          the active-learning loop: Run (one method, one seed, in named steps),
              run_experiment, run_all; the targets' standardisation
sample_sizes  Fig 3f's runs at several representative sample sizes
store         the resumable results store: one CSV table and JSON sidecar per run, one locked writer
cli           ``python -m deimos_utils.experiment.cli``: run an experiment from the shell
grid          experiment grids on dask (local, any cluster, Slurm)
models        the networks of each experiment (build_model)
training      seeded training from scratch, test metrics
provenance    code, versions and device recorded in every run's sidecar
epoch_rule    the cpu preset's epoch count (docs/cpu_preset.md)
"""

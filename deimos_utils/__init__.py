"""deimos_utils: the logic behind the DEIMOS reproduction notebooks.

Modules
-------
acquisition      DEIMOS (exact and fast, plus the literal Algorithm 1) and the baselines
mc_dropout       fixed-mask MC dropout and batched prediction
select           DEIMOS on a user's own model in one call
loop, config     the active-learning loop and the quick / cpu / paper presets
store, cli       the resumable results store and a command-line runner
models, training, calibration   networks, seeded training, Appendix E
data             MNIST, UTKFace and A5SS splicing loaders (and the simulated library)
stats, report, significance     LMM tests, acquisitions-to-threshold, batch diversity
synthetic, optimality           the 1D experiment (Fig 1) and Appendix A
plots, mnist_figures, regression_figures   figures, each saved as a file
paper            the numbers the paper reports
runtime          seeds, devices, progress bars
"""
__version__ = "0.1.0"

"""deimos_utils: the logic behind the DEIMOS reproduction notebooks.

Modules
-------
acquisition  DEIMOS (fast, exact) and its dense reference, plus the baselines
mc_dropout   fixed-mask MC dropout and batched prediction
runtime      seeds and devices
"""
__version__ = "0.1.0"

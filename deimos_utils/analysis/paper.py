"""Numbers the paper reports, to print beside ours (tables, figure captions).

Method keys follow :data:`deimos_utils.acquisition.ACQUISITIONS`; experiment keys follow
:data:`deimos_utils.experiment.config.EXPERIMENTS`.
"""
from __future__ import annotations

#: Table 1: single-point acquisitions to reach a 5' splicing test MSE
TABLE1_SPLICING_MSE = {
    "thresholds": [0.11, 0.10, 0.095, 0.09],
    "deimos": [69, 109, 174, 369],
    "max_variance": [92, 318, 492, 708],
    "random": [80, 180, 306, 387],
}

#: Table 2 (top): single-point acquisitions to reach an MNIST 7 vs 9 test accuracy
TABLE2_MNIST_7V9_ACCURACY = {
    "thresholds": [0.95, 0.96, 0.97, 0.975],
    "deimos": [20, 24, 27, 41],
    "bald": [23, 25, 39, 67],
    "max_entropy": [21, 31, 39, 58],
    "random": [48, 55, 113, 158],
    "kcenter": [24, 39, 58, 58],
}

#: p-values of the LMM likelihood-ratio test, DEIMOS against each baseline, as reported
#: (Fig 2, Fig 3 and Table 2 captions); "<x" marks a bound the paper gives instead of a value
PAPER_P_VALUES = {
    ("splicing", "max_variance"): "2.1e-278",
    ("splicing", "random"): "6.9e-34",
    ("utkface_b100", "max_variance"): "<8e-3",
    ("utkface_b100", "random"): "<8e-3",
    ("utkface_b200", "max_variance"): "<9e-3",
    ("utkface_b200", "random"): "<9e-3",
    ("mnist_7v9_b1", "bald"): "2.3e-21",
    ("mnist_7v9_b1", "max_entropy"): "4.1e-11",
    ("mnist_7v9_b1", "random"): "5.2e-133",
    ("mnist_7v9_b1", "kcenter"): "7.7e-46",
    ("mnist_7v9_b25", "random"): "4.4e-11",
    ("mnist_7v9_b25", "kcenter"): "1.9e-11",
    ("mnist_0to9_b25", "random"): "9e-3",
    ("mnist_0to9_b25", "max_entropy"): "3e-3",
}

"""Acquisition functions: DEIMOS (fast and dense reference) and the baselines."""
from .deimos import deimos_batch, deimos_scores
from .dense import (
    batch_trace_reduction,
    greedy_batch_dense,
    optimal_batch_bruteforce,
    predictive_covariance,
)

__all__ = [
    "batch_trace_reduction",
    "deimos_batch",
    "deimos_scores",
    "greedy_batch_dense",
    "optimal_batch_bruteforce",
    "predictive_covariance",
]

"""Acquisition functions: DEIMOS (fast, and its dense reference) and the paper's baselines.

deimos      deimos_batch, deimos_scores: exact greedy DEIMOS without building V
dense       predictive_covariance, greedy_batch_dense, optimal_batch_bruteforce: literal V
scores      entropy, BALD and variance scores, top_k
batchbald   greedy BatchBALD (Kirsch et al. 2019)
kcenter     greedy and robust k-center core-sets (Sener & Savarese 2018)
registry    ACQUISITIONS: one calling convention for the active-learning loop; what each method
            needs (predictions, the representative sample, embeddings)
labels      each method's display name and colour
select      select_batch: DEIMOS on a user's own model in one call
"""
from .batchbald import batchbald_batch
from .deimos import deimos_batch, deimos_scores
from .dense import (
    batch_trace_reduction,
    greedy_batch_dense,
    optimal_batch_bruteforce,
    predictive_covariance,
)
from .kcenter import kcenter_batch
from .registry import ACQUISITIONS, AcquisitionContext, get_acquisition
from .scores import bald_scores, entropy_scores, top_k, variance_scores

__all__ = [
    "ACQUISITIONS",
    "AcquisitionContext",
    "bald_scores",
    "batch_trace_reduction",
    "batchbald_batch",
    "deimos_batch",
    "deimos_scores",
    "entropy_scores",
    "get_acquisition",
    "greedy_batch_dense",
    "kcenter_batch",
    "optimal_batch_bruteforce",
    "predictive_covariance",
    "top_k",
    "variance_scores",
]

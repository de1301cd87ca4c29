"""BatchBALD agrees with the authors' implementation (``batchbald_redux``) in the exact regime.

Skipped unless ``batchbald_redux`` (and its dependency ``toma``) can be imported. It is not a
dependency of this project; to run the comparison, install it outside the environment, e.g.

    pip install --no-deps --target /tmp/bbr_site batchbald-redux toma
    PYTHONPATH=/tmp/bbr_site pytest tests/test_batchbald_redux_agreement.py
"""
from __future__ import annotations

import os

import numpy as np
import pytest
import torch

os.environ.setdefault("TQDM_DISABLE", "1")
redux = pytest.importorskip("batchbald_redux.batchbald")

from deimos_utils.acquisition.batchbald import batchbald_batch  # noqa: E402


def random_probs(rng, n, c, j, scale=2.0):
    logits = rng.normal(size=(n, c, j)) * scale
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize(
    "n, c, j, b, seed",
    [(40, 2, 8, 5, 0), (60, 3, 10, 4, 1), (50, 10, 20, 3, 2), (30, 4, 5, 4, 3)],
)
def test_picks_and_scores_match_batchbald_redux(n, c, j, b, seed):
    p = random_probs(np.random.default_rng(seed), n, c, j)
    num_samples = c ** (b - 1)            # every step stays exact in both implementations
    ours, our_scores = batchbald_batch(p, b, num_samples=num_samples)
    log_probs_n_k_c = torch.log(torch.as_tensor(p).permute(0, 2, 1).contiguous())
    theirs = redux.get_batchbald_batch(log_probs_n_k_c, b, num_samples=num_samples,
                                       dtype=torch.double)
    assert ours.tolist() == list(theirs.indices)
    np.testing.assert_allclose(our_scores, theirs.scores, rtol=1e-9, atol=1e-12)


def test_bald_matches_batchbald_redux():
    from deimos_utils.acquisition.scores import bald_scores, top_k

    p = random_probs(np.random.default_rng(9), 80, 5, 12)
    log_probs = torch.log(torch.as_tensor(p).permute(0, 2, 1).contiguous())
    theirs = redux.get_bald_batch(log_probs, 10)
    assert top_k(bald_scores(p), 10).tolist() == list(theirs.indices)

"""Uncertainty from MC dropout, and how good it is (Appendices D and E).

mc_dropout    fixed-mask MC dropout: mc_predict (n_masks fixed dropout masks, the same for every
              input), convert_dropout, embeddings for k-center
calibration   Appendix E: weight decay lambda = C / N, the noise terms tau^-1 / tau_s^-1 from the
              validation set, and the quality of the dropout variance (uncertainty_quality)
"""

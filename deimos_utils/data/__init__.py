"""Datasets: what the loop needs from one, the loaders, the authors' published arrays.

aldata     ALData (pool and test tensors, ids, task) and load_data (a config's dataset as ALData)
mnist      MNIST (the official split, a class subset); returns ALData
splicing   the A5SS 5' splicing library (or a simulated one with the same layout)
utkface    UTKFace ages (decoded once, cached)
authors    the authors' published results, initial sets and splits (their .npy arrays)
paths      where the data live (DEIMOS_DATA_DIR), checksums, missing-data messages
fetch      ``python -m deimos_utils.data.fetch``: download what can be, verify, say what is missing
"""
from .paths import ENV_VAR, MissingDataError, resolve_data_dir

__all__ = ["ENV_VAR", "MissingDataError", "resolve_data_dir"]

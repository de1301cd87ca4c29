"""Numba kernels for the CPU path of :func:`~deimos_utils.acquisition.deimos_batch`."""
AVAILABLE = False

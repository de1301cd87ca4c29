"""Dataset loaders. Each returns tensors ready for the active-learning loop."""
from .paths import ENV_VAR, MissingDataError, resolve_data_dir

__all__ = ["ENV_VAR", "MissingDataError", "resolve_data_dir"]

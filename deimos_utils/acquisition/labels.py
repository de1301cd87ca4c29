"""How each acquisition method is named and coloured wherever it is shown (tables, figures).

Keys are the names of :data:`~deimos_utils.acquisition.registry.ACQUISITIONS`; a method that is
not listed is shown by its name, in matplotlib's next colour.
"""
from __future__ import annotations

__all__ = ["METHOD_COLORS", "METHOD_LABELS", "method_label"]

#: one colour per method, the same in every figure
METHOD_COLORS = {
    "deimos": "#d62728",
    "random": "#7f7f7f",
    "max_variance": "#1f77b4",
    "max_entropy": "#1f77b4",
    "bald": "#2ca02c",
    "batchbald": "#2ca02c",
    "kcenter": "#9467bd",
}
METHOD_LABELS = {
    "deimos": "DEIMOS",
    "random": "Random",
    "max_variance": "Max. variance",
    "max_entropy": "Max. entropy",
    "bald": "BALD",
    "batchbald": "BatchBALD",
    "kcenter": "Robust k-center",
}


def method_label(method: str) -> str:
    """The display name of an acquisition method (``"kcenter"`` -> ``"Robust k-center"``)."""
    return METHOD_LABELS.get(method, method)

"""What produced a run: package versions, the git commit (and whether the tree was dirty), the
device and the determinism settings. Recorded in every run's sidecar (``provenance``).

A run resumed, or a finished table read, by other code than wrote it is not refused (the
configuration decides that); :func:`provenance_differences` names what differs, for a warning.
"""
from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from pathlib import Path

__all__ = ["run_provenance", "provenance_differences", "git_state"]

_PACKAGES = ("deimos_utils", "torch", "numpy", "scipy", "pandas", "statsmodels")
#: fields whose difference is worth a warning (timestamps and hosts are not)
COMPARED = ("packages", "git_commit", "git_dirty", "device", "deterministic")


@lru_cache(maxsize=1)
def git_state() -> tuple[str, bool | None]:
    """``(commit, dirty)`` of the checkout holding this package; ``("unknown", None)`` outside git."""
    here = Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True,
                                text=True, timeout=10, check=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown", None
    return commit, bool(status.strip())


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def run_provenance(device=None) -> dict:
    """A JSON-able record of the code and machine a run uses now."""
    import torch

    commit, dirty = git_state()
    dev = torch.device(device) if device is not None else None
    return {
        "packages": {name: _version(name) for name in _PACKAGES},
        "python": platform.python_version(),
        "git_commit": commit,
        "git_dirty": dirty,
        "device": str(dev) if dev is not None else "cpu",
        "cuda": torch.cuda.get_device_name(dev) if dev is not None and dev.type == "cuda" else None,
        "deterministic": {
            "cudnn_deterministic": True,   # set by training.train_model around every training
            "cudnn_benchmark": False,
            "deterministic_algorithms": bool(torch.are_deterministic_algorithms_enabled()),
        },
        "torch_threads": int(torch.get_num_threads()),
        "host": platform.node(),
    }


def provenance_differences(recorded: dict | None, current: dict) -> list[str]:
    """Human-readable differences in :data:`COMPARED` between a recorded and the current record."""
    if not recorded:
        return ["the table records no provenance (written by an older version)"]
    out = []
    for key in COMPARED:
        a, b = recorded.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    out.append(f"{key}.{k}: recorded {a.get(k)!r}, now {b.get(k)!r}")
        elif a != b:
            out.append(f"{key}: recorded {a!r}, now {b!r}")
    return out

"""Where the datasets live: one rule for every loader.

The data directory is, in order: the ``data_dir`` argument, the ``DEIMOS_DATA_DIR`` environment
variable, then ``./data`` of the repository. Loaders look for their files below it, download them
when a network is there, and otherwise raise :class:`MissingDataError` saying which files are
expected where and how to get them.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..locations import project_root

ENV_VAR = "DEIMOS_DATA_DIR"


class MissingDataError(FileNotFoundError):
    """A dataset's files are absent (or incomplete) and could not be downloaded."""


class DamagedDataError(MissingDataError):
    """A dataset's files are there but damaged or incomplete (wrong size, checksum or count);
    the message names them and says how to get good copies."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: ``data_dir``, else ``$DEIMOS_DATA_DIR``, else ``<repo>/data``."""
    if data_dir is not None:
        return Path(data_dir).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (project_root() / "data").resolve()


def missing_files_message(dataset: str, root: Path, expected: list[str], how: str) -> str:
    """A message that lists the expected files under ``root`` and says how to get them."""
    listing = "\n".join(f"  {root / name}" for name in expected)
    return (
        f"{dataset} data not found under {root}.\nExpected:\n{listing}\n{how}\n"
        f"Point the loader elsewhere with data_dir=... or the {ENV_VAR} environment variable."
    )


def file_digest(path: str | os.PathLike, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes (``"md5"``, ``"sha256"``, ...), read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()

"""Where the project's folders are: the repository checkout, results tables, notebook outputs.

Rules (one place for all of them):

* the project root is the repository checkout that holds the package (an editable install or a
  source tree), else the nearest folder at or above the working directory holding
  ``pyproject.toml`` and ``notebooks/`` (a non-editable install run inside a checkout), else the
  working directory;
* results tables go to the ``results_dir`` given, else ``$DEIMOS_RESULTS_DIR``, else
  ``<project root>/results``;
* figures and key numbers go to the ``output_dir`` given, else ``$DEIMOS_OUTPUT_DIR``, else
  ``<project root>/outputs``.

Relative paths are taken from the project root, so that a notebook writes to the same place in
JupyterLab, papermill and nbval. ``make test`` points both variables at a fresh temporary folder.
"""
from __future__ import annotations

import os
from pathlib import Path

RESULTS_ENV = "DEIMOS_RESULTS_DIR"
OUTPUT_ENV = "DEIMOS_OUTPUT_DIR"


def _is_checkout(folder: Path) -> bool:
    return (folder / "pyproject.toml").is_file() and (folder / "notebooks").is_dir()


def project_root() -> Path:
    """The repository checkout (see the module docstring for the rule)."""
    package_parent = Path(__file__).resolve().parents[1]
    if _is_checkout(package_parent):
        return package_parent
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if _is_checkout(folder):
            return folder
    return here


def _resolve(path, env_var: str, default: str) -> Path:
    if path is None or str(path) == "":
        path = os.environ.get(env_var) or default
    path = Path(path).expanduser()
    return path if path.is_absolute() else project_root() / path


def results_root(results_dir: str | os.PathLike | None = None) -> Path:
    """Folder of the results tables: ``results_dir``, else ``$DEIMOS_RESULTS_DIR``, else
    ``<project root>/results`` (relative paths from the project root)."""
    return _resolve(results_dir, RESULTS_ENV, "results")


def outputs_root(output_dir: str | os.PathLike | None = None) -> Path:
    """Folder of figures and key numbers: ``output_dir``, else ``$DEIMOS_OUTPUT_DIR``, else
    ``<project root>/outputs`` (relative paths from the project root)."""
    return _resolve(output_dir, OUTPUT_ENV, "outputs")

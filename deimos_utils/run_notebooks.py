"""``make notebooks``: execute every numbered notebook with papermill, skipping those whose data
are missing, and end with a summary table.

    python -m deimos_utils.run_notebooks notebooks/*.ipynb --scale quick --out outputs

A notebook whose dataset is absent (:data:`REQUIRES`, or a ``MissingDataError`` raised while it
runs) is skipped with one line saying which files and how to get them; the others run. The exit
status is 1 only when a notebook whose data are present fails.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from .data.fetch import dataset_status

__all__ = ["REQUIRES", "run_notebooks", "main"]

#: datasets a notebook cannot run without (by file stem); the others fall back or need none
REQUIRES = {
    "04_utkface": ("utkface",),
    "05_mnist_7v9": ("mnist",),
    "06_mnist_0to9": ("mnist",),
}


def _figures_since(folder: Path, t0: float) -> int:
    if not folder.is_dir():
        return 0
    return sum(1 for p in folder.iterdir() if p.is_file() and p.stat().st_mtime >= t0)


def _run_one(path: Path, scale: str, out: Path, kernel: str, timeout: int) -> tuple[str, str]:
    """Execute one notebook; ``(status, note)`` with status "ok", "skipped" or "failed"."""
    import papermill as pm

    missing = [s for d in REQUIRES.get(path.stem, ()) if not (s := dataset_status(d)).present]
    if missing:
        return "skipped", " ".join(s.line() for s in missing)
    try:
        pm.execute_notebook(str(path), str(out / "notebooks" / path.name), kernel_name=kernel,
                            parameters={"scale": scale, "output_dir": str(out)},
                            cwd=str(path.parent), execution_timeout=timeout, progress_bar=False)
    except pm.PapermillExecutionError as exc:
        first = (exc.evalue or "").strip().splitlines()
        reason = f"{exc.ename}: {first[0] if first else ''}"
        return ("skipped" if exc.ename == "MissingDataError" else "failed"), reason
    except Exception as exc:  # a kernel that died, a timeout: the notebook failed
        return "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return "ok", ""


def run_notebooks(paths, scale: str = "quick", out="outputs", *, kernel: str = "python3",
                  timeout: int = 3600, log=None) -> pd.DataFrame:
    """Execute ``paths`` in order; one row each: notebook, status, seconds, figures, note."""
    log = sys.stdout if log is None else log
    out = Path(out).resolve()
    (out / "notebooks").mkdir(parents=True, exist_ok=True)
    rows = []
    for path in map(Path, paths):
        t0 = time.time()
        print(f"{path.stem}: running at the {scale} preset ...", file=log, flush=True)
        status, note = _run_one(path, scale, out, kernel, timeout)
        seconds = time.time() - t0
        figures = _figures_since(out / "figures", t0) if status == "ok" else 0
        if status != "ok":
            print(f"{path.stem}: {status} - {note}", file=log, flush=True)
        rows.append({"notebook": path.stem, "status": status, "seconds": round(seconds, 1),
                     "figures": figures, "note": note})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deimos_utils.run_notebooks",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="+", help="notebook files, run in this order")
    parser.add_argument("--scale", default="quick", help="preset: quick, cpu or paper")
    parser.add_argument("--out", default="outputs", help="folder for executed notebooks and figures")
    parser.add_argument("--kernel", default="python3")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    args = parser.parse_args(argv)
    if args.scale not in ("quick", "cpu", "paper"):
        parser.error(f"--scale must be quick, cpu or paper, got {args.scale!r}")
    table = run_notebooks(args.notebooks, args.scale, args.out, kernel=args.kernel, timeout=args.timeout)
    print()
    print(table.drop(columns="note").to_string(index=False))
    print(f"\nExecuted notebooks in {Path(args.out) / 'notebooks'}, figures in {Path(args.out) / 'figures'}")
    return 1 if (table.status == "failed").any() else 0


if __name__ == "__main__":
    sys.exit(main())

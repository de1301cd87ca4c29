"""What data is there, and ``make data``: download what can be downloaded, verify, report.

>>> dataset_status("mnist")           # DataStatus(name="mnist", present=True, missing=[], ...)

Datasets (:data:`DATASETS`): ``mnist`` (the four official .gz files, md5 as torchvision),
``authors`` (the authors' published arrays, sha256 from the list shipped with the package),
``utkface`` (the 23,708 aligned and cropped faces: research use only, never downloaded for you),
``splicing`` (the A5SS library files of Rosenberg et al. 2015; notebook 03 falls back to a
simulated library without them). ``python -m deimos_utils.data.fetch [--data-dir D]`` fetches
what is missing and prints one line per dataset; it exits 0 when every dataset that can be
downloaded is there after the run, 1 otherwise.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .paths import file_digest, resolve_data_dir

__all__ = ["DATASETS", "DataStatus", "dataset_status", "fetch", "main"]

DATASETS = ("mnist", "authors", "utkface", "splicing")


@dataclass
class DataStatus:
    """Whether a dataset's files are under the data directory, and how to get the rest."""

    name: str
    present: bool
    root: Path
    missing: list = field(default_factory=list)
    how: str = ""
    downloadable: bool = True
    note: str = ""

    def line(self) -> str:
        """One line: ``name: present`` or ``name: missing N files (first: ...) - how``."""
        if self.present:
            return f"{self.name}: present under {self.root}" + (f" ({self.note})" if self.note else "")
        first = self.missing[0] if self.missing else ""
        more = f" and {len(self.missing) - 1} more" if len(self.missing) > 1 else ""
        return f"{self.name}: missing {self.root / first}{more}. {self.how}"


def _mnist(root: Path) -> DataStatus:
    from .mnist import MNIST_FILES, MNIST_MD5

    missing = [f for f in MNIST_FILES if not (root / f).is_file()
               or file_digest(root / f, "md5") != MNIST_MD5[Path(f).name]]
    unpacked = root / "MNIST" / "raw"
    if missing and all((unpacked / Path(f).name[:-3]).is_file() for f in MNIST_FILES):
        missing = []  # torchvision's extracted layout (its loader verifies the sizes)
    return DataStatus("mnist", not missing, root, missing,
                      "Run `make data` (torchvision downloads and checks the md5s), or copy the "
                      "four .gz files from http://yann.lecun.com/exdb/mnist/.")


def _authors(root: Path) -> DataStatus:
    from .authors import AUTHORS_COMMIT, AUTHORS_REPO, _expected_digests

    base = root / "authors"
    missing = [rel for rel, digest in _expected_digests().items()
               if not (base / rel).is_file() or file_digest(base / rel) != digest]
    return DataStatus("authors", not missing, root, [f"authors/{m}" for m in missing],
                      f"Run `make data` (downloads from {AUTHORS_REPO} at {AUTHORS_COMMIT[:7]} and "
                      "checks every sha256).")


def _utkface(root: Path) -> DataStatus:
    from .utkface import DEFAULT_SHARDS, N_UTKFACE, UTKFACE_URL

    folder = root / "UTKFace"
    shards = [f"UTKFace/{s}" for s in DEFAULT_SHARDS]
    have_shards = all((root / s).is_file() for s in shards)
    n_images = sum(1 for _ in folder.glob("*.jpg.chip.jpg")) if folder.is_dir() else 0
    present = have_shards or n_images >= N_UTKFACE
    note = "tar.gz shards" if have_shards else f"{n_images:,} images"
    return DataStatus("utkface", present, root, [] if present else [f"UTKFace/ ({n_images:,} of {N_UTKFACE:,} images)"],
                      f'Download "Aligned&Cropped Faces" from {UTKFACE_URL} (non-commercial research '
                      f"use only) and unpack it into {folder}/.", downloadable=False, note=note if present else "")


def _splicing(root: Path) -> DataStatus:
    from .splicing import A5SS_FILES, GEO_URL

    folder = root / "splicing"
    missing = [f"splicing/{f}" for f in A5SS_FILES if not (folder / f).is_file()]
    return DataStatus("splicing", not missing, root, missing,
                      "Run `make data` (downloads from GitHub Alex-Rosenberg/cell-2015) or get them "
                      f"from GEO ({GEO_URL}); without them notebook 03 uses a simulated library.")


_CHECKS = {"mnist": _mnist, "authors": _authors, "utkface": _utkface, "splicing": _splicing}


def dataset_status(name: str, data_dir=None) -> DataStatus:
    """Whether dataset ``name`` (one of :data:`DATASETS`) is complete under the data directory."""
    if name not in _CHECKS:
        raise ValueError(f"unknown dataset {name!r}; datasets: {', '.join(DATASETS)}")
    return _CHECKS[name](resolve_data_dir(data_dir))


def _download(name: str, root: Path) -> str:
    """Try to download dataset ``name`` into ``root``; '' on success, else why it failed."""
    try:
        if name == "mnist":
            import torchvision

            torchvision.datasets.MNIST(root=str(root), download=True)
        elif name == "authors":
            from .authors import authors_file, authors_files

            for rel in authors_files():
                authors_file(rel, root, download=True)
        elif name == "splicing":
            from .splicing import A5SS_FILES, A5SS_URLS
            from .splicing import _download as fetch_url

            for f in A5SS_FILES:
                dest = root / "splicing" / f
                if not dest.is_file():
                    reason = fetch_url(A5SS_URLS[f], dest)
                    if reason:
                        return reason
    except Exception as exc:  # no network, a refused host, a full disk: say it, go on
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return ""


def fetch(names=DATASETS, data_dir=None, *, download: bool = True, out=sys.stdout) -> list[DataStatus]:
    """Download what is missing (where a dataset can be downloaded), verify, print a line each."""
    root = resolve_data_dir(data_dir)
    result = []
    for name in names:
        status = dataset_status(name, root)
        if not status.present and status.downloadable and download:
            reason = _download(name, root)
            status = dataset_status(name, root)
            if not status.present and reason:
                status.how = f"Download failed ({reason}). {status.how}"
        print(status.line(), file=out)
        result.append(status)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deimos_utils.data.fetch", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=None, help="data directory (default: $DEIMOS_DATA_DIR, else ./data)")
    parser.add_argument("--check", action="store_true", help="only report, download nothing")
    parser.add_argument("datasets", nargs="*", metavar="DATASET",
                        help=f"datasets (default all: {', '.join(DATASETS)})")
    args = parser.parse_args(argv)
    unknown = [d for d in args.datasets if d not in DATASETS]
    if unknown:
        parser.error(f"unknown dataset(s) {', '.join(unknown)}; datasets: {', '.join(DATASETS)}")
    print(f"data directory: {resolve_data_dir(args.data_dir)}")
    statuses = fetch(args.datasets or DATASETS, args.data_dir, download=not args.check)
    return 0 if all(s.present or not s.downloadable for s in statuses) else 1


if __name__ == "__main__":
    sys.exit(main())

"""MNIST for the active-learning loop: the 60,000 training images as the pool, the official
10,000 as the test set, optionally restricted to a class subset (7 vs 9).

Files, below ``<data_dir>/MNIST/raw/`` (see :mod:`deimos_utils.data.paths` for the data
directory), in either layout of ``torchvision.datasets.MNIST(root=data_dir)``:

* the four downloads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, or
* the same files unpacked, ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (no ``.gz``).

Every file is verified before it is used: size and md5 (:data:`MNIST_GZ`, :data:`MNIST_RAW`).
The first complete, intact layout is decoded directly, writing nothing (the data folder may
be read-only). A damaged file is never read: :class:`~deimos_utils.data.paths.DamagedDataError`
names it with its size and md5 and what they should be. When neither layout is there, with
``download=True`` torchvision fetches the files (and checks them) and they are verified again;
when that fails too (no network), :class:`~deimos_utils.data.paths.MissingDataError` names
the files expected. Decoded arrays are kept in memory for the rest of the process.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..data.aldata import ALData
from .paths import (
    DamagedDataError,
    MissingDataError,
    file_digest,
    missing_files_message,
    resolve_data_dir,
)

__all__ = ["MNIST_FILES", "MNIST_GZ", "MNIST_MD5", "MNIST_RAW", "load_mnist", "mnist_raw_dir", "read_idx"]

MNIST_GZ = {
    "train-images-idx3-ubyte.gz": (9_912_422, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train-labels-idx1-ubyte.gz": (28_881, "d53e105ee54ea40749a09fcbcd1e9432"),
    "t10k-images-idx3-ubyte.gz": (1_648_877, "9fb629c4189551a2d022fa330f9573f3"),
    "t10k-labels-idx1-ubyte.gz": (4_542, "ec29112dd5afa0611ce80d1b7f02629c"),
}
"""(bytes, md5) of each download: the md5s of ``torchvision.datasets.MNIST.resources``."""
MNIST_RAW = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
"""(bytes, md5) of each file unpacked (torchvision's extracted layout): the contents of the
verified downloads above (``train-images``' md5 is also the published one)."""
MNIST_MD5 = {name: md5 for name, (_, md5) in MNIST_GZ.items()}
"""md5 of each download, as in ``torchvision.datasets.MNIST.resources``."""
MNIST_FILES = tuple(f"MNIST/raw/{name}" for name in MNIST_GZ)
"""The four files expected below the data directory."""
_LAYOUTS = (("gz", MNIST_GZ), ("unpacked", MNIST_RAW))
_KEYS = ("train-images", "train-labels", "t10k-images", "t10k-labels")

_HOW = (
    "Get them with torchvision.datasets.MNIST(root=<data dir>, download=True) on a machine with "
    "network access (or copy the four .gz files from http://yann.lecun.com/exdb/mnist/ or a "
    "mirror such as https://ossci-datasets.s3.amazonaws.com/mnist/)."
)


def mnist_raw_dir(data_dir=None) -> Path:
    """``<data dir>/MNIST/raw``."""
    return resolve_data_dir(data_dir) / "MNIST" / "raw"


def read_idx(data: bytes) -> np.ndarray:
    """Decode an (uncompressed) IDX file: uint8 images ``(N, 28, 28)`` or labels ``(N,)``."""
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise ValueError("not an unsigned-byte IDX file")
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(ndim)]
    start = 4 + 4 * ndim
    count = int(np.prod(dims))
    if len(data) - start != count:
        raise ValueError(f"IDX file holds {len(data) - start} values, its header says {count}")
    return np.frombuffer(data, dtype=np.uint8, offset=start).reshape(dims)


def _stamp(raw_dir: Path, names) -> tuple:
    return tuple((n, (raw_dir / n).stat().st_size, (raw_dir / n).stat().st_mtime_ns) for n in names)


@lru_cache(maxsize=8)
def _problems(raw_dir: str, kind: str, stamp: tuple) -> tuple[str, ...]:
    """One line per file of layout ``kind`` whose size or md5 is not the expected one."""
    expected = dict(_LAYOUTS)[kind]
    out = []
    for name, size, _ in stamp:
        want_size, want_md5 = expected[name]
        path = Path(raw_dir) / name
        if size != want_size:
            out.append(f"{path} has {size:,} bytes, expected {want_size:,}")
            continue
        md5 = file_digest(path, "md5")
        if md5 != want_md5:
            out.append(f"{path} has md5 {md5}, expected {want_md5}")
    return tuple(out)


@lru_cache(maxsize=4)
def _decode(raw_dir: str, kind: str, stamp: tuple) -> tuple[np.ndarray, ...]:
    arrays = []
    for name, _, _ in stamp:
        path = Path(raw_dir) / name
        if kind == "gz":
            with gzip.open(path, "rb") as fh:
                arrays.append(read_idx(fh.read()))
        else:
            arrays.append(read_idx(path.read_bytes()))
    return tuple(arrays)


def _verified(raw: Path) -> tuple[tuple | None, list[str], dict[str, list[str]]]:
    """``(arrays or None, problems of complete layouts, files present of incomplete ones)``."""
    problems: list[str] = []
    partial: dict[str, list[str]] = {}
    for kind, expected in _LAYOUTS:
        present = [n for n in expected if (raw / n).is_file()]
        if len(present) < len(expected):
            if present:
                partial[kind] = present
            continue
        stamp = _stamp(raw, expected)
        bad = _problems(str(raw), kind, stamp)
        if not bad:
            return _decode(str(raw), kind, stamp), [], partial
        problems += bad
    return None, problems, partial


def _arrays(root: Path, download: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images and labels, verified: (train x, train y, test x, test y)."""
    raw = root / "MNIST" / "raw"
    arrays, problems, partial = _verified(raw)
    if arrays is not None:
        return arrays
    if problems:
        raise DamagedDataError(
            f"MNIST files under {raw} are damaged and were not read: " + "; ".join(problems)
            + ". Replace them with good copies (or delete them to download them again). " + _HOW
        )
    expected = list(MNIST_FILES)
    present = [n for names in partial.values() for n in names]
    detail = f"only {', '.join(present)} present; " if present else ""
    if not download:
        raise MissingDataError(missing_files_message("MNIST", root, expected, _HOW)
                               + f"\n({detail}download=False)")
    try:
        from torchvision.datasets import MNIST
    except ImportError as err:  # pragma: no cover - torchvision is a dependency
        raise MissingDataError(missing_files_message("MNIST", root, expected, _HOW)
                               + f"\n(torchvision is needed to download: {err})") from None
    try:
        MNIST(root=str(root), train=True, download=True)
        MNIST(root=str(root), train=False, download=True)
    except (RuntimeError, OSError, ValueError) as err:
        raise MissingDataError(missing_files_message("MNIST", root, expected, _HOW)
                               + f"\n({detail}download failed: {err})") from None
    return _arrays(root, download=False)  # what was downloaded is verified like the rest


def load_mnist(data_dir=None, classes: Sequence[int] | None = None, download: bool = True) -> ALData:
    """MNIST as an :class:`~deimos_utils.data.aldata.ALData` bundle.

    Parameters
    ----------
    data_dir : folder holding ``MNIST/raw/`` (default: see :func:`resolve_data_dir`).
    classes : digits to keep, e.g. ``(7, 9)``; labels are remapped to their position in
        ``classes`` (7 -> 0, 9 -> 1). None keeps all ten digits with their own labels.
    download : let torchvision download the files when they are absent.

    Returns
    -------
    ALData with ``x_pool`` (P, 1, 28, 28) float32 in [0, 1] (the training images of the kept
    classes), ``y_pool`` (P,) int64, ``x_test``/``y_test`` from the official test set,
    ``pool_ids``/``test_ids`` the indices into the 60,000 / 10,000 original images.

    Raises
    ------
    MissingDataError
        The files are absent and could not be downloaded; the message lists the four files
        expected under the data directory.
    DamagedDataError
        (a MissingDataError) a file's size or md5 is not MNIST's; the message names it.
    ValueError
        ``classes`` holds a digit outside 0..9, a repeat, or fewer than two digits.
    """
    if classes is not None:
        classes = tuple(int(c) for c in classes)
        if len(classes) < 2 or len(set(classes)) != len(classes) or not all(0 <= c <= 9 for c in classes):
            raise ValueError(f"classes must be two or more distinct digits 0..9, got {classes}")
    root = resolve_data_dir(data_dir)
    xtr, ytr, xte, yte = _arrays(root, download)
    keep = tuple(range(10)) if classes is None else classes
    lut = np.full(10, -1, dtype=np.int64)
    lut[list(keep)] = np.arange(len(keep))

    def select(x, y):
        y = y.astype(np.int64)
        idx = np.flatnonzero(np.isin(y, keep))
        xs = torch.from_numpy(x[idx].astype(np.float32) / 255.0).unsqueeze(1)
        return xs, torch.from_numpy(lut[y[idx]]), idx

    x_pool, y_pool, pool_ids = select(xtr, ytr)
    x_test, y_test, test_ids = select(xte, yte)
    name = "MNIST" if classes is None else "MNIST " + " vs ".join(str(c) for c in classes)
    return ALData(x_pool, y_pool, x_test, y_test, task="classification", n_classes=len(keep),
                  name=name, pool_ids=pool_ids, test_ids=test_ids,
                  class_names=tuple(str(c) for c in keep), source="MNIST (LeCun et al.)")

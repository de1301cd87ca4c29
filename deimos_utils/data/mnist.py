"""MNIST for the active-learning loop: the 60,000 training images as the pool, the official
10,000 as the test set, optionally restricted to a class subset (7 vs 9).

Files: ``<data_dir>/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz``, the layout of
``torchvision.datasets.MNIST(root=data_dir)`` (see :mod:`deimos_utils.data.paths` for the data
directory). When the four ``.gz`` files are there and their md5s match torchvision's, they are
decoded directly, writing nothing (the data folder may be read-only). When torchvision's
extracted files are there, torchvision reads them. Otherwise, with ``download=True``,
``torchvision.datasets.MNIST(root=data_dir, download=True)`` fetches them; when that fails too
(no network), :class:`~deimos_utils.data.paths.MissingDataError` names the files expected.
Decoded arrays are kept in memory for the rest of the process.
"""
from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from ..config import ALData
from .paths import MissingDataError, file_digest, missing_files_message, resolve_data_dir

__all__ = ["MNIST_FILES", "MNIST_MD5", "load_mnist", "mnist_raw_dir", "read_idx"]

MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
"""md5 of each file, as in ``torchvision.datasets.MNIST.resources``."""
MNIST_FILES = tuple(f"MNIST/raw/{name}" for name in MNIST_MD5)
"""The four files expected below the data directory."""

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




@lru_cache(maxsize=4)
def _decode_gz(raw_dir: str, stamp: tuple) -> dict[str, np.ndarray]:
    out = {}
    for name in MNIST_MD5:
        with gzip.open(Path(raw_dir) / name, "rb") as fh:
            out[name] = read_idx(fh.read())
    return out


@lru_cache(maxsize=4)
def _gz_valid(raw_dir: str, stamp: tuple) -> bool:
    return all(file_digest(Path(raw_dir) / name, "md5") == md5 for name, md5 in MNIST_MD5.items())


def _stamp(raw_dir: Path) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                 for p in (raw_dir / name for name in MNIST_MD5))


def _arrays(root: Path, download: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images and labels: (train x, train y, test x, test y)."""
    raw = root / "MNIST" / "raw"
    present = [name for name in MNIST_MD5 if (raw / name).is_file()]
    if len(present) == len(MNIST_MD5):
        stamp = _stamp(raw)
        if _gz_valid(str(raw), stamp):
            d = _decode_gz(str(raw), stamp)
            return (d["train-images-idx3-ubyte.gz"], d["train-labels-idx1-ubyte.gz"],
                    d["t10k-images-idx3-ubyte.gz"], d["t10k-labels-idx1-ubyte.gz"])
    try:
        from torchvision.datasets import MNIST
    except ImportError as err:  # pragma: no cover - torchvision is a dependency
        raise MissingDataError(
            missing_files_message("MNIST", root, list(MNIST_FILES), _HOW)
            + f"\n(torchvision is needed to download or read extracted files: {err})"
        ) from None
    try:
        train = MNIST(root=str(root), train=True, download=download)
        test = MNIST(root=str(root), train=False, download=download)
    except (RuntimeError, OSError, ValueError) as err:
        if len(present) == len(MNIST_MD5):
            detail = "the four files are present but their md5s differ from torchvision's; "
        elif present:
            detail = f"only {', '.join(present)} present; "
        else:
            detail = ""
        raise MissingDataError(
            missing_files_message("MNIST", root, list(MNIST_FILES), _HOW)
            + f"\n({detail}{'download failed' if download else 'download=False'}: {err})"
        ) from None
    return (train.data.numpy(), train.targets.numpy(), test.data.numpy(), test.targets.numpy())


def load_mnist(data_dir=None, classes: Sequence[int] | None = None, download: bool = True) -> ALData:
    """MNIST as an :class:`~deimos_utils.config.ALData` bundle.

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
        The files are absent or corrupt and could not be downloaded; the message lists the
        four files expected under the data directory.
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

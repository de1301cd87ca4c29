"""UTKFace face-age regression data ("Aligned & Cropped Faces", 23,708 images).

The age in years is the first field of each file name, ``age_gender_race_date.jpg.chip.jpg``
(gender 0 male / 1 female; race 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others). Three names of
the original release carry no race field and one has a space before ``.jpg.chip.jpg``; both
are handled. A file that does not decode, or whose name carries no valid age, is left out and
reported by name (a warning, and :attr:`UTKFaceData.skipped`), never given a made-up label.

Sources, looked up below the data directory (see :mod:`deimos_utils.data.paths`):

* a folder of the original files, ``<data_dir>/UTKFace/*.jpg.chip.jpg`` (what unpacking
  ``UTKFace.tar.gz`` from the UTKFace site gives), or ``data_dir`` pointing at that folder;
* the tar.gz shards ``<data_dir>/UTKFace/UTKFace_part{1..4}of4.tar.gz`` (the same files,
  stored as ``UTKFace/<name>`` in each archive).

Images are decoded once (PIL, RGB, centre-cropped to a square if needed, Lanczos-resized to
``resolution x resolution``) and cached as uint8 in an ``.npz`` file together with a
fingerprint of the source and the resolution; a cache that no longer matches its source is
rebuilt. The default cache folder is ``<data_dir>/cache/``, or the user cache
(``$XDG_CACHE_HOME/deimos``, default ``~/.cache/deimos``) when the data folder is read-only.

Licence: UTKFace is for non-commercial research only. Never commit the images, nor the cache
files (they hold the images).
"""
from __future__ import annotations

import hashlib
import io
import itertools
import json
import logging
import multiprocessing
import os
import re
import stat
import sys
import tarfile
import tempfile
import warnings
import zlib
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from .paths import DamagedDataError, MissingDataError, file_digest, missing_files_message, resolve_data_dir

__all__ = [
    "UTKFACE_URL",
    "N_UTKFACE",
    "UTKFaceData",
    "load_utkface",
    "parse_utkface_name",
    "utkface_cache_path",
]

logger = logging.getLogger(__name__)

UTKFACE_URL = "https://susanqq.github.io/UTKFace/"
N_UTKFACE = 23_708
"""Number of images in the "Aligned & Cropped Faces" release."""
CHIP_SUFFIX = ".jpg.chip.jpg"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
MAX_AGE = 130
"""Largest age accepted from a file name (the release spans 1..116)."""
SHARD_PATTERN = re.compile(r"^UTKFace_part(\d+)of(\d+)\.tar\.gz$")
DEFAULT_SHARDS = tuple(f"UTKFace_part{i}of4.tar.gz" for i in range(1, 5))
CACHE_VERSION = 2  # 2: images stored channels first
RESAMPLE = "lanczos"
_CHUNK = 64
_MIN_ITEMS_FOR_POOL = 2_000


# --------------------------------------------------------------------------------------------
# Result


@dataclass(frozen=True, eq=False)
class UTKFaceData:
    """UTKFace images and ages, in file-name order.

    Attributes
    ----------
    x : torch.Tensor
        (N, 3, R, R) float32 RGB in [0, 1] (uint8 / 255), channels first; R = ``resolution``.
    y : torch.Tensor
        (N,) float32 age in years.
    names : tuple of str
        (N,) original file names (sorted), the ids of the images.
    gender : torch.Tensor
        (N,) int64: 0 male, 1 female, -1 absent from the name.
    race : torch.Tensor
        (N,) int64: 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others, -1 absent from the name.
    resolution : int
        Side R of the square images, in pixels.
    skipped : tuple of (name, reason)
        Files left out: no valid age in the name, undecodable image, or duplicate name.
    source : str
        ``"UTKFace (Aligned & Cropped)"``, for titles.
    path : str
        Folder or shard folder the images came from.
    cache_file : str or None
        The cache read or written (None when no cache could be written).
    from_cache : bool
        True when the images came from the cache, False when they were decoded.
    """

    x: torch.Tensor
    y: torch.Tensor
    names: tuple[str, ...]
    gender: torch.Tensor
    race: torch.Tensor
    resolution: int
    skipped: tuple[tuple[str, str], ...]
    source: str
    path: str
    cache_file: str | None
    from_cache: bool

    def __len__(self) -> int:
        return len(self.names)

    @property
    def images_uint8(self) -> np.ndarray:
        """(N, R, R, 3) uint8 images (channels last), e.g. for display."""
        return (self.x.permute(0, 2, 3, 1).numpy() * 255.0).round().astype(np.uint8)

    def __repr__(self) -> str:
        return (
            f"UTKFaceData(n={len(self)}, resolution={self.resolution}, "
            f"ages {int(self.y.min()) if len(self) else '-'}..{int(self.y.max()) if len(self) else '-'}, "
            f"skipped={len(self.skipped)}, path={self.path!r}, from_cache={self.from_cache})"
        )


# --------------------------------------------------------------------------------------------
# File names


def parse_utkface_name(name: str) -> tuple[int, int, int]:
    """``(age, gender, race)`` from a UTKFace file name; -1 for an absent gender or race.

    ``"24_0_1_20170116220224657 .jpg.chip.jpg"`` -> ``(24, 0, 1)``;
    ``"39_1_20170116174525125.jpg.chip.jpg"`` (no race field) -> ``(39, 1, -1)``.

    Raises
    ------
    ValueError
        When the name carries no valid age (not an integer in 0..``MAX_AGE``).
    """
    base = os.path.basename(name)
    if base.lower().endswith(CHIP_SUFFIX):
        base = base[: -len(CHIP_SUFFIX)]
    else:
        base = os.path.splitext(base)[0]
    parts = [p.strip() for p in base.strip().split("_")]
    age_text = parts[0]
    if not (age_text.isascii() and age_text.isdigit()):
        raise ValueError(f"no age in file name {name!r} (expected age_gender_race_date{CHIP_SUFFIX})")
    age = int(age_text)
    if not 0 <= age <= MAX_AGE:
        raise ValueError(f"age {age} out of range 0..{MAX_AGE} in file name {name!r}")
    # age_gender_race_date has 4 fields; age_gender_date (race missing) has 3.
    gender = int(parts[1]) if len(parts) >= 3 and parts[1] in ("0", "1") else -1
    race = int(parts[2]) if len(parts) >= 4 and parts[2] in ("0", "1", "2", "3", "4") else -1
    return age, gender, race


def _is_image_name(name: str) -> bool:
    return not name.startswith(".") and name.lower().endswith(IMAGE_SUFFIXES)


# --------------------------------------------------------------------------------------------
# Sources


@dataclass(frozen=True)
class _Source:
    kind: str  # "folder" or "shards"
    directory: Path
    files: tuple[Path, ...]  # images (folder) or shards (shards)


def _list_images(directory: Path) -> list[Path]:
    with os.scandir(directory) as it:
        found = [Path(e.path) for e in it if _is_image_name(e.name) and e.is_file()]
    return sorted(found, key=lambda p: p.name)


def _list_shards(directory: Path) -> list[Path]:
    shards = []
    for p in directory.iterdir():
        if SHARD_PATTERN.match(p.name) and p.is_file():
            shards.append(p)
    return sorted(shards, key=lambda p: int(SHARD_PATTERN.match(p.name).group(1)))


def _missing_message(root: Path) -> str:
    expected = [
        f"UTKFace/<age>_<gender>_<race>_<date>{CHIP_SUFFIX}   ({N_UTKFACE:,} images, unpacked), or",
        *[f"UTKFace/{s}" for s in DEFAULT_SHARDS],
    ]
    how = (
        f'Get "Aligned&Cropped Faces" (UTKFace.tar.gz) from {UTKFACE_URL} (non-commercial research '
        f"use only) and unpack it in {root}, so that the images sit in {root / 'UTKFace'}/."
    )
    return missing_files_message("UTKFace", root, expected, how)


def _find_source(root: Path) -> _Source:
    """The folder of images or the complete set of shards under ``root``."""
    for directory in (root / "UTKFace", root):
        if not directory.is_dir():
            continue
        images = _list_images(directory)
        if images:
            return _Source("folder", directory, tuple(images))
        shards = _list_shards(directory)
        if shards:
            totals = {int(SHARD_PATTERN.match(p.name).group(2)) for p in shards}
            total = max(totals)
            have = {int(SHARD_PATTERN.match(p.name).group(1)) for p in shards}
            wanted = [f"UTKFace_part{i}of{total}.tar.gz" for i in range(1, total + 1)]
            missing = [w for w in wanted if not (directory / w).is_file()]
            if missing or len(totals) > 1 or not have <= set(range(1, total + 1)):
                raise MissingDataError(
                    f"UTKFace shards incomplete in {directory}: found "
                    f"{', '.join(p.name for p in shards)}; missing {', '.join(missing) or '-'} "
                    f"(expected exactly {', '.join(wanted)}).\n" + _missing_message(root)
                )
            return _Source("shards", directory, tuple(directory / w for w in wanted))
    raise MissingDataError(_missing_message(root))




def _fingerprint(source: _Source, previous: dict | None = None) -> dict:
    """What the cache must match: names + sizes (folder) or name/size/sha256 of each shard.

    For shards, a sha256 is recomputed only when size or mtime differ from ``previous`` (the
    fingerprint stored in a cache), so a cache hit costs a ``stat`` per shard.
    """
    if source.kind == "folder":
        h = hashlib.sha256()
        for p in source.files:
            h.update(f"{p.name}\t{p.stat().st_size}\n".encode("utf-8", "surrogateescape"))
        return {"kind": "folder", "n_files": len(source.files), "digest": h.hexdigest()}
    old = {}
    if previous and previous.get("kind") == "shards":
        old = {f["name"]: f for f in previous.get("files", [])}
    files = []
    for p in source.files:
        st = p.stat()
        prev = old.get(p.name)
        if prev and prev.get("size") == st.st_size and prev.get("mtime_ns") == st.st_mtime_ns:
            digest = prev["sha256"]
        else:
            digest = file_digest(p)
        files.append({"name": p.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest})
    return {"kind": "shards", "files": files}


def _same_source(a: dict, b: dict) -> bool:
    """Fingerprints match (mtimes of shards are a shortcut only, not part of the identity)."""

    def strip(fp: dict) -> dict:
        if fp.get("kind") != "shards":
            return fp
        files = [{k: f[k] for k in ("name", "size", "sha256")} for f in fp["files"]]
        return {"kind": "shards", "files": files}

    return strip(a) == strip(b)


def _iter_items(source: _Source) -> Iterator[tuple[str, bytes]]:
    """``(file name, raw bytes)`` of every image file in the source."""
    if source.kind == "folder":
        for p in source.files:
            yield p.name, p.read_bytes()
        return
    for shard in source.files:
        try:
            with tarfile.open(shard, "r:gz") as tf:
                for member in tf:
                    name = member.name.rsplit("/", 1)[-1]
                    if member.isfile() and _is_image_name(name):
                        f = tf.extractfile(member)
                        yield name, f.read() if f is not None else b""
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise ValueError(
                f"UTKFace shard {shard} cannot be read ({type(exc).__name__}: {exc}); "
                "replace it with a good copy"
            ) from exc


# --------------------------------------------------------------------------------------------
# Decoding


def _decode_one(data: bytes, resolution: int) -> np.ndarray:
    """(R, R, 3) uint8: decode, RGB, centre-crop to a square, Lanczos resize."""
    with Image.open(io.BytesIO(data)) as im:
        im = im.convert("RGB")  # forces a full decode: truncated files raise here
    w, h = im.size
    if w != h:
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        im = im.crop((left, top, left + side, top + side))
    if im.size != (resolution, resolution):
        im = im.resize((resolution, resolution), Image.Resampling.LANCZOS)
    return np.asarray(im, dtype=np.uint8)


def _decode_chunk(
    chunk: list[tuple[str, bytes]], resolution: int
) -> list[tuple[str, np.ndarray | None, str]]:
    """Decode a list of ``(name, bytes)``: ``(name, image or None, reason left out)`` each."""
    out = []
    for name, data in chunk:
        try:
            out.append((name, _decode_one(data, resolution), ""))
        except Exception as exc:  # noqa: BLE001 - any decoder failure means "left out"
            detail = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc))  # no memory addresses
            out.append((name, None, f"does not decode ({type(exc).__name__}: {detail})"))
    return out


def _chunks(items: Iterable[tuple[str, bytes]], size: int) -> Iterator[list[tuple[str, bytes]]]:
    chunk: list[tuple[str, bytes]] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _pool_context():
    # fork starts workers at once and re-imports nothing; elsewhere use the platform default.
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context()


def _decode_source(source: _Source, resolution: int, progress: bool, workers: int | None) -> dict:
    """Decode every image; returns arrays in sorted-name order plus the skipped list."""
    from ..runtime import progress_bar

    if source.kind == "folder":
        expected = len(source.files)
    elif tuple(p.name for p in source.files) == DEFAULT_SHARDS:
        expected = N_UTKFACE
    else:
        expected = None  # unknown without decompressing; about 4.6 kB per compressed image
    if workers is None:
        n_cpu = os.cpu_count() or 1
        size_hint = expected if expected is not None else sum(p.stat().st_size for p in source.files) // 4600
        # On 2 shared cores a pool was not faster (23,708 images at 64 px: one process 20.9 s,
        # a pool of 2 22.5 s): the main process reads and decompresses the shards, so a pool
        # only pays off with spare cores.
        workers = min(n_cpu - 1, 4) if (n_cpu > 2 and size_hint >= _MIN_ITEMS_FOR_POOL) else 1
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")

    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()

    def labelled(items):
        # Parse names first: a file without an age is never decoded, duplicates are reported.
        for name, data in items:
            if name in seen:
                skipped.append((name, "duplicate file name (first copy kept)"))
                bar.update(1)
                continue
            seen.add(name)
            try:
                parse_utkface_name(name)
            except ValueError as exc:
                skipped.append((name, str(exc)))
                bar.update(1)
                continue
            yield name, data

    decoded: dict[str, np.ndarray] = {}
    bar = progress_bar(
        total=expected,
        desc=f"UTKFace {resolution}px",
        unit="img",
        disable=not progress,
    )
    try:
        chunks = _chunks(labelled(_iter_items(source)), _CHUNK)
        if workers == 1:
            results = (_decode_chunk(c, resolution) for c in chunks)
            pool = None
        else:
            pool = ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context())
            results = pool.map(_decode_chunk, chunks, itertools.repeat(resolution))
        try:
            for out in results:
                for name, arr, reason in out:
                    if arr is None:
                        skipped.append((name, reason))
                    else:
                        decoded[name] = arr
                bar.update(len(out))
        finally:
            if pool is not None:
                pool.shutdown(cancel_futures=True)
    finally:
        bar.close()

    names = sorted(decoded)
    labels = np.array([parse_utkface_name(n) for n in names], dtype=np.int64).reshape(-1, 3)
    images = np.zeros((len(names), 3, resolution, resolution), dtype=np.uint8)  # channels first
    for i, n in enumerate(names):
        images[i] = decoded.pop(n).transpose(2, 0, 1)
    skipped.sort()
    return {
        "images": images,
        "ages": labels[:, 0].astype(np.int16),
        "gender": labels[:, 1].astype(np.int8),
        "race": labels[:, 2].astype(np.int8),
        "names": names,
        "skipped": skipped,
    }


# --------------------------------------------------------------------------------------------
# Cache


def _user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "deimos"


def utkface_cache_path(cache_dir: str | os.PathLike, source_dir: str | os.PathLike, resolution: int) -> Path:
    """Cache file for a source folder and resolution: ``utkface_<R>px_<key>.npz``.

    ``key`` hashes the source folder's path, so several data folders can share one cache folder.
    """
    key = hashlib.sha256(str(Path(source_dir).resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    return Path(cache_dir) / f"utkface_{int(resolution)}px_{key}.npz"


def _read_cache(path: Path, resolution: int, source: _Source) -> tuple[dict | None, dict | None]:
    """``(arrays, fingerprint)`` when ``path`` is a valid cache for the source, else
    ``(None, stored meta or None)``."""
    if not path.is_file():
        return None, None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("version") != CACHE_VERSION or meta.get("resolution") != resolution:
                return None, meta
            fingerprint = _fingerprint(source, previous=meta.get("fingerprint"))
            if not _same_source(fingerprint, meta.get("fingerprint", {})):
                logger.info("UTKFace cache %s does not match its source any more: rebuilding", path)
                return None, meta
            arrays = {
                "images": z["images"],
                "ages": z["ages"],
                "gender": z["gender"],
                "race": z["race"],
                "names": [str(n) for n in z["names"]],
                "skipped": [(str(n), str(r)) for n, r in zip(z["skipped_names"], z["skipped_reasons"])],
            }
    except Exception as exc:  # noqa: BLE001 - an unreadable cache is rebuilt
        warnings.warn(f"UTKFace cache {path} is unreadable ({type(exc).__name__}: {exc}); rebuilding it.")
        return None, None
    shape_ok = arrays["images"].shape[1:] == (3, resolution, resolution)
    if not shape_ok or len(arrays["names"]) != len(arrays["ages"]):
        return None, meta
    return arrays, fingerprint


def _writable_dir(path: Path) -> bool:
    """Whether ``path`` (or, if absent, its first existing parent) may be written.

    A folder without any write permission bit counts as read-only even for root, so a
    read-only data folder is never written into by a privileged process.
    """
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    if not p.is_dir():
        return False
    mode = p.stat().st_mode
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(p, os.W_OK)


def _write_cache(path: Path, arrays: dict, meta: dict) -> None:
    if not _writable_dir(path.parent):
        raise PermissionError(f"{path.parent} is read-only")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(
                f,
                images=arrays["images"],
                ages=arrays["ages"],
                gender=arrays["gender"],
                race=arrays["race"],
                names=np.array(arrays["names"], dtype=str),
                skipped_names=np.array([n for n, _ in arrays["skipped"]], dtype=str),
                skipped_reasons=np.array([r for _, r in arrays["skipped"]], dtype=str),
                meta=np.array(json.dumps(meta)),
            )
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a cache may be shared
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# --------------------------------------------------------------------------------------------
# Loader


def _check_complete(n_files: int, source: _Source) -> None:
    """Refuse a source with fewer image files than the release (see ``allow_partial``)."""
    if n_files >= N_UTKFACE:
        return
    what = "image files" if source.kind == "folder" else "image files in its shards"
    raise DamagedDataError(
        f"UTKFace: {source.directory} holds {n_files:,} {what}; the release has {N_UTKFACE:,}. "
        "Unpack the complete release there (see " + UTKFACE_URL + "), or pass "
        "allow_partial=True to load_utkface to use these files only."
    )


def _cached_or_decoded(source, resolution: int, cache_dirs: list, cache_paths: list, progress: bool,
                       workers, use_cache: bool) -> tuple:
    """``(arrays, fingerprint, used_cache, from_cache)``: the first readable cache of
    ``cache_paths``, else the decoded ``source`` (written to the first writable cache)."""
    arrays = fingerprint = None
    used_cache: Path | None = None
    from_cache = False
    previous = None
    if use_cache:
        for path in cache_paths:
            arrays, fp = _read_cache(path, resolution, source)
            if arrays is not None:
                fingerprint, used_cache, from_cache = fp, path, True
                logger.info("UTKFace: %d images read from cache %s", len(arrays["names"]), path)
                break
            if fp is not None and previous is None:
                previous = fp.get("fingerprint")

    if arrays is None:
        logger.info("UTKFace: decoding %s (%s) at %dpx", source.directory, source.kind, resolution)
        arrays = _decode_source(source, resolution, progress, workers)
        if use_cache:
            fingerprint = _fingerprint(source, previous=previous)
            meta = {
                "version": CACHE_VERSION,
                "resolution": resolution,
                "resample": RESAMPLE,
                "source_kind": source.kind,
                "source_dir": str(source.directory),
                "fingerprint": fingerprint,
            }
            for path in cache_paths:
                try:
                    _write_cache(path, arrays, meta)
                except OSError as exc:
                    logger.info("UTKFace: cannot write cache %s (%s)", path, exc)
                    continue
                used_cache = path
                break
            else:
                warnings.warn(
                    "UTKFace: could not write a cache in "
                    + " or ".join(str(d) for d in cache_dirs)
                    + "; the images will be decoded again next time."
                )
    return arrays, fingerprint, used_cache, from_cache


def load_utkface(
    data_dir: str | os.PathLike | None = None,
    resolution: int = 64,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    *,
    use_cache: bool = True,
    workers: int | None = None,
    allow_partial: bool = False,
) -> UTKFaceData:
    """Load UTKFace (Aligned & Cropped) at ``resolution x resolution``, from cache when possible.

    Parameters
    ----------
    data_dir : path, optional
        Data folder (see :func:`resolve_data_dir`); the images or shards are looked up in
        ``<data_dir>/UTKFace/``, then in ``data_dir`` itself.
    resolution : int
        Side of the square images in pixels (the originals are 200; the paper used 200, which
        costs about 11 GB as float32 for all 23,708 images).
    cache_dir : path, optional
        Folder for the cache; default ``<data_dir>/cache`` or, when that cannot be written,
        ``$XDG_CACHE_HOME/deimos`` (``~/.cache/deimos``).
    progress : bool
        Show a tqdm bar while decoding.
    use_cache : bool
        Read and write the cache (False: always decode, write nothing).
    workers : int, optional
        Decoding processes; default: ``min(cpus - 1, 4)`` when there are more than 2 CPUs and
        2,000 or more files, else 1 (in-process; on 2 cores a pool was not faster).
    allow_partial : bool
        Accept a source with fewer files than the release's 23,708 (a subset, e.g. for a
        quick test). By default such a folder or set of shards is refused, saying how many
        files it holds: a copy that lost files would otherwise load without a word.

    Returns
    -------
    UTKFaceData
        ``x`` (N, 3, R, R) float32 in [0, 1], ``y`` (N,) float32 ages, ``names``, ``gender``,
        ``race``, ``skipped`` and provenance. With the full release N = 23,708.

    Raises
    ------
    MissingDataError
        No images or shards found (or an incomplete set of shards); the message lists the
        expected files and where to get them.
    DamagedDataError
        (a MissingDataError) fewer files than the release and ``allow_partial`` is False.
    ValueError
        Bad ``resolution`` or ``workers``, or no file with a valid age decoded.
    """
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise ValueError(f"resolution must be a positive integer, got {resolution!r}")
    resolution = int(resolution)
    root = resolve_data_dir(data_dir)
    source = _find_source(root)
    if source.kind == "folder" and not allow_partial:
        _check_complete(len(source.files), source)  # before decoding anything

    if cache_dir is not None:
        cache_dirs = [Path(cache_dir).expanduser()]
    else:
        cache_dirs = [root / "cache", _user_cache_dir()]
    cache_paths = [utkface_cache_path(d, source.directory, resolution) for d in cache_dirs]

    arrays, fingerprint, used_cache, from_cache = _cached_or_decoded(
        source, resolution, cache_dirs, cache_paths, progress, workers, use_cache)

    skipped = tuple((str(n), str(r)) for n, r in arrays["skipped"])
    if skipped:
        shown = "; ".join(f"{n!r}: {r}" for n, r in skipped[:20])
        more = f"; and {len(skipped) - 20} more" if len(skipped) > 20 else ""
        warnings.warn(f"UTKFace: left out {len(skipped)} file(s): {shown}{more}", stacklevel=2)
    if len(arrays["names"]) == 0:
        raise ValueError(f"UTKFace: no image with a valid age decoded in {source.directory}")
    n_files = len(arrays["names"]) + len(skipped)
    if not allow_partial:
        _check_complete(n_files, source)
    elif n_files < N_UTKFACE:
        logger.info("UTKFace: %d files in %s (the full release has %d)", n_files,
                    source.directory, N_UTKFACE)

    x = torch.from_numpy(np.ascontiguousarray(arrays["images"])).to(torch.float32).div_(255.0)
    return UTKFaceData(
        x=x,
        y=torch.from_numpy(np.asarray(arrays["ages"], dtype=np.float32)),
        names=tuple(arrays["names"]),
        gender=torch.from_numpy(np.asarray(arrays["gender"], dtype=np.int64)),
        race=torch.from_numpy(np.asarray(arrays["race"], dtype=np.int64)),
        resolution=resolution,
        skipped=skipped,
        source="UTKFace (Aligned & Cropped)",
        path=str(source.directory),
        cache_file=str(used_cache) if used_cache is not None else None,
        from_cache=from_cache,
    )

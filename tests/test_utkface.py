"""UTKFace loader on tiny fake JPEGs written in the original naming scheme and formats.

No real face is used here: the licence of UTKFace forbids committing its images.
"""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import deimos_utils.data.utkface as utk
from deimos_utils.data.paths import MissingDataError
from deimos_utils.data.utkface import UTKFACE_URL, load_utkface, parse_utkface_name

# name -> (age, gender, race) for the files that must load
GOOD = {
    "25_0_1_20170101000000001.jpg.chip.jpg": (25, 0, 1),
    "3_1_2_20170101000000002.jpg.chip.jpg": (3, 1, 2),
    "24_0_1_20170116220224657 .jpg.chip.jpg": (24, 0, 1),  # space before the suffix
    "39_1_20170116174525125.jpg.chip.jpg": (39, 1, -1),  # no race field
    "116_0_4_20170101000000004.jpg.chip.jpg": (116, 0, 4),
}
CORRUPT = "40_0_0_20170101000000005.jpg.chip.jpg"
TRUNCATED = "41_1_0_20170101000000006.jpg.chip.jpg"
NO_AGE = "unknown_0_0_20170101000000007.jpg.chip.jpg"
BAD = {CORRUPT, TRUNCATED, NO_AGE}
COLOURS = {
    "25_0_1_20170101000000001.jpg.chip.jpg": (200, 30, 30),
    "3_1_2_20170101000000002.jpg.chip.jpg": (30, 200, 30),
    "24_0_1_20170116220224657 .jpg.chip.jpg": (30, 30, 200),
}


def _jpeg(seed: int, size=(24, 24), mode="RGB", colour=None) -> bytes:
    if colour is not None:
        im = Image.new("RGB", size, colour)
    else:
        rng = np.random.default_rng(seed)
        shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
        im = Image.fromarray(rng.integers(0, 256, size=shape, dtype=np.uint8), mode)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=95)
    return buf.getvalue()


def _files() -> dict[str, bytes]:
    files = {}
    for i, name in enumerate(GOOD):
        if name in COLOURS:
            files[name] = _jpeg(i, colour=COLOURS[name])
        elif name.startswith("39_"):
            files[name] = _jpeg(i, size=(20, 20), mode="L")  # greyscale
        else:
            files[name] = _jpeg(i, size=(30, 20))  # not square: centre-cropped
    files[CORRUPT] = b"this is not a jpeg"
    files[TRUNCATED] = _jpeg(99, size=(40, 40))[:300]
    files[NO_AGE] = _jpeg(7)
    return files


def _write_folder(folder, files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)
    (folder / "README.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0")
    return folder


def _write_shards(folder, files, n_shards=2):
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted(files)
    paths = []
    for k in range(n_shards):
        path = folder / f"UTKFace_part{k + 1}of{n_shards}.tar.gz"
        with tarfile.open(path, "w:gz") as tf:
            d = tarfile.TarInfo("UTKFace")
            d.type = tarfile.DIRTYPE
            tf.addfile(d)
            for name in names[k::n_shards]:
                info = tarfile.TarInfo(f"UTKFace/{name}")
                info.size = len(files[name])
                tf.addfile(info, io.BytesIO(files[name]))
        paths.append(path)
    return paths


def _reference_pixels(data: bytes, r: int) -> np.ndarray:
    """(3, r, r) uint8: PIL decode, RGB, centre square crop, Lanczos resize."""
    im = Image.open(io.BytesIO(data)).convert("RGB")
    w, h = im.size
    s = min(w, h)
    im = im.crop(((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s))
    im = im.resize((r, r), Image.Resampling.LANCZOS)
    return np.asarray(im).transpose(2, 0, 1)


def _load(*args, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("allow_partial", True)  # the fake folders hold a handful of files
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_utkface(*args, **kwargs)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("25_0_1_20170101000000001.jpg.chip.jpg", (25, 0, 1)),
        ("24_0_1_20170116220224657 .jpg.chip.jpg", (24, 0, 1)),
        ("39_1_20170116174525125.jpg.chip.jpg", (39, 1, -1)),
        ("61_1_20170109142408075.jpg.chip.jpg", (61, 1, -1)),
        ("1_0_0_20161219140623097.jpg.chip.jpg", (1, 0, 0)),
        ("some/dir/116_1_3_20170101.jpg.chip.jpg", (116, 1, 3)),
        ("30_0_3_2017.jpg", (30, 0, 3)),
    ],
)
def test_parse_names(name, expected):
    assert parse_utkface_name(name) == expected


@pytest.mark.parametrize(
    "name", ["unknown_0_0_2017.jpg.chip.jpg", "_0_0_2017.jpg.chip.jpg", "-3_0_0_2017.jpg.chip.jpg",
             "131_0_0_2017.jpg.chip.jpg", "x.jpg.chip.jpg", "2.5_0_0_2017.jpg.chip.jpg"],
)
def test_parse_names_without_valid_age(name):
    with pytest.raises(ValueError, match="age"):
        parse_utkface_name(name)


def test_folder_labels_pixels_and_bad_files_reported(tmp_path):
    files = _files()
    _write_folder(tmp_path / "UTKFace", files)
    with pytest.warns(UserWarning, match="left out 3 file") as record:
        data = load_utkface(tmp_path, resolution=8, progress=False, allow_partial=True)
    message = " ".join(str(w.message) for w in record)
    for name in BAD:
        assert name in message

    names = sorted(GOOD)
    assert data.names == tuple(names)
    assert {n for n, _ in data.skipped} == BAD
    reasons = dict(data.skipped)
    assert "no age" in reasons[NO_AGE]
    assert "does not decode" in reasons[CORRUPT] and "does not decode" in reasons[TRUNCATED]
    assert data.y.dtype == torch.float32 and data.y.shape == (len(names),)
    assert data.y.tolist() == [GOOD[n][0] for n in names]
    assert data.gender.tolist() == [GOOD[n][1] for n in names]
    assert data.race.tolist() == [GOOD[n][2] for n in names]
    assert data.x.dtype == torch.float32 and data.x.shape == (len(names), 3, 8, 8)
    assert float(data.x.min()) >= 0.0 and float(data.x.max()) <= 1.0
    for i, name in enumerate(names):
        got = np.rint(data.x[i].numpy() * 255).astype(np.uint8)
        np.testing.assert_array_equal(got, _reference_pixels(files[name], 8))
        if name in COLOURS:  # channels first, in R, G, B order
            for c, value in enumerate(COLOURS[name]):
                assert np.abs(got[c].astype(int) - value).max() <= 4
    assert data.images_uint8.shape == (len(names), 8, 8, 3)
    assert len(data) == len(names) and data.source.startswith("UTKFace")


def test_directory_given_directly_and_shards_match_folder(tmp_path):
    files = _files()
    folder = _write_folder(tmp_path / "a" / "UTKFace", files)
    _write_shards(tmp_path / "b" / "UTKFace", files)
    from_root = _load(tmp_path / "a", resolution=6, use_cache=False)
    direct = _load(folder, resolution=6, use_cache=False)
    shards = _load(tmp_path / "b", resolution=6, use_cache=False)
    assert direct.path == from_root.path == str(folder)
    for other in (direct, shards):
        assert other.names == from_root.names
        assert other.skipped == from_root.skipped
        assert torch.equal(other.x, from_root.x) and torch.equal(other.y, from_root.y)
        assert torch.equal(other.race, from_root.race)


def test_env_var_used_when_no_argument(tmp_path, monkeypatch):
    _write_folder(tmp_path / "UTKFace", _files())
    monkeypatch.setenv("DEIMOS_DATA_DIR", str(tmp_path))
    assert _load(resolution=4, use_cache=False).names == tuple(sorted(GOOD))


def test_missing_data_error_names_the_files(tmp_path):
    with pytest.raises(MissingDataError) as info:
        load_utkface(tmp_path, progress=False)
    text = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    for needle in (".jpg.chip.jpg", "UTKFace_part1of4.tar.gz", "UTKFace_part4of4.tar.gz", UTKFACE_URL,
                   "Aligned&Cropped", str(tmp_path)):
        assert needle in text


def test_incomplete_shards_raise(tmp_path):
    paths = _write_shards(tmp_path / "UTKFace", _files(), n_shards=3)
    paths[1].unlink()
    with pytest.raises(MissingDataError, match="UTKFace_part2of3.tar.gz"):
        load_utkface(tmp_path, progress=False)


def test_cache_hit_rebuild_on_changed_source_and_resolution(tmp_path, monkeypatch):
    files = {n: d for n, d in _files().items() if n not in BAD}
    folder = _write_folder(tmp_path / "UTKFace", files)
    first = _load(tmp_path, resolution=8)
    assert not first.from_cache
    assert first.cache_file is not None and first.cache_file.startswith(str(tmp_path / "cache"))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(utk, "_decode_chunk", no_decoding)
        hit = _load(tmp_path, resolution=8)
    assert hit.from_cache and hit.cache_file == first.cache_file
    assert hit.names == first.names and torch.equal(hit.x, first.x) and torch.equal(hit.y, first.y)
    assert torch.equal(hit.gender, first.gender) and torch.equal(hit.race, first.race)

    other_res = _load(tmp_path, resolution=5)  # another resolution: its own cache
    assert not other_res.from_cache and other_res.cache_file != first.cache_file
    assert other_res.x.shape[-1] == 5
    assert _load(tmp_path, resolution=8).from_cache and _load(tmp_path, resolution=5).from_cache

    (folder / "7_1_0_20170101000000008.jpg.chip.jpg").write_bytes(_jpeg(8))  # source changes
    rebuilt = _load(tmp_path, resolution=8)
    assert not rebuilt.from_cache and rebuilt.cache_file == first.cache_file
    assert "7_1_0_20170101000000008.jpg.chip.jpg" in rebuilt.names and len(rebuilt) == len(first) + 1
    assert _load(tmp_path, resolution=8).from_cache

    (folder / "7_1_0_20170101000000008.jpg.chip.jpg").write_bytes(_jpeg(8, size=(33, 33)))  # size only
    assert not _load(tmp_path, resolution=8).from_cache


def test_cache_keeps_the_bad_file_report(tmp_path):
    _write_folder(tmp_path / "UTKFace", _files())
    first = _load(tmp_path, resolution=4)
    with pytest.warns(UserWarning, match="left out 3"):
        hit = load_utkface(tmp_path, resolution=4, progress=False, allow_partial=True)
    assert hit.from_cache and hit.skipped == first.skipped


def test_shard_cache_survives_touch_not_content_change(tmp_path):
    files = {n: d for n, d in _files().items() if n not in BAD}
    paths = _write_shards(tmp_path / "UTKFace", files)
    assert not _load(tmp_path, resolution=4).from_cache
    st = paths[0].stat()
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))  # same bytes, new mtime
    assert _load(tmp_path, resolution=4).from_cache
    files["9_0_2_20170101000000009.jpg.chip.jpg"] = _jpeg(9)
    _write_shards(tmp_path / "UTKFace", files)
    again = _load(tmp_path, resolution=4)
    assert not again.from_cache and "9_0_2_20170101000000009.jpg.chip.jpg" in again.names


def test_shard_fingerprint_hashes_content_when_mtime_changes(tmp_path):
    paths = _write_shards(tmp_path / "UTKFace", _files())
    source = utk._find_source(tmp_path)
    before = utk._fingerprint(source)
    st = paths[0].stat()
    data = bytearray(paths[0].read_bytes())
    data[-1] ^= 0xFF  # same size, other bytes
    paths[0].write_bytes(bytes(data))
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**10))
    after = utk._fingerprint(source, previous=before)
    assert not utk._same_source(before, after)
    assert after["files"][0]["sha256"] == hashlib.sha256(bytes(data)).hexdigest()
    assert after["files"][1] == before["files"][1]


def test_damaged_shard_is_named(tmp_path):
    paths = _write_shards(tmp_path / "UTKFace", _files())
    paths[1].write_bytes(paths[1].read_bytes()[:40])
    with pytest.raises(ValueError, match="UTKFace_part2of2.tar.gz cannot be read"):
        _load(tmp_path, resolution=4, use_cache=False)


def test_cache_falls_back_when_data_dir_not_writable(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _write_folder(data / "UTKFace", {n: d for n, d in _files().items() if n not in BAD})
    (data / "cache").write_text("a file where the cache folder should be: not writable")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    first = _load(data, resolution=4)
    assert first.cache_file is not None and first.cache_file.startswith(str(tmp_path / "xdg" / "deimos"))
    assert _load(data, resolution=4).from_cache


def test_cache_falls_back_when_data_dir_is_read_only(tmp_path, monkeypatch):
    data = tmp_path / "data"
    _write_folder(data / "UTKFace", {n: d for n, d in _files().items() if n not in BAD})
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    os.chmod(data, 0o555)  # no write bit: read-only, even for root
    try:
        first = _load(data, resolution=4)
        assert not (data / "cache").exists()
        assert first.cache_file.startswith(str(tmp_path / "xdg" / "deimos"))
        assert _load(data, resolution=4).from_cache
    finally:
        os.chmod(data, 0o755)


def test_explicit_cache_dir_and_no_cache(tmp_path):
    _write_folder(tmp_path / "UTKFace", {n: d for n, d in _files().items() if n not in BAD})
    d = _load(tmp_path, resolution=4, cache_dir=tmp_path / "elsewhere")
    assert d.cache_file.startswith(str(tmp_path / "elsewhere"))
    assert _load(tmp_path, resolution=4, cache_dir=tmp_path / "elsewhere").from_cache
    n = _load(tmp_path, resolution=4, use_cache=False)
    assert n.cache_file is None and not n.from_cache and not (tmp_path / "cache").exists()


def test_unreadable_cache_is_rebuilt(tmp_path):
    _write_folder(tmp_path / "UTKFace", {n: d for n, d in _files().items() if n not in BAD})
    first = _load(tmp_path, resolution=4)
    with open(first.cache_file, "wb") as f:
        f.write(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        again = load_utkface(tmp_path, resolution=4, progress=False, allow_partial=True)
    assert not again.from_cache and torch.equal(again.x, first.x)
    assert _load(tmp_path, resolution=4).from_cache


def test_process_pool_matches_one_process(tmp_path):
    _write_shards(tmp_path / "UTKFace", _files())
    one = _load(tmp_path, resolution=6, use_cache=False, workers=1)
    two = _load(tmp_path, resolution=6, use_cache=False, workers=2)
    assert one.names == two.names and one.skipped == two.skipped and torch.equal(one.x, two.x)


def test_bad_arguments_and_nothing_usable(tmp_path):
    _write_folder(tmp_path / "UTKFace", _files())
    for bad in (0, -4, 2.5, True):
        with pytest.raises(ValueError, match="resolution"):
            load_utkface(tmp_path, resolution=bad)
    with pytest.raises(ValueError, match="workers"):
        _load(tmp_path, resolution=4, use_cache=False, workers=0)
    only_bad = tmp_path / "bad"
    _write_folder(only_bad / "UTKFace", {n: _files()[n] for n in BAD})
    with pytest.raises(ValueError, match="no image with a valid age"):
        _load(only_bad, resolution=4, use_cache=False)


def test_a_partial_release_is_refused_unless_allowed(tmp_path):
    files = {f"{20 + i}_0_1_2017010100000{i:04d}.jpg.chip.jpg": _jpeg(i, size=(8, 8)) for i in range(30)}
    _write_folder(tmp_path / "UTKFace", files)
    with pytest.raises(utk.DamagedDataError) as err:
        load_utkface(tmp_path, resolution=4, progress=False)
    msg = str(err.value)
    assert isinstance(err.value, MissingDataError)
    assert "holds 30 image files; the release has 23,708" in msg and "allow_partial=True" in msg
    assert not (tmp_path / "cache").exists()  # refused before decoding
    data = load_utkface(tmp_path, resolution=4, progress=False, allow_partial=True)
    assert len(data) == 30
    # the cache of a partial folder is refused as well
    with pytest.raises(utk.DamagedDataError, match="holds 30 image files"):
        load_utkface(tmp_path, resolution=4, progress=False)


def test_partial_shards_are_refused_unless_allowed(tmp_path):
    _write_shards(tmp_path / "UTKFace", _files())
    with pytest.raises(utk.DamagedDataError, match="holds 8 image files in its shards; the release has 23,708"):
        _load(tmp_path, resolution=4, allow_partial=False)
    assert len(_load(tmp_path, resolution=4)) == len(GOOD)

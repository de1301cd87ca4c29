"""The MNIST loader: IDX decoding, missing files, and (when present) the real data."""
import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from deimos_utils.data import mnist
from deimos_utils.data.paths import DamagedDataError, MissingDataError

REAL = Path("/work/shared/data")
HAVE_REAL = all((REAL / f).is_file() for f in mnist.MNIST_FILES)


def idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def test_read_idx_round_trip():
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(5, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=5, dtype=np.uint8)
    np.testing.assert_array_equal(mnist.read_idx(idx_bytes(imgs)), imgs)
    np.testing.assert_array_equal(mnist.read_idx(idx_bytes(labels)), labels)
    with pytest.raises(ValueError, match="header"):
        mnist.read_idx(idx_bytes(imgs)[:-1])
    with pytest.raises(ValueError, match="IDX"):
        mnist.read_idx(b"\x01\x02\x03")


def test_missing_files_name_every_expected_file(tmp_path):
    with pytest.raises(MissingDataError) as err:
        mnist.load_mnist(tmp_path, download=False)
    msg = str(err.value)
    for name in mnist.MNIST_MD5:
        assert str(tmp_path / "MNIST" / "raw" / name) in msg
    assert "DEIMOS_DATA_DIR" in msg


def test_failed_download_is_a_missing_data_error(tmp_path, monkeypatch):
    import torchvision.datasets

    class Offline:
        def __init__(self, root, train=True, download=False):
            raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    with gzip.open(raw / "train-labels-idx1-ubyte.gz", "wb") as fh:  # one file of four
        fh.write(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(MissingDataError) as err:
        mnist.load_mnist(tmp_path, download=True)
    msg = str(err.value)
    assert "train-images-idx3-ubyte.gz" in msg and "only train-labels-idx1-ubyte.gz present" in msg
    assert "download failed" in msg


def test_bad_classes():
    for bad in ((7,), (7, 7), (7, 10)):
        with pytest.raises(ValueError, match="classes"):
            mnist.load_mnist(REAL, classes=bad, download=False)


@pytest.mark.skipif(not HAVE_REAL, reason="real MNIST files not in /work/shared/data")
def test_real_mnist_7_vs_9():
    d = mnist.load_mnist(REAL, classes=(7, 9), download=False)
    assert d.task == "classification" and d.n_classes == 2 and d.class_names == ("7", "9")
    assert d.x_pool.shape == (6265 + 5949, 1, 28, 28) and d.x_pool.dtype == torch.float32
    assert d.x_test.shape == (1028 + 1009, 1, 28, 28)
    assert float(d.x_pool.min()) == 0.0 and float(d.x_pool.max()) == 1.0
    assert d.class_counts().tolist() == [6265, 5949]  # PROVENANCE.md's train class counts
    # labels remapped 7 -> 0, 9 -> 1, and pool_ids index the original 60,000 images
    with gzip.open(REAL / "MNIST/raw/train-labels-idx1-ubyte.gz") as fh:
        original = mnist.read_idx(fh.read())
    lut = {7: 0, 9: 1}
    assert [lut[int(v)] for v in original[d.pool_ids[:50]]] == d.y_pool[:50].tolist()
    assert set(np.unique(original[d.pool_ids]).tolist()) == {7, 9}
    with gzip.open(REAL / "MNIST/raw/train-images-idx3-ubyte.gz") as fh:
        images = mnist.read_idx(fh.read())
    k = int(d.pool_ids[123])
    np.testing.assert_array_equal((d.x_pool[123, 0].numpy() * 255).round().astype(np.uint8), images[k])
    full = mnist.load_mnist(REAL, download=False)
    assert full.x_pool.shape[0] == 60000 and full.x_test.shape[0] == 10000
    assert full.class_counts().tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]


@pytest.mark.skipif(not HAVE_REAL, reason="real MNIST files not in /work/shared/data")
def test_real_mnist_tiny_loop(tmp_path):
    from deimos_utils.experiment.config import get_config
    from deimos_utils.experiment.loop import run_experiment

    cfg = get_config("mnist_7v9_b1", "quick", n_acquired=1, n_candidates=20, n_test=100, n_masks=10)
    data = mnist.load_mnist(REAL, classes=(7, 9), download=False)
    df = run_experiment(cfg, "deimos", 0, data=data, results_dir=tmp_path, progress=False, device="cpu")
    assert df["n_labelled"].tolist() == [10, 11]
    picked = int(df["picked"][0])
    assert picked in set(data.pool_ids.tolist())


def test_run_without_mnist_fails_before_training(tmp_path, monkeypatch):
    import torchvision.datasets

    from deimos_utils.experiment import loop
    from deimos_utils.experiment.config import get_config

    class Offline:
        def __init__(self, root, train=True, download=False):
            raise RuntimeError("Error downloading: no network")

    def no_training(*a, **k):
        raise AssertionError("training started without data")

    monkeypatch.setattr(torchvision.datasets, "MNIST", Offline)
    monkeypatch.setattr(loop, "train_model", no_training)
    with pytest.raises(MissingDataError) as err:
        loop.run_experiment(get_config("mnist_7v9_b1", "quick"), "random", 0, data_dir=tmp_path / "empty",
                            results_dir=tmp_path / "res", progress=False)
    assert str(tmp_path / "empty" / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz") in str(err.value)
    assert not (tmp_path / "res").exists()


# --- verified files, in both layouts -----------------------------------------------------------

def _unpack_real(tmp_path) -> Path:
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist.MNIST_RAW:
        with gzip.open(REAL / "MNIST" / "raw" / f"{name}.gz") as fh:
            (raw / name).write_bytes(fh.read())
    return raw


def test_damaged_downloads_are_named_not_read(tmp_path, monkeypatch):
    import torchvision.datasets

    def no_torchvision(*a, **k):
        raise AssertionError("a damaged file must not be handed to torchvision")

    monkeypatch.setattr(torchvision.datasets, "MNIST", no_torchvision)
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist.MNIST_GZ:  # four files of the right names, not MNIST's
        with gzip.open(raw / name, "wb") as fh:
            fh.write(idx_bytes(np.zeros(3, dtype=np.uint8)))
    with pytest.raises(DamagedDataError) as err:
        mnist.load_mnist(tmp_path, download=True)
    msg = str(err.value)
    assert isinstance(err.value, MissingDataError)
    assert f"{raw / 't10k-labels-idx1-ubyte.gz'} has " in msg and "bytes, expected 4,542" in msg


@pytest.mark.skipif(not HAVE_REAL, reason="real MNIST files not in /work/shared/data")
def test_unpacked_layout_is_verified_and_read(tmp_path):
    raw = _unpack_real(tmp_path)
    unpacked = mnist.load_mnist(tmp_path, download=False)
    packed = mnist.load_mnist(REAL, download=False)
    assert unpacked.x_test.shape[0] == 10000 and unpacked.x_pool.shape[0] == 60000
    assert torch.equal(unpacked.y_test, packed.y_test) and torch.equal(unpacked.x_pool, packed.x_pool)
    # damaged test labels (3,839 of them no digit): refused, where they once gave 6,161 images
    labels = raw / "t10k-labels-idx1-ubyte"
    data = bytearray(labels.read_bytes())
    data[8:8 + 3839] = b"\xff" * 3839
    labels.write_bytes(bytes(data))
    with pytest.raises(DamagedDataError) as err:
        mnist.load_mnist(tmp_path, download=True)
    msg = str(err.value)
    assert f"{labels} has md5 " in msg and "expected 27ae3e4e09519cfbb04c329615203637" in msg
    labels.write_bytes(bytes(data[:5000]))  # truncated
    with pytest.raises(DamagedDataError, match="has 5,000 bytes, expected 10,008"):
        mnist.load_mnist(tmp_path, download=False)


@pytest.mark.skipif(not HAVE_REAL, reason="real MNIST files not in /work/shared/data")
def test_an_intact_layout_is_used_beside_a_damaged_one(tmp_path):
    raw = _unpack_real(tmp_path)
    for name in mnist.MNIST_GZ:
        (raw / name).write_bytes((REAL / "MNIST" / "raw" / name).read_bytes())
    damaged = raw / "train-labels-idx1-ubyte.gz"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"\0" * 10)
    d = mnist.load_mnist(tmp_path, classes=(7, 9), download=False)  # the unpacked files
    assert d.class_counts().tolist() == [6265, 5949]

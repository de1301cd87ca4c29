"""Splicing data: the A5SS loader on tiny files in the published formats, and the simulated library."""
from __future__ import annotations

import gzip
import io
import itertools
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse
import torch

import deimos_utils.data.splicing as sp
from deimos_utils.data.paths import MissingDataError
from deimos_utils.data.splicing import (
    A5SS_SOURCE,
    DONOR_LOG_ODDS,
    RANDOM_REGIONS,
    SIMULATED_SOURCE,
    TEMPLATE,
    encode_dna,
    load_a5ss,
    load_splicing,
    one_hot_dna,
    simulate_splicing_library,
)
from deimos_utils.runtime import make_rng

LETTER_CHANNEL = {"A": 0, "C": 1, "G": 2, "T": 3, "U": 3}


def _one_hot_reference(seqs, length):
    out = np.zeros((len(seqs), 4, length), dtype=np.float32)
    for i, s in enumerate(seqs):
        for j, letter in enumerate(s):
            c = LETTER_CHANNEL.get(letter.upper())
            if c is not None:
                out[i, c, j] = 1.0
    return out


def test_one_hot_matches_reference_on_random_strings():
    rng = np.random.default_rng(0)
    alphabet = list("ACGTNacgtuUX-.")
    seqs = ["".join(rng.choice(alphabet, size=rng.integers(1, 15))) for _ in range(200)]
    got = one_hot_dna(seqs)
    assert got.dtype == np.float32 and got.shape == (200, 4, max(map(len, seqs)))
    np.testing.assert_array_equal(got, _one_hot_reference(seqs, got.shape[2]))
    np.testing.assert_array_equal(one_hot_dna(encode_dna(seqs)), got)
    assert set(got.sum(axis=1).ravel().tolist()) <= {0.0, 1.0}


def test_one_hot_literal_example_and_errors():
    got = one_hot_dna(["ACGTN", "tg"], length=6)
    expected = np.array(
        [[[1, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [0, 0, 1, 0, 0, 0], [0, 0, 0, 1, 0, 0]],
         [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [0, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0]]],
        dtype=np.float32,
    )
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="length"):
        encode_dna(["ACGT"], length=3)
    with pytest.raises(ValueError, match="strings"):
        encode_dna(["ACGT", 5])


# --------------------------------------------------------------------------------------------
# Real-format files


def _random_seqs(rng, n, length=101):
    return ["".join(rng.choice(list("ACGT"), size=length)) for _ in range(n)]


def _library(n=12, n_cols=50, seed=1):
    rng = np.random.default_rng(seed)
    seqs = _random_seqs(rng, n)
    seqs[3] = seqs[3][:50] + "N" + seqs[3][51:]
    reads = rng.poisson(0.7, size=(n, n_cols))
    reads[[2, 5, 9]] = 0  # plasmids without reads: dropped
    reads[4, 0] = 0  # reads, none at SD1: usage 0
    reads[6, :] = 0
    reads[6, 0] = 3  # only SD1: usage 1
    return seqs, reads


def _csv_gz_bytes(seqs):
    table = pd.DataFrame({"Seq": seqs}, index=[f"BARCODE{i:05d}" for i in range(len(seqs))])
    buf = io.BytesIO()
    table.to_csv(buf, compression="gzip")
    return buf.getvalue()


def _mat_bytes(reads, name="A5SS"):
    buf = io.BytesIO()
    scipy.io.savemat(buf, {name: scipy.sparse.csr_matrix(reads), "A3SS": scipy.sparse.csr_matrix((2, 3))})
    return buf.getvalue()


def _write_library(folder, seqs, reads, compressed=True):
    folder.mkdir(parents=True, exist_ok=True)
    if compressed:
        (folder / "A5SS_Seqs.csv.gz").write_bytes(_csv_gz_bytes(seqs))
        (folder / "Reads.mat.gz").write_bytes(gzip.compress(_mat_bytes(reads)))
    else:
        (folder / "A5SS_Seqs.csv").write_bytes(gzip.decompress(_csv_gz_bytes(seqs)))
        (folder / "Reads.mat").write_bytes(_mat_bytes(reads))


def _check_against_reference(data, seqs, reads):
    keep = [i for i in range(len(seqs)) if reads[i].sum() > 0]
    assert data.ids.tolist() == keep
    expected_y = [reads[i, 0] / reads[i].sum() for i in keep]
    np.testing.assert_allclose(data.y.numpy(), expected_y, rtol=1e-6)
    assert data.y.dtype == torch.float32 and data.x.dtype == torch.float32
    np.testing.assert_array_equal(data.x.numpy(), _one_hot_reference([seqs[i] for i in keep], 101))
    assert data.total_reads.tolist() == [int(reads[i].sum()) for i in keep]
    assert data.sequences == tuple(seqs[i] for i in keep)


def test_load_a5ss_from_generated_files(tmp_path):
    seqs, reads = _library()
    _write_library(tmp_path / "splicing", seqs, reads)
    data = load_a5ss(tmp_path, download=False)
    assert data.source == A5SS_SOURCE and not data.is_simulated and data.usage_true is None
    assert data.x.shape == (9, 4, 101) and data.y.shape == (9,)
    _check_against_reference(data, seqs, reads)
    assert data.y[data.ids.tolist().index(4)] == 0.0 and data.y[data.ids.tolist().index(6)] == 1.0
    assert data.x[data.ids.tolist().index(3), :, 50].sum() == 0  # N -> all-zero column


def test_load_a5ss_accepts_uncompressed_files_in_data_dir(tmp_path):
    seqs, reads = _library(seed=2)
    _write_library(tmp_path, seqs, reads, compressed=False)
    _check_against_reference(load_a5ss(tmp_path, download=False), seqs, reads)


def test_load_a5ss_rejects_inconsistent_files(tmp_path):
    seqs, reads = _library()
    _write_library(tmp_path / "splicing", seqs, reads[:-1])
    with pytest.raises(ValueError, match="rows"):
        load_a5ss(tmp_path, download=False)
    (tmp_path / "splicing" / "Reads.mat.gz").write_bytes(gzip.compress(_mat_bytes(reads, name="other")))
    with pytest.raises(ValueError, match="A5SS"):
        load_a5ss(tmp_path, download=False)


def test_missing_files_error_names_files_place_and_source(tmp_path):
    with pytest.raises(MissingDataError) as info:
        load_a5ss(tmp_path, download=False)
    text = str(info.value)
    for needle in ("A5SS_Seqs.csv.gz", "Reads.mat.gz", str(tmp_path / "splicing"),
                   "https://github.com/Alex-Rosenberg/cell-2015/raw/master/data_gz/A5SS_Seqs.csv.gz",
                   "https://github.com/Alex-Rosenberg/cell-2015/raw/master/data_gz/Reads.mat.gz", "GSE74070"):
        assert needle in text


def test_failed_download_is_reported(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("no network here")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(MissingDataError, match="no network here") as info:
        load_a5ss(tmp_path, download=True)
    assert "Reads.mat.gz: not tried" in str(info.value)
    assert not (tmp_path / "splicing").exists()  # nothing left behind


def test_download_fetches_the_missing_file(tmp_path, monkeypatch):
    seqs, reads = _library(seed=3)
    _write_library(tmp_path / "splicing", seqs, reads)
    served = {sp.A5SS_URLS["Reads.mat.gz"]: (tmp_path / "splicing" / "Reads.mat.gz").read_bytes()}
    (tmp_path / "splicing" / "Reads.mat.gz").unlink()
    asked = []

    def fake_urlopen(url, timeout=None):
        asked.append(url)
        return io.BytesIO(served[url])

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    data = load_a5ss(tmp_path, download=True)
    assert asked == [sp.A5SS_URLS["Reads.mat.gz"]]
    assert (tmp_path / "splicing" / "Reads.mat.gz").is_file()
    _check_against_reference(data, seqs, reads)


def test_load_splicing_uses_real_files_else_simulates_with_a_warning(tmp_path):
    seqs, reads = _library()
    _write_library(tmp_path / "real" / "splicing", seqs, reads)
    real = load_splicing(tmp_path / "real", n_simulated=50, download=False)
    assert real.source == A5SS_SOURCE and len(real) == 9
    with pytest.warns(UserWarning, match="SIMULATED"):
        sim = load_splicing(tmp_path / "empty", n_simulated=50, seed=4, download=False)
    assert sim.source == SIMULATED_SOURCE and sim.is_simulated and len(sim) == 50 and sim.seed == 4


# --------------------------------------------------------------------------------------------
# Simulated library


def test_simulation_is_deterministic_per_seed():
    a, b, c = (simulate_splicing_library(300, seed=s) for s in (7, 7, 8))
    for field in ("x", "y", "ids", "total_reads", "usage_true"):
        assert torch.equal(getattr(a, field), getattr(b, field))
    assert a.sequences == b.sequences
    assert a.sequences != c.sequences and not torch.equal(a.y, c.y)


def test_simulation_layout_and_label_bookkeeping():
    d = simulate_splicing_library(2000, seed=1)
    assert d.x.shape == (2000, 4, 101) and d.y.shape == (2000,) and d.ids.tolist() == list(range(2000))
    random_positions = {p for start, stop in RANDOM_REGIONS for p in range(start, stop)}
    assert random_positions == {p for p, letter in enumerate(TEMPLATE) if letter == "N"}
    assert len(random_positions) == 50 and len(TEMPLATE) == 101
    assert TEMPLATE[40:49] == "CAGGTTCGT" and sp.SD2_JUNCTION == 43  # SD2 = CAG|GTTCGT
    for s in d.sequences[:50]:
        assert len(s) == 101 and set(s) <= set("ACGT")
        assert all(s[p] == TEMPLATE[p] for p in range(101) if p not in random_positions)
    counts = np.array([[s[p] for p in sorted(random_positions)] for s in d.sequences])
    for letter in "ACGT":  # uniform random regions
        assert abs((counts == letter).mean() - 0.25) < 0.01
    np.testing.assert_array_equal(d.x.numpy(), _one_hot_reference(list(d.sequences), 101))
    total = d.total_reads.numpy()
    sd1_reads = d.y.numpy().astype(np.float64) * total
    assert total.min() >= 1 and np.allclose(sd1_reads, np.rint(sd1_reads), atol=1e-3)
    assert 15 <= np.median(total) <= 30
    p = d.usage_true.numpy()
    assert ((p > 0) & (p < 1)).all()
    assert abs(float(d.y.mean()) - float(p.mean())) < 0.02


def _reference_usage(seq: str, seed: int) -> float:
    """The documented splicing function, written out position by position."""
    rng = make_rng(seed, "splicing", "landscape")
    tables = [sp._hexamer_table(rng), sp._hexamer_table(rng)]
    hexamers = ["".join(t) for t in itertools.product("ACGT", repeat=6)]  # index order

    def region_effect(table, start, stop):
        total, expected = 0.0, 0.0
        for s in range(start - 5, stop):
            total += table[hexamers.index(seq[s : s + 6])]
            pattern = TEMPLATE[s : s + 6]
            matches = [i for i, h in enumerate(hexamers) if all(p in ("N", c) for p, c in zip(pattern, h))]
            expected += np.mean([table[i] for i in matches])
        return total - expected

    def log_odds(j):
        return sum(DONOR_LOG_ODDS["ACGT".index(seq[j - 3 + t]), t] for t in range(9))

    strengths = [3.0 + region_effect(tables[0], 7, 32), 0.8 * log_odds(43) + region_effect(tables[1], 50, 75)]
    for j in range(3, 96):
        overlaps = (j - 3 < 32 and j + 6 > 7) or (j - 3 < 75 and j + 6 > 50)
        if j != 43 and overlaps and seq[j : j + 2] == "GT":
            strengths.append(0.8 * log_odds(j) - 3.0)
    w = np.exp(np.array(strengths))
    return float(w[0] / w.sum())


def test_simulated_usage_is_the_documented_function():
    d = simulate_splicing_library(6, seed=5)
    for seq, p in zip(d.sequences, d.usage_true.tolist()):
        assert p == pytest.approx(_reference_usage(seq, 5), rel=1e-5)


@pytest.mark.parametrize("seed", [0, 3])
def test_simulated_labels_are_spread_and_learnable(seed):
    d = simulate_splicing_library(12_000, seed=seed)
    y = d.y.numpy().astype(np.float64)
    assert 0.2 < y.mean() < 0.8
    assert y.std() > 0.2
    assert 0.3 < ((y > 0.1) & (y < 0.9)).mean() < 0.9  # not all at the ends, not all in the middle
    # ridge regression on the one-hot alone (no hexamer features), closed form
    X = d.x.numpy().reshape(len(y), -1).astype(np.float64)
    Xtr, ytr, Xte, yte = X[:4000], y[:4000], X[4000:], y[4000:]
    mu, ym = Xtr.mean(axis=0), ytr.mean()
    w = np.linalg.solve((Xtr - mu).T @ (Xtr - mu) + 10.0 * np.eye(X.shape[1]), (Xtr - mu).T @ (ytr - ym))
    r2 = 1.0 - np.mean((yte - ((Xte - mu) @ w + ym)) ** 2) / np.var(yte)
    assert r2 > 0.2


def test_simulation_rejects_bad_arguments():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="n must"):
            simulate_splicing_library(bad)
    with pytest.raises(ValueError, match="reads_median"):
        simulate_splicing_library(10, reads_median=0)
    with pytest.raises(ValueError, match="reads_sigma"):
        simulate_splicing_library(10, reads_sigma=-1)

"""The authors' arrays: Tables 1 and 2 and the paper's p-values recomputed from them, and clear
errors for an unknown experiment, a missing, truncated or wrong array."""
import shutil
import warnings

import numpy as np
import pytest

from deimos_utils.data import authors
from deimos_utils.analysis import paper
from deimos_utils.data.authors import (
    AUTHORS_EXPERIMENTS,
    authors_initial_ids,
    load_authors_1d,
    load_authors_optimality_ratios,
    load_authors_results,
    within_horizon,
)
from deimos_utils.data.paths import MissingDataError, resolve_data_dir
from deimos_utils.analysis.lmm import lmm_lrt
from deimos_utils.analysis.thresholds import acquisitions_to_threshold

ROOT = resolve_data_dir(None)
HAVE = (ROOT / "authors" / "MNIST" / "Binary_7_9_AL_Results" / "Rand_BS1_Acc_Ind1.npy").is_file()
needs_arrays = pytest.mark.skipif(not HAVE, reason=f"the authors' arrays are not under {ROOT}/authors")


def _p(df, a, b, metric):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmm_lrt(df, a, b, metric).p_value


@needs_arrays
def test_table2_from_their_arrays_is_the_papers():
    df = load_authors_results("mnist_7v9_b1")
    assert set(df.seed) == {0, 1, 2}
    t = acquisitions_to_threshold(df[df.iteration <= 200], "test_accuracy",
                                  paper.TABLE2_MNIST_7V9_ACCURACY["thresholds"])
    for method in ("deimos", "bald", "max_entropy", "random", "kcenter"):
        assert t[method].tolist() == paper.TABLE2_MNIST_7V9_ACCURACY[method], method


@needs_arrays
def test_table1_from_their_arrays_is_the_papers():
    df = load_authors_results("splicing")
    limit = np.where(df.method == "max_variance", 750, 600)
    t = acquisitions_to_threshold(df[df.iteration < limit], "test_mse",
                                  paper.TABLE1_SPLICING_MSE["thresholds"])
    for method in ("deimos", "max_variance", "random"):
        assert t[method].tolist() == paper.TABLE1_SPLICING_MSE[method], method


@needs_arrays
@pytest.mark.parametrize("experiment, method, metric, expected", [
    ("mnist_7v9_b1", "bald", "test_accuracy", 2.3e-21),
    ("mnist_7v9_b1", "max_entropy", "test_accuracy", 4.1e-11),
    ("mnist_7v9_b1", "random", "test_accuracy", 5.2e-133),
    ("mnist_7v9_b1", "kcenter", "test_accuracy", 7.7e-46),
    ("mnist_7v9_b25", "random", "test_accuracy", 4.4e-11),
    ("mnist_7v9_b25", "kcenter", "test_accuracy", 1.9e-11),
    ("splicing", "max_variance", "test_mse", 2.1e-278),
    ("splicing", "random", "test_mse", 6.9e-34),
    ("utkface_b100", "random", "test_rmse", 7.1e-3),
    ("utkface_b200", "random", "test_rmse", 8.1e-3),
])
def test_lmm_on_their_arrays_gives_the_papers_p_values(experiment, method, metric, expected):
    df = within_horizon(load_authors_results(experiment))
    p = _p(df, "deimos", method, metric)
    assert float(f"{p:.1e}") == expected


@needs_arrays
def test_table_layout_and_quirks_are_said():
    utk = load_authors_results("utkface_b200")
    assert {"test_mse", "test_rmse", "n_acquired", "n_labelled", "batch_size"} <= set(utk.columns)
    np.testing.assert_allclose(utk.test_rmse, np.sqrt(utk.test_mse))
    assert any("b = 100" in n and "second entry" in n for n in utk.attrs["notes"])
    # the quirk is real: their b = 200 random curve is the b = 100 one, every second entry
    b100 = load_authors_results("utkface_b100")
    r100 = b100[(b100.method == "random") & (b100.seed == 1)].test_mse.to_numpy()
    r200 = utk[(utk.method == "random") & (utk.seed == 1)].test_mse.to_numpy()
    np.testing.assert_array_equal(r200, r100[::2][: len(r200)])
    m09 = load_authors_results("mnist_0to9_b100")
    assert set(m09.batch_size) == {100} and m09.n_acquired.max() == 1000
    assert set(m09.method) == set(AUTHORS_EXPERIMENTS["mnist_0to9_b100"].files)
    # each seed at its own length (BALD's seed 2 holds one entry more), and said
    b1 = load_authors_results("mnist_7v9_b1")
    assert b1[(b1.method == "bald")].groupby("seed").size().tolist() == [201, 201, 202]
    assert any("bald seed 2" in n for n in b1.attrs["notes"])


@needs_arrays
def test_initial_sets_and_other_arrays():
    ids = [authors_initial_ids("mnist_7v9_b1", s) for s in range(3)]
    assert all(len(i) == 10 for i in ids) and len({tuple(i) for i in ids}) == 3
    assert len(authors_initial_ids("mnist_0to9_b25", 0)) == 30
    assert len(authors_initial_ids("splicing", 2)) == 75
    with pytest.raises(ValueError, match="seeds"):
        authors_initial_ids("mnist_7v9_b1", 3)
    with pytest.raises(ValueError, match="UTKFace"):
        authors_initial_ids("utkface_b100", 0)
    r = load_authors_optimality_ratios(10, 50)
    assert r.shape == (200,) and 0.97 < r.min() <= 1
    d1 = load_authors_1d()
    assert d1["x_test"].shape == (201,) and d1["queried"].shape == (5,)


def test_unknown_experiment_is_named():
    with pytest.raises(ValueError, match="mnist_7v9_b1"):
        load_authors_results("mnist_7v9_b3")


def _copy_experiment(tmp_path, experiment):
    for pattern, _ in AUTHORS_EXPERIMENTS[experiment].files.values():
        for k in (1, 2, 3):
            rel = pattern.format(k=k)
            dest = tmp_path / "authors" / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            src = ROOT / "authors" / rel
            if src.is_file():
                shutil.copy(src, dest)
            else:  # a stand-in of the right length when the real arrays are absent
                spec = AUTHORS_EXPERIMENTS[experiment]
                n = dict(spec.files.values())[pattern] // spec.batch_size + 1
                np.save(dest, np.linspace(0.5, 0.9, n))


def test_missing_truncated_and_wrong_arrays_are_named(tmp_path, monkeypatch):
    _copy_experiment(tmp_path, "mnist_7v9_b25")
    if not HAVE:  # stand-ins cannot match the published checksums: test the content checks only
        monkeypatch.setattr(authors, "_expected_digests", lambda: {})
    base = tmp_path / "authors" / "MNIST" / "Binary_7_9_AL_Results"
    assert len(load_authors_results("mnist_7v9_b25", tmp_path, download=False)) > 0
    target = base / "MaxEnt_BS25_Acc_Ind2.npy"
    good = np.load(target)

    np.save(target, good[:30])  # truncated: 30 entries of the 41 that 1,000 acquisitions need
    with pytest.raises(ValueError, match=r"MaxEnt_BS25_Acc_Ind2\.npy holds 30 entries.*at least 41"):
        load_authors_results("mnist_7v9_b25", tmp_path, download=False)
    np.save(target, (good * 100).astype(np.int64))  # wrong dtype
    with pytest.raises(ValueError, match=r"MaxEnt_BS25_Acc_Ind2\.npy holds dtype int64"):
        load_authors_results("mnist_7v9_b25", tmp_path, download=False)
    np.save(target, good + 1)  # not accuracies
    with pytest.raises(ValueError, match=r"Ind2\.npy holds accuracies outside"):
        load_authors_results("mnist_7v9_b25", tmp_path, download=False)
    target.write_bytes(target.read_bytes()[:60])  # a cut file
    with pytest.raises(ValueError, match=r"Ind2\.npy is not a readable"):
        load_authors_results("mnist_7v9_b25", tmp_path, download=False)
    target.unlink()  # a seed with no array
    with pytest.raises(MissingDataError, match=r"MaxEnt_BS25_Acc_Ind2\.npy"):
        load_authors_results("mnist_7v9_b25", tmp_path, download=False)


@needs_arrays
def test_a_changed_file_fails_its_checksum(tmp_path):
    assert len(authors.authors_files()) == 175
    rel = "BatchOptimality/EmpiricalOptimalityRatios/BS2Samp3OptRatios.npy"
    dest = tmp_path / "authors" / rel
    dest.parent.mkdir(parents=True)
    np.save(dest, np.full(200, 0.99))
    with pytest.raises(ValueError, match="differs from the authors' published file"):
        load_authors_optimality_ratios(2, 3, tmp_path, download=False)
    assert authors.AUTHORS_COMMIT.startswith("b1d4f3b")

"""The numbers the notebooks write to ``outputs/*.json`` at the quick preset, with tolerances.

``make test`` runs the notebooks (nbval) first, into a fresh temporary outputs folder
(``$DEIMOS_OUTPUT_DIR``), and these tests after them (``conftest.py`` orders them last). Run
alone, a test whose notebook has not written its numbers is skipped; under ``make test``
(``DEIMOS_NOTEBOOK_NUMBERS=required``) it fails unless the notebook's dataset is absent.

Quick-preset numbers are tiny runs (a few acquisitions, two epochs): they are checked against
the values of a reference run with tolerances wide enough for another CPU's floating point,
and narrow enough that a change of the method, the data handling or the seeds shows up. The
authors' arrays and the paper's worked example are checked exactly.

Where the numbers of the 1-D toy's batch lie is not one of them: the trained network, and with
it every pick after the first, moves with the CPU's floating-point path. Run with this machine's
AVX-512 kernels, with ``ATEN_CPU_CAPABILITY=default`` and with ``MKL_CBWR=AVX2``, notebook 01's
quick batch (sorted) is [-6.3, -4.1, 0.8, 3.25, 4.35], [-6.45, -4.15, -0.7, 0.8, 4.25] and
[-9.05, -5.55, -3.2, 0.85, 4.15]; in all three the first pick is the EI peak at 0.80-0.90, in the
sparse region, and no two picks are closer than 1.1 (max variance picks neighbours < 0.2 apart),
and the gains and tau^-1 agree within 5 %. The tests check what holds on all of them.
"""
import json
import os

import numpy as np
import pytest

from deimos_utils.locations import outputs_root
from deimos_utils.run_notebooks import REQUIRES

REQUIRED = os.environ.get("DEIMOS_NOTEBOOK_NUMBERS", "") == "required"


def numbers(name: str) -> dict:
    path = outputs_root() / f"{name}.json"
    if not path.is_file():
        from deimos_utils.data.fetch import dataset_status

        absent = [d for d in REQUIRES.get(name, ()) if not dataset_status(d).present]
        if REQUIRED and not absent:
            pytest.fail(f"notebook {name} wrote no numbers to {path}")
        pytest.skip(f"{path} absent: run the notebooks first (make test does)")
    out = json.loads(path.read_text())
    if out.get("scale", out.get("preset", "quick")) != "quick":
        pytest.skip(f"{path} holds numbers of another preset")
    return out


def spread_batch_from_the_sparse_peak(picked_x, first: float | None, min_gap: float = 0.5) -> None:
    """A DEIMOS batch of the 1-D toy (inputs in pick order): its picks are spread, no two closer
    than ``min_gap`` (max variance takes neighbours on the grid), and unless ``first`` is None its
    first pick is the EI peak near ``first``, inside the sparse region [-2.5, 2.5]."""
    picked = np.asarray(picked_x, dtype=float)
    assert len(picked) == 5 and len(set(picked.tolist())) == 5, picked
    assert np.min(np.diff(np.sort(picked))) > min_gap, picked
    if first is not None:
        assert picked[0] == pytest.approx(first, abs=0.3) and abs(picked[0]) < 2.5, picked


def close(actual: dict, expected: dict, **tol):
    assert set(actual) == set(expected), (actual, expected)
    for key, value in expected.items():
        assert actual[key] == pytest.approx(value, **tol), (key, actual[key], value)


def test_01_fig1_ei_properties():
    n = numbers("01_synthetic_1d")
    if not n["data"].startswith("generated"):
        pytest.skip("the quick preset of notebook 01 uses the generated function")
    assert n["mean_ei_sparse"] > 2 * n["mean_ei_elsewhere"]
    assert n["test_mse_after"] < n["test_mse_before"]
    assert np.all(np.diff(n["gains"]) < 0)
    spread_batch_from_the_sparse_peak(n["picked_x"], first=0.8)
    assert n["gains"][0] == pytest.approx(2.43, rel=0.2)
    assert n["tau_inv"] == pytest.approx(2.23e-3, rel=0.2)
    if n.get("authors"):
        np.testing.assert_allclose(n["authors"]["theirs_sorted"],
                                   [-9.15, -2.95, -0.55, 2.05, 10.05], atol=1e-6)


def test_02_appendix_a_ratios():
    n = numbers("02_greedy_optimality")
    assert n["appendix_a"]["greedy"] == pytest.approx(16.889, abs=1e-3)
    assert n["appendix_a"]["optimal"] == pytest.approx(19.636, abs=1e-3)
    assert n["min_ratio"] == pytest.approx(0.9494, abs=1e-3)
    if n["authors_min_ratio"] is not None:
        assert n["authors_min_ratio"] == pytest.approx(0.9712, abs=1e-4)
        assert n["authors_min_ratio"] > 0.97       # Appendix A: "all ratios above 0.97"


def test_03_splicing_final_mse():
    n = numbers("03_splicing")
    if n["authors_acquisitions_to_threshold"]:
        assert n["authors_acquisitions_to_threshold"] == {
            "deimos": [69, 109, 174, 369], "max_variance": [92, 318, 492, 708],
            "random": [80, 180, 306, 387]}                       # Table 1
    if n["data_source"] != "simulated":
        pytest.skip("reference values are those of the simulated library")
    close(n["final_test_mse"], {"deimos": 0.1164, "max_variance": 0.1136, "random": 0.1183},
          rel=0.1)
    assert n["tau_inv"] == {"0": 0.00025}                       # the authors' fixed tau^-1


def test_04_utkface_final_rmse():
    n = numbers("04_utkface")
    for name, expected in (("utkface_b100", {"deimos": 26.7, "max_variance": 26.7, "random": 28.8}),
                           ("utkface_b200", {"deimos": 25.5, "max_variance": 25.5, "random": 31.6})):
        assert n[name]["resolution"] == 64 and n[name]["tau_inv"] == {"0": 5.5477}
        close(n[name]["final_test_rmse"], expected, rel=0.15)


def test_05_mnist_7v9():
    n = numbers("05_mnist_7v9")
    if n["b1"]["authors_acquisitions_to_threshold"]:
        assert n["b1"]["authors_acquisitions_to_threshold"] == {
            "deimos": [20, 24, 27, 41], "bald": [23, 25, 39, 67], "max_entropy": [21, 31, 39, 58],
            "random": [48, 55, 113, 158], "kcenter": [24, 39, 58, 58]}     # Table 2
    close(n["b25"]["final_accuracy"], {"batchbald": 0.81, "deimos": 0.595, "kcenter": 0.76,
                                       "max_entropy": 0.75, "random": 0.885}, abs=0.12)
    assert n["sample_sizes"]["sizes"] == [20, 50, 100]


def test_06_mnist_0to9():
    n = numbers("06_mnist_0to9")
    close(n["final_accuracy"], {"batchbald": 0.185, "deimos": 0.17, "max_entropy": 0.165,
                                "random": 0.225}, abs=0.1)


def test_07_the_authors_arrays_give_the_papers_p_values():
    n = numbers("07_lmm_significance")
    rows = [r for r in n["authors_rows"] if not str(r["p-value (paper)"]).startswith(("<", "-"))]
    if not rows:
        pytest.skip("the authors' arrays are absent")
    assert len(rows) >= 8
    assert all(r["p-value"] == r["p-value (paper)"] for r in rows), rows
    assert {r["experiment"] for r in n["rows"]} == set(n["found"])


def test_08_teaching_demo():
    n = numbers("08_teaching_demo")
    spread_batch_from_the_sparse_peak(n["picked_x"], first=0.8)
    spread_batch_from_the_sparse_peak(n["next_picked_x"], first=None)  # after labelling, anywhere
    assert np.all(np.diff(n["gains"]) < 0)
    assert n["tau_inv"] == pytest.approx(2.57e-3, rel=0.2)

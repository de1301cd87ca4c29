"""The results store: exact round trips, partial last lines, corruption, and loading."""
import math

import numpy as np
import pandas as pd
import pytest

from deimos_utils import store
from deimos_utils.store import COLUMNS, RunTable, load_results, read_rows, read_table, results_path


def make_row(it, method="deimos", seed=0, preset="quick", tag="", picked=(3, 14)):
    rng = np.random.default_rng(it)
    return {
        "experiment": "toy", "preset": preset, "tag": tag, "method": method, "seed": seed,
        "iteration": it, "n_acquired": 2 * it, "n_labelled": 10 + 2 * it, "batch_size": 2,
        "n_candidates": 50, "test_accuracy": float(rng.random()), "test_nll": float(rng.random()) / 3,
        "test_mse": float("nan"), "test_rmse": float("nan"), "val_uncertainty_r2": 0.1 + 1e-17,
        "noise": 1 / 3, "diversity": float(rng.random()) * 1e-9,
        "picked": store.format_picked(picked), "train_seconds": 1.0, "eval_seconds": 0.5,
        "acquire_seconds": 0.25,
    }


def test_results_path_layout(tmp_path):
    p = results_path(tmp_path, "mnist_7v9_b1", "quick", "bald", 2)
    assert p == tmp_path / "mnist_7v9_b1" / "quick" / "bald__seed2.csv"
    with pytest.raises(ValueError, match="method"):
        results_path(tmp_path, "e", "quick", "a/b", 0)


def test_picked_round_trip():
    assert store.format_picked([5, 0, 123456]) == "5 0 123456"
    assert store.parse_picked("5 0 123456").tolist() == [5, 0, 123456]
    assert store.parse_picked("").size == 0
    assert store.parse_picked(float("nan")).size == 0


def test_append_and_read_round_trip_exactly(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    assert table.open() == []
    rows = [make_row(i) for i in range(3)]
    rows[-1]["picked"] = ""
    for r in rows:
        table.append(r)
    df = read_table(path)
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 3
    for i, r in enumerate(rows):
        for c in COLUMNS:
            got, want = df.loc[i, c], r[c]
            if isinstance(want, float) and math.isnan(want):
                assert math.isnan(got)
            else:
                assert got == want, c  # floats round-trip exactly (repr)
    assert df["iteration"].dtype == np.int64 and df["test_accuracy"].dtype == np.float64
    assert df["picked"].tolist()[-1] == ""
    # reopening returns the same rows, as strings
    again = RunTable(path).open()
    assert [int(r["iteration"]) for r in again] == [0, 1, 2]


def test_unknown_column_is_refused(tmp_path):
    table = RunTable(tmp_path / "t.csv")
    table.open()
    with pytest.raises(ValueError, match="unknown columns"):
        table.append(dict(make_row(0), extra=1))


@pytest.mark.parametrize("cut", [1, 10, -1])
def test_partial_last_line_is_dropped_and_cut(tmp_path, cut):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    table.open()
    for i in range(3):
        table.append(make_row(i))
    full = path.read_bytes()
    last_start = full.rstrip(b"\n").rfind(b"\n") + 1
    partial = full[: last_start + (cut if cut > 0 else len(full) - last_start - 1)]
    assert not partial.endswith(b"\n")
    path.write_bytes(partial)
    assert len(read_rows(path)) == 2
    rows = RunTable(path).open()
    assert len(rows) == 2
    assert path.read_bytes() == full[:last_start]  # the partial line is gone from the file
    table.append(make_row(2))
    assert path.read_bytes() == full


def test_last_line_with_wrong_field_count_is_dropped(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    table.open()
    table.append(make_row(0))
    with open(path, "ab") as fh:
        fh.write(b"toy,quick,\n")
    assert len(read_rows(path)) == 1
    assert len(RunTable(path).open()) == 1
    assert read_table(path)["iteration"].tolist() == [0]


def test_malformed_middle_row_is_corruption(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    table.open()
    table.append(make_row(0))
    with open(path, "ab") as fh:
        fh.write(b"garbage\n")
    table.append(make_row(1))
    with pytest.raises(ValueError, match="corrupt"):
        read_rows(path)


def test_header_mismatch_and_header_only_files(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(ValueError, match="unexpected header"):
        RunTable(path).open()
    half_header = tmp_path / "h.csv"
    half_header.write_text("experiment,pre")  # killed while writing the header
    assert RunTable(half_header).open() == []
    assert half_header.read_text() == ",".join(COLUMNS) + "\n"


def test_truncate_rows(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    table.open()
    for i in range(4):
        table.append(make_row(i))
    table.truncate_rows(2)
    assert read_table(path)["iteration"].tolist() == [0, 1]
    table.truncate_rows(0)
    assert read_table(path).empty and path.read_text() == ",".join(COLUMNS) + "\n"


def test_load_results_concatenates_and_filters(tmp_path):
    for preset, tag in (("quick", ""), ("quick", "s500"), ("cpu", "")):
        run = preset if not tag else f"{preset}-{tag}"
        for method in ("random", "deimos"):
            for seed in (0, 1):
                t = RunTable(results_path(tmp_path, "toy", run, method, seed))
                t.open()
                for i in range(3):
                    t.append(make_row(i, method=method, seed=seed, preset=preset, tag=tag))
    other = RunTable(results_path(tmp_path, "other", "quick", "random", 0))
    other.open()
    other.append(make_row(0))
    df = load_results("toy", tmp_path)
    assert len(df) == 3 * 2 * 2 * 3
    assert set(df["preset"]) == {"quick", "cpu"} and set(df["tag"]) == {"", "s500"}
    quick = load_results("toy", tmp_path, preset="quick")
    assert len(quick) == 2 * 2 * 2 * 3 and set(quick["preset"]) == {"quick"}
    first = quick.iloc[:3]
    assert first["iteration"].tolist() == [0, 1, 2] and first["method"].nunique() == 1
    pd.testing.assert_frame_equal(
        quick[(quick.tag == "") & (quick.method == "deimos") & (quick.seed == 1)].reset_index(drop=True),
        read_table(results_path(tmp_path, "toy", "quick", "deimos", 1)),
    )
    with pytest.raises(FileNotFoundError, match="presets found"):
        load_results("toy", tmp_path, preset="paper")
    with pytest.raises(FileNotFoundError, match="nothing"):
        load_results("nothing", tmp_path)


def test_write_json_atomic(tmp_path):
    p = tmp_path / "sub" / "x.json"
    store.write_json_atomic(p, {"b": [1, 2], "a": "x"})
    assert p.read_text().startswith("{") and not list(p.parent.glob("*.tmp*"))

"""The results store: exact round trips, partial last lines, corruption, loading, one writer."""
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from deimos_utils.experiment import store
from deimos_utils.experiment.store import COLUMNS, RunTable, load_results, read_rows, read_table, results_path

ROOT = Path(__file__).resolve().parents[1]


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
    reopened = RunTable(path)
    rows = reopened.open()
    assert len(rows) == 2
    assert path.read_bytes() == full[:last_start]  # the partial line is gone from the file
    with pytest.raises(RuntimeError, match="does not hold"):
        table.append(make_row(2))  # the reopened table took the lock over: one writer
    reopened.append(make_row(2))
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


# ------------------------------------------------------------------------------------ nothing silent

def _table_with_rows(path, n=3):
    table = RunTable(path)
    table.open()
    for i in range(n):
        table.append(make_row(i))
    table.close()
    return path


def test_a_copied_last_row_is_refused_on_read_and_on_open(tmp_path):
    path = _table_with_rows(tmp_path / "t.csv")
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines) + lines[-1])  # the last row once more
    before = path.read_bytes()
    for call in (read_rows, read_table, lambda p: RunTable(p).open()):
        with pytest.raises(ValueError) as err:
            call(path)
        msg = str(err.value)
        assert str(path) in msg and "line 5" in msg and "repeated iteration" in msg
        assert "head -n 4" in msg
    assert path.read_bytes() == before  # nothing cut or written


def test_out_of_order_and_foreign_rows_are_refused(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    table.open()
    for i in (0, 2, 1):
        table.append(make_row(i))
    with pytest.raises(ValueError, match=r"line 3: iteration '2' where iteration 1 belongs \(a missing"):
        read_rows(path)
    table.truncate_rows(1)
    table.append(make_row(1, seed=4))
    with pytest.raises(ValueError, match=r"line 3: a row of another run \(seed '4'"):
        read_table(path)


def test_load_results_refuses_a_damaged_table(tmp_path):
    path = _table_with_rows(results_path(tmp_path, "toy", "quick", "deimos", 0))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:2] + lines[1:]))  # row 0 twice
    with pytest.raises(ValueError, match="deimos__seed0.csv, line 3"):
        load_results("toy", tmp_path)


SIDECAR = {"config": {"n_candidates": 20}, "method": "deimos", "seed": 0}


def test_table_without_its_sidecar_is_refused(tmp_path):
    path = tmp_path / "t.csv"
    table = RunTable(path)
    assert table.open(SIDECAR) == []
    table.append(make_row(0))
    table.close()
    assert store.read_sidecar(path.with_suffix(".json")) == SIDECAR
    path.with_suffix(".json").unlink()
    with pytest.raises(ValueError) as err:
        RunTable(path).open(dict(SIDECAR, config={"n_candidates": 25}))
    msg = str(err.value)
    assert "t.json is missing" in msg and "Restore" in msg and f"delete {path}" in msg
    assert not path.with_suffix(".json").exists()  # nothing was written


def test_other_and_damaged_sidecars_are_named(tmp_path):
    path = tmp_path / "t.csv"
    RunTable(path).open(SIDECAR)
    with pytest.raises(ValueError, match="n_candidates: recorded 20, now 25"):
        RunTable(path).open(dict(SIDECAR, config={"n_candidates": 25}))
    json_path = path.with_suffix(".json")
    json_path.write_text(json_path.read_text()[:10])  # truncated
    for call in (lambda: RunTable(path).open(SIDECAR), lambda: store.read_sidecar(json_path)):
        with pytest.raises(ValueError) as err:
            call()
        assert str(json_path) in str(err.value) and "not a valid JSON object" in str(err.value)
    json_path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="a list, not an object"):
        RunTable(path).open(SIDECAR)


def test_a_field_the_run_does_not_read_does_not_decide(tmp_path):
    path = tmp_path / "t.csv"
    fixed = {"config": {"noise": 8.37e-5, "noise_fraction": 0.01, "n_candidates": 20}}
    RunTable(path).open(fixed)
    # a fixed tau^-1 makes the fraction unused: another fraction continues the same run
    RunTable(path).open({"config": dict(fixed["config"], noise_fraction=None)})
    with pytest.raises(ValueError, match="noise: recorded 8.37e-05, now None"):
        RunTable(path).open({"config": dict(fixed["config"], noise=None, noise_fraction=0.15)})
    with pytest.raises(ValueError, match="n_candidates: recorded 20, now 25") as err:
        RunTable(path).open({"config": dict(fixed["config"], n_candidates=25, noise_fraction=0.2)})
    assert "noise_fraction" not in str(err.value)


def test_one_writer_per_table_in_a_process(tmp_path):
    import threading

    path = tmp_path / "t.csv"
    first = RunTable(path)
    first.open()
    owner = json.loads(first.lock.owner_file.read_text())
    assert owner["pid"] == os.getpid() and owner["host"] and "command" in owner
    errors = []

    def other_thread():
        try:
            RunTable(path).open()
        except store.RunLockedError as err:
            errors.append(str(err))

    t = threading.Thread(target=other_thread, name="second-writer")
    t.start()
    t.join()
    assert len(errors) == 1 and str(path) in errors[0] and "thread 'MainThread'" in errors[0]
    first.close()
    assert not first.lock.owner_file.exists()
    with pytest.raises(RuntimeError, match="does not hold"):
        first.append(make_row(0))
    # a table left open by an earlier call of this thread (it raised) is taken over
    stale = RunTable(path)
    stale.open()
    again = RunTable(path)
    again.open()
    again.append(make_row(0))
    with pytest.raises(RuntimeError, match="does not hold"):
        stale.append(make_row(1))


HOLDER = """
import sys, time
from deimos_utils.experiment.store import RunTable
t = RunTable(sys.argv[1])
t.open()
print("locked", flush=True)
time.sleep(120)
"""


def test_second_process_is_refused_and_a_killed_holder_frees_the_table(tmp_path):
    import signal
    import subprocess
    import sys

    path = tmp_path / "t.csv"
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT)] + sys.path))
    proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE,
                            env=env, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(store.RunLockedError) as err:
            RunTable(path).open()
        msg = str(err.value)
        assert str(path) in msg and f"pid {proc.pid} on host " in msg and "holder.py" in msg
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        table = RunTable(path)  # the kernel dropped the dead holder's lock
        assert table.open() == []
        assert json.loads(table.lock.owner_file.read_text())["pid"] == os.getpid()
        table.close()
    finally:
        proc.kill()
        proc.wait()

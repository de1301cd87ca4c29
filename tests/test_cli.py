"""The command line: typed --set values, one-line errors, and real processes (one writer per
run table; worker processes end with the command that started them)."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from deimos_utils.experiment import cli
from deimos_utils.experiment.config import get_config
from deimos_utils.experiment.store import read_table

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


# ------------------------------------------------------------------------------------ --set

@pytest.mark.parametrize("text, value", [("true", True), ("FALSE", False), ("True", True),
                                         ("1", True), ("0", False), (" false ", False)])
def test_booleans_are_words_or_digits(text, value):
    assert cli.parse_field_value("standardize_y", text) is value
    cfg = get_config("splicing", "quick", **cli.parse_overrides([f"standardize_y={text}"]))
    assert cfg.standardize_y is value


@pytest.mark.parametrize("pair, words", [
    ("standardize_y=no way", ["standardize_y", "true, false, 1 or 0"]),
    ("balanced_initial=2", ["balanced_initial", "true, false, 1 or 0"]),
    ("n_acquired=ten", ["n_acquired", "an integer"]),
    ("n_acquired=2.5", ["n_acquired", "an integer"]),
    ("dropout=high", ["dropout", "a number"]),
    ("n_test=all", ["n_test", "an integer or none"]),
    ("nope=1", ["unknown config field 'nope'", "valid fields"]),
    ("n_acquired", ["FIELD=VALUE"]),
])
def test_bad_values_name_the_field(pair, words):
    with pytest.raises(ValueError) as err:
        cli.parse_overrides([pair])
    for w in words:
        assert w in str(err.value)


def test_values_follow_the_field_types():
    got = cli.parse_overrides(["n_acquired=50", "dropout=0.3", "tag=short", "n_test=None",
                               "hidden=64,32", "classes=(7, 9)", "methods=[deimos, random]"])
    assert got == {"n_acquired": 50, "dropout": 0.3, "tag": "short", "n_test": None,
                   "hidden": (64, 32), "classes": (7, 9), "methods": ("deimos", "random")}
    with pytest.raises(ValueError, match="given twice"):
        cli.parse_overrides(["tag=a", "tag=b"])


# ------------------------------------------------------------------------------------ errors

@pytest.mark.parametrize("argv, words", [
    (["mnist_7v9_b1", "--methods"], ["--methods", "expected at least one argument"]),
    (["mnist_7v9_b1", "--seeds"], ["--seeds", "expected at least one argument"]),
    (["mnist_7v9_b1", "--seeds", "0", "0"], ["--seeds", "more than once"]),
    (["mnist_7v9_b1", "--seeds", "-1"], ["--seeds", ">= 0"]),
    (["mnist_7v9_b1", "--methods", "deimos", "magic"], ["methods", "magic", "valid methods"]),
    (["mnist_7v9_b1", "--methods", "max_variance"], ["max_variance", "classification"]),
    (["mnist_7v9_b1", "--jobs", "0"], ["--jobs"]),
    (["mnist_7v9_b1", "--set", "standardize_y=maybe"], ["standardize_y"]),
    (["mnist_7v9_b1", "--set", "n_acquired=7", "--set", "batch_size=2"], ["n_acquired", "multiple"]),
    (["no_such_experiment"], ["invalid choice", "mnist_7v9_b1"]),
    (["utkface_b100", "--data-dir", "{empty}"], ["UTKFace data not found", "UTKFace_part1of4.tar.gz"]),
])
def test_every_error_is_one_line_and_status_2(tmp_path, capsys, argv, words):
    argv = [a.replace("{empty}", str(tmp_path / "empty")) for a in argv]
    assert cli.main(argv + ["--results-dir", str(tmp_path / "r")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
    assert err.startswith("python -m deimos_utils.experiment.cli: error: ")
    for w in words:
        assert w in err
    assert not (tmp_path / "r").exists()


def test_debug_shows_the_exception(tmp_path):
    with pytest.raises(FileNotFoundError, match="UTKFace"):
        cli.main(["utkface_b100", "--data-dir", str(tmp_path), "--debug"])


# ------------------------------------------------------------------------------------ processes

def _env(hold=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
    env.pop("DEIMOS_TEST_HOLD", None)
    if hold is not None:
        env["DEIMOS_TEST_HOLD"] = str(hold)
    return env


def _toy(results, *extra):
    return [sys.executable, str(TESTS / "toy_cli.py"), "toy", "--results-dir", str(results), *extra]


def _wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except (ProcessLookupError, FileNotFoundError):
        return False


def _rows(path: Path) -> int:
    return max(0, path.read_bytes().count(b"\n") - 1) if path.exists() else 0


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def test_cli_error_in_a_real_process_is_one_line(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "deimos_utils.experiment.cli", "utkface_b100", "--data-dir",
                           str(tmp_path)], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1 and "UTKFace data not found" in proc.stderr


def test_a_second_command_on_a_running_run_is_refused(tmp_path):
    res, hold = tmp_path / "r", tmp_path / "hold"
    hold.touch()
    table = res / "toy" / "quick" / "deimos__seed0.csv"
    first = subprocess.Popen(_toy(res, "--methods", "deimos"), env=_env(hold), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(lambda: _rows(table) >= 1 or first.poll() is not None, 180, "the first row")
        second = subprocess.run(_toy(res, "--methods", "deimos"), env=_env(), capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 2, second.stderr
        assert len(second.stderr.splitlines()) == 1 and "Traceback" not in second.stderr
        assert f"{table} is being written by another process (pid {first.pid} on host" in second.stderr
        assert "toy_cli.py" in second.stderr  # the holder's command
        assert _rows(table) == 1  # the refused command wrote nothing
        hold.unlink()
        assert first.wait(timeout=300) == 0, first.stderr.read()
    finally:
        _kill_group(first)
    assert read_table(table)["iteration"].tolist() == [0, 1, 2, 3]
    done = table.read_bytes()
    again = subprocess.run(_toy(res, "--methods", "deimos"), env=_env(), capture_output=True,
                           text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert table.read_bytes() == done  # a finished run is read back, not written again


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_workers_end_with_a_killed_command(tmp_path, sig):
    """--jobs 2: a local dask cluster. Kill the command while both runs are mid-way: its worker
    processes end with it, and the command given again finishes each run without a repeat."""
    res, hold = tmp_path / "r", tmp_path / "hold"
    hold.touch()
    tables = [res / "toy" / "quick" / f"{m}__seed0.csv" for m in ("deimos", "random")]
    owners = [t.with_name(t.name + ".owner") for t in tables]
    cmd = _toy(res, "--jobs", "2")
    parent = subprocess.Popen(cmd, env=_env(hold), start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: all(_rows(t) >= 1 for t in tables) and all(o.exists() for o in owners)
                  or parent.poll() is not None, 240, "both runs to write a row")
        assert parent.poll() is None
        workers = [json.loads(o.read_text())["pid"] for o in owners]
        assert parent.pid not in workers and all(_alive(p) for p in workers)
        os.kill(parent.pid, sig)
        parent.wait(timeout=60)
        _wait_for(lambda: not any(_alive(p) for p in workers), 20, "the workers to end with the command")
        sizes = [t.stat().st_size for t in tables]
        hold.unlink()  # a worker still alive would now go on writing
        time.sleep(0.5)
        assert [t.stat().st_size for t in tables] == sizes
    finally:
        _kill_group(parent)
    if sig != signal.SIGKILL:
        return  # resuming after a kill is checked once, with SIGKILL
    # the command again (one process is enough to finish four short runs)
    again = subprocess.run(_toy(res, "--jobs", "1"), env=_env(), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    for t in tables:
        assert read_table(t)["iteration"].tolist() == [0, 1, 2, 3]  # each iteration once

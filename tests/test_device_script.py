"""scripts/device_paper_mnist.sh: runs each (method, seed) as its own process until its deadline,
keeps what finished, resumes, and names a bad METHODS entry (quick preset, on the CPU)."""
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from deimos_utils.data.paths import resolve_data_dir

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "device_paper_mnist.sh"


def _mnist_present() -> bool:
    return (resolve_data_dir(None) / "MNIST" / "raw").is_dir()


def _script(tmp_path, **env):
    full = dict(os.environ, PRESET="quick", PYTHON=sys.executable, JOBS="2",
                RESULTS=str(tmp_path / "results"), EXPERIMENTS="mnist_7v9_b1", **env)
    return subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, env=full,
                          timeout=900)


def test_an_unknown_method_is_named(tmp_path):
    done = _script(tmp_path, METHODS="deimos nonsense", LIMIT_S="60")
    assert done.returncode == 2
    assert "nonsense" in done.stderr and "max_entropy" in done.stderr


def test_no_run_starts_after_the_deadline(tmp_path):
    done = _script(tmp_path, METHODS="deimos", LIMIT_S="10")
    assert done.returncode == 0, done.stderr
    assert "start" not in done.stdout
    assert not list((tmp_path / "results").glob("mnist_7v9_b1/quick/*.csv"))


@pytest.mark.slow
@pytest.mark.skipif(not _mnist_present(), reason="MNIST files absent")
def test_runs_finish_resume_and_are_copied(tmp_path):
    copies = tmp_path / "copies"
    copies.mkdir()
    done = _script(tmp_path, METHODS="deimos random", LIMIT_S="600", COPY_TO=str(copies))
    assert done.returncode == 0, done.stderr
    tables = sorted((tmp_path / "results" / "mnist_7v9_b1" / "quick").glob("*.csv"))
    assert [t.stem for t in tables] == ["deimos__seed0", "random__seed0"]
    first = {t.stem: pd.read_csv(t) for t in tables}
    assert all(len(rows) > 1 for rows in first.values())
    assert "deimos__seed0: " in done.stdout
    assert sorted(p.name for p in copies.iterdir()) == ["logs.tar.gz", "mnist_7v9_b1_quick.tar.gz"]
    again = _script(tmp_path, METHODS="deimos random", LIMIT_S="600")  # finished: read back
    assert again.returncode == 0, again.stderr
    for t in tables:
        pd.testing.assert_frame_equal(pd.read_csv(t), first[t.stem])

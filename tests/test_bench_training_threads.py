"""benchmarks/bench_training_threads.py runs its three ways of spending the cores and prints them
(a tiny training; times not asserted)."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_training_threads.py"
DATA_DIR = os.environ.get("DEIMOS_DATA_DIR", str(ROOT.parent / "shared" / "data"))


def test_the_three_ways_are_timed_and_the_best_named():
    if not (Path(DATA_DIR) / "MNIST").exists():
        pytest.skip(f"no MNIST under {DATA_DIR}")
    out = subprocess.run([sys.executable, str(SCRIPT), "--experiment", "mnist_7v9_b25", "--preset", "quick",
                          "--n-train", "40", "--epochs", "2", "--threads", "2", "--data-dir", DATA_DIR],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    rows = re.findall(r"^  (\d+ process(?:es)? x \d+ threads?) +([0-9.]+) s per training +([0-9.]+) trainings per hour",
                      out, flags=re.M)
    assert [r[0] for r in rows] == ["1 process x 2 threads", "1 process x 1 thread", "2 processes x 1 thread"], out
    per_hour = {label: float(h) for label, _, h in rows}
    assert f"-> most trainings per hour: {max(per_hour, key=per_hour.get)}" in out
    assert "40 labelled points, epochs 2; 2 cores" in out


def test_bad_arguments_are_refused():
    res = subprocess.run([sys.executable, str(SCRIPT), "--threads", "0"], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "--threads and --n-train must be >= 1" in res.stderr

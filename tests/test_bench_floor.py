"""benchmarks/bench_deimos_floor.py runs and prints its table (small sizes; times not asserted)."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_deimos_floor.py"


def test_floor_table_is_printed_and_consistent():
    out = subprocess.run([sys.executable, str(SCRIPT), "--S", "300", "--b", "4", "--repeats", "2"],
                         capture_output=True, text=True, check=True, timeout=600).stdout
    times = dict(re.findall(r"^\| (.+?) \| ([0-9.]+) ms \|", out, flags=re.M))
    assert len(times) == 7, out
    product = float(times["product [u, w]^T P per conditioning, alone"])
    assert float(times["floor of the picks: (b - 1) x product"]) == \
        pytest.approx(3 * product, abs=0.25)  # both printed to 0.1 ms
    assert "GFLOP/s" in out and "S = 300" in out

"""The README's claims table is what ``python -m deimos_utils.analysis.claims --preset cpu --markdown``
prints on the committed results: same claims, same verdicts, same numbers (to 10%, so that a last
digit of an LMM fit on another machine does not count)."""
import re
from pathlib import Path

import pytest

from deimos_utils.data.paths import resolve_data_dir

ROOT = Path(__file__).resolve().parents[1]
HEADER = "| claim | paper | authors' arrays | ours | verdict |"
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")

pytestmark = pytest.mark.skipif(not (resolve_data_dir(None) / "authors" / "MNIST").is_dir(),
                                reason="the authors' arrays are absent")


def readme_claims_rows() -> list[list[str]]:
    """The cells of the README table's rows (header and rule left out)."""
    lines = (ROOT / "README.md").read_text().splitlines()
    start = lines.index(HEADER) + 2
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split(" | ")])
    return rows


def same_up_to_numbers(a: str, b: str, rel: float = 0.1) -> bool:
    """``a`` and ``b`` read the same with their numbers masked, and each number is within ``rel``."""
    if NUMBER.sub("#", a) != NUMBER.sub("#", b):
        return False
    pairs = zip(map(float, NUMBER.findall(a)), map(float, NUMBER.findall(b)))
    return all(abs(x - y) <= rel * max(abs(x), abs(y)) for x, y in pairs)


def test_number_comparison_can_fail():
    assert same_up_to_numbers("LMM p 1.5e-06 (DEIMOS better)", "LMM p 1.6e-06 (DEIMOS better)")
    assert not same_up_to_numbers("LMM p 1.5e-06 (DEIMOS better)", "LMM p 1.5e-03 (DEIMOS better)")
    assert not same_up_to_numbers("LMM p 0.51 (DEIMOS better)", "LMM p 0.51 (DEIMOS worse)")
    assert not same_up_to_numbers("-", "LMM p 0.51 (DEIMOS better)")


def test_readme_claims_table_is_what_the_command_prints(capsys):
    from deimos_utils.analysis import claims

    claims.main(["--preset", "cpu", "--markdown", "--results-dir", str(ROOT / "results")])
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == HEADER
    computed = [[cell.strip() for cell in line.strip().strip("|").split(" | ")] for line in printed[2:] if line]
    readme = readme_claims_rows()
    assert [r[0] for r in readme] == [r[0] for r in computed], "the README's claims differ from the command's"
    for ours, theirs in zip(readme, computed):
        assert ours[4] == theirs[4], f"verdict of {ours[0]!r}: README {ours[4]!r}, command {theirs[4]!r}"
        for column, a, b in zip(("paper", "authors' arrays", "ours"), ours[1:4], theirs[1:4]):
            assert same_up_to_numbers(a, b), f"{ours[0]!r}, column {column}: README {a!r}, command {b!r}"

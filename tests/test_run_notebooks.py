"""``make notebooks``: a notebook with missing data is skipped with one line, the others run, a
failure sets the exit status; the summary counts the figures each notebook wrote."""
import nbformat
import pytest

from deimos_utils import run_notebooks as rn
from deimos_utils.data.fetch import DataStatus


def _notebook(path, source):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('scale = "quick"\noutput_dir = "outputs"')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_skips_missing_data_runs_the_rest_and_fails_loudly(tmp_path, monkeypatch, capsys):
    ok = _notebook(tmp_path / "01_ok.ipynb", "from pathlib import Path\n"
                   "p = Path(output_dir) / 'figures'; p.mkdir(parents=True, exist_ok=True)\n"
                   "(p / f'01_{scale}.png').write_bytes(b'x')")
    gone = _notebook(tmp_path / "02_gone.ipynb",
                     "from deimos_utils.data.paths import MissingDataError\n"
                     "raise MissingDataError('MNIST data not found under /x')")
    need = _notebook(tmp_path / "03_need.ipynb", "print('never runs')")
    bad = _notebook(tmp_path / "04_bad.ipynb", "1 / 0")
    monkeypatch.setitem(rn.REQUIRES, "03_need", ("utkface",))
    monkeypatch.setattr(rn, "dataset_status", lambda name: DataStatus(
        name, False, tmp_path, ["UTKFace/ (0 of 23,708 images)"], "Get it from the UTKFace site."))
    out = tmp_path / "out"
    table = rn.run_notebooks([ok, gone, need, bad], "cpu", out)
    assert table.status.tolist() == ["ok", "skipped", "skipped", "failed"]
    assert table.figures.tolist() == [1, 0, 0, 0]
    assert (out / "figures" / "01_cpu.png").is_file()  # the parameters reached the notebook
    assert "MNIST data not found" in table.note[1] and "UTKFace site" in table.note[2]
    assert "ZeroDivisionError" in table.note[3]
    printed = capsys.readouterr().out
    assert "03_need: skipped - utkface: missing" in printed


def test_exit_status(tmp_path, monkeypatch):
    ok = _notebook(tmp_path / "01_ok.ipynb", "x = 1")
    assert rn.main([str(ok), "--out", str(tmp_path / "o")]) == 0
    bad = _notebook(tmp_path / "02_bad.ipynb", "raise RuntimeError('boom')")
    assert rn.main([str(ok), str(bad), "--out", str(tmp_path / "o")]) == 1
    with pytest.raises(SystemExit):
        rn.main([str(ok), "--scale", "gpu"])

"""runtime.project_root: the checkout the package runs from, the current folder elsewhere."""
from pathlib import Path

from deimos_utils import runtime
from deimos_utils.data.paths import resolve_data_dir
from deimos_utils.figures import common

ROOT = Path(__file__).resolve().parents[1]


def test_project_root_is_this_checkout():
    assert runtime.project_root() == ROOT
    assert common.REPO_ROOT == ROOT


def test_project_root_outside_a_checkout_is_the_current_folder(tmp_path, monkeypatch):
    installed = tmp_path / "site-packages" / "deimos_utils"
    installed.mkdir(parents=True)
    monkeypatch.setattr(runtime, "__file__", str(installed / "runtime.py"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.delenv("DEIMOS_DATA_DIR", raising=False)
    assert runtime.project_root() == work.resolve()
    assert resolve_data_dir() == (work / "data").resolve()

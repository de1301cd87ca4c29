"""locations.project_root: the checkout the package runs from, else a checkout at or above the
working folder (a non-editable install run inside one), else the working folder."""
from pathlib import Path

from deimos_utils import locations
from deimos_utils.data.paths import resolve_data_dir

ROOT = Path(__file__).resolve().parents[1]


def installed_elsewhere(tmp_path, monkeypatch):
    installed = tmp_path / "site-packages" / "deimos_utils"
    installed.mkdir(parents=True)
    monkeypatch.setattr(locations, "__file__", str(installed / "locations.py"))
    monkeypatch.delenv("DEIMOS_DATA_DIR", raising=False)
    monkeypatch.delenv(locations.RESULTS_ENV, raising=False)


def test_project_root_is_this_checkout():
    assert locations.project_root() == ROOT


def test_installed_elsewhere_the_working_folder(tmp_path, monkeypatch):
    installed_elsewhere(tmp_path, monkeypatch)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert locations.project_root() == work.resolve()
    assert resolve_data_dir() == (work / "data").resolve()


def test_installed_elsewhere_run_inside_a_checkout(tmp_path, monkeypatch):
    installed_elsewhere(tmp_path, monkeypatch)
    checkout = tmp_path / "deimos"
    (checkout / "notebooks").mkdir(parents=True)
    (checkout / "pyproject.toml").write_text("[project]\nname = 'deimos_utils'\n")
    monkeypatch.chdir(checkout / "notebooks")
    assert locations.project_root() == checkout.resolve()
    assert locations.results_root() == checkout.resolve() / "results"

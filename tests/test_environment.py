"""environment.yml (conda, for users) must name the same dependencies as pyproject.toml."""
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge names that differ from PyPI's
CONDA_TO_PYPI = {"pytorch": "torch"}


def _split(requirement: str):
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def pyproject_requirements():
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = data["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs = {}
    deps = list(env["dependencies"])
    for section in [d for d in deps if isinstance(d, dict)]:
        deps += [r for r in section["pip"] if not r.startswith("-e")]
    for dep in deps:
        if isinstance(dep, dict) or dep.startswith(("python", "pip")):
            continue
        name, spec = _split(dep)
        reqs[CONDA_TO_PYPI.get(name, name)] = spec
    return reqs


def test_same_packages_and_versions():
    assert conda_requirements() == pyproject_requirements()


def test_environment_installs_the_package_itself():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = [d for d in env["dependencies"] if isinstance(d, dict)]
    assert pip_section and "-e ." in pip_section[0]["pip"]
    assert "conda-forge" in env["channels"] and "pytorch" not in env["channels"]

"""environment.yml and pyproject.toml must ask for the same packages; the toc must match the files."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement):
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _pip_section():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    return env, next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))


def test_environment_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    env, pip = _pip_section()
    assert "python=3.11" in env["dependencies"]
    assert project["requires-python"] == ">=3.11,<3.12"
    pinned = [p for p in pip if not p.startswith("-e")]
    assert sorted(pinned) == sorted(wanted), "environment.yml pip section != pyproject dependencies"
    assert '-e ".[dev]"' in pip


def test_core_packages_are_required():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    assert {"tensorflow", "jupyterlab", "jupyter-book", "matplotlib", "nbval", "ipywidgets"} <= names
    jb = next(r for r in project["optional-dependencies"]["dev"] if _name(r) == "jupyter-book")
    assert "<2" in jb, "the book is Jupyter Book 1.x (2.x fetches its theme at build time)"


def test_toc_lists_existing_files_and_every_notebook():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]] + [c["file"] for part in toc["parts"] for c in part["chapters"]]
    for f in files:
        assert any((ROOT / (f + ext)).is_file() for ext in (".md", ".ipynb")), f
    notebooks = {f"notebooks/{p.stem}" for p in (ROOT / "notebooks").glob("*.ipynb")}
    assert notebooks <= set(files), f"notebooks missing from _toc.yml: {notebooks - set(files)}"

"""The lock (constraints.txt) and the ranges (pyproject.toml) agree, and every runtime range is bounded."""
from __future__ import annotations

import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _locked() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_every_dependency_is_locked_within_its_range():
    locked = _locked()
    project = _project()
    for spec in project["dependencies"] + project["optional-dependencies"]["dev"]:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in constraints.txt"
        assert requirement.specifier.contains(locked[name], prereleases=True), (name, locked[name])


def test_every_runtime_dependency_has_an_upper_bound():
    for spec in _project()["dependencies"]:
        requirement = Requirement(spec)
        assert any(s.operator in ("<", "<=", "==", "~=") for s in requirement.specifier), spec

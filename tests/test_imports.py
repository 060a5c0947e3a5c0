"""The package boundaries of docs/architecture.md: pointkit -> sync <- hub, nothing else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {"sync": {"pointkit", "hub"}, "pointkit": {"hub"}, "hub": {"pointkit"}}


def imported_top_levels(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_inside_the_design(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"no Python files under {package}/"
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_top_levels(path) & FORBIDDEN[package])
        for path in files
        if imported_top_levels(path) & FORBIDDEN[package]
    }
    assert offenders == {}, f"{package} must not import {sorted(FORBIDDEN[package])}: {offenders}"


def test_the_walker_sees_imports(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text("import hub.models\nfrom pointkit import intake\nfrom . import local\n", encoding="utf-8")
    assert imported_top_levels(sample) == {"hub", "pointkit"}

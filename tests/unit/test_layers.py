"""The product's packages form layers: each imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR

# Top to bottom. A package may import itself and any package after it, never one before it.
LAYERS = ["onboarding", "admin", "funnels", "sync", "billing", "iam", "jobqueue", "connectors", "lib"]


def imported_packages(source: Path) -> set[str]:
    tree = ast.parse(source.read_text(), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):  # function-level imports count as much as module-level ones
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def modules_of(package: str) -> list[Path]:
    return [path for path in (PROJECT_DIR / package).rglob("*.py") if "piccolo_migrations" not in path.parts]


@pytest.mark.parametrize("package", LAYERS)
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    above = set(LAYERS[: LAYERS.index(package)])
    offending = {
        f"{path.relative_to(PROJECT_DIR)} imports {name}"
        for path in modules_of(package)
        for name in imported_packages(path) & above
    }
    assert not offending, sorted(offending)


def test_the_sandboxes_import_no_product_package() -> None:
    offending = {
        f"{path.relative_to(PROJECT_DIR)} imports {name}"
        for path in modules_of("sandbox")
        for name in imported_packages(path) & set(LAYERS)
    }
    assert not offending, sorted(offending)


def test_every_product_package_has_a_layer() -> None:
    packages = {
        path.parent.name
        for path in PROJECT_DIR.glob("*/__init__.py")
        if path.parent.name not in {"tests", "sandbox"}
    }
    assert packages == set(LAYERS)

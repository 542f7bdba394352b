"""The product's packages form layers: each imports only the layers below it (docs/architecture.md)."""

from __future__ import annotations

import pytest

from tests.support.environment import PROJECT_DIR
from tests.support.source import LAYERS, imported_packages, modules_of


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

"""The tests mirror the code, and share helpers only through support modules and fixtures.

`tests/unit/<package>/test_<module>.py` and `tests/integration/<package>/test_<module>.py` test the
product module `<package>/<module>.py` (docs/architecture.md, "Tests"). A helper two tests need
lives in a support module (tests/support/, tests/e2e/support.py, ...) or in a fixture of a
conftest.py: a test module or a conftest imported by another module would run its tests' setup,
fixtures and module state wherever it is imported, and tie tests to each other's order.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from tests.support.environment import PROJECT_DIR
from tests.support.source import LAYERS

TESTS_DIR = PROJECT_DIR / "tests"
MIRRORED = ("unit", "integration")
# `python -m tests.x`, `uvicorn --factory tests.x:app`: a process importing tests.x.
DOTTED_TESTS_MODULE = re.compile(r"(tests(?:\.[A-Za-z_][A-Za-z0-9_]*)+)(?::[A-Za-z_][A-Za-z0-9_]*)?")


def python_files(root: Path) -> Iterator[Path]:
    return (path for path in sorted(root.rglob("*.py")) if "__pycache__" not in path.parts)


def is_test_module_or_conftest(path: Path) -> bool:
    return path.name == "conftest.py" or (path.name.startswith("test_") and path.suffix == ".py")


def module_file(dotted: str) -> Path | None:
    """The file a dotted module name under tests/ is read from, if there is one."""
    base = PROJECT_DIR.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def package_of(path: Path) -> str:
    return ".".join(path.relative_to(PROJECT_DIR).with_suffix("").parts[:-1])


def imported_modules(path: Path) -> Iterator[str]:
    """Every module `path` imports, function-level imports included, as absolute dotted names;
    `from a import b` yields `a.b` too (b may be a module), and strings naming tests.x (for
    `python -m tests.x` or `tests.x:app`) count as imports of tests.x."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package_of(path).split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and (named := DOTTED_TESTS_MODULE.fullmatch(node.value))
        ):
            yield named.group(1)


def imports_of_test_modules(tests_dir: Path) -> set[str]:
    offending = set()
    for path in python_files(tests_dir):
        for module in imported_modules(path):
            if not module.startswith("tests."):
                continue
            target = module_file(module)
            if target is not None and is_test_module_or_conftest(target):
                offending.add(f"{path.relative_to(PROJECT_DIR)} imports {module}")
    return offending


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    assert imports_of_test_modules(TESTS_DIR) == set()


def mirrored_directories(tests_dir: Path) -> Iterator[Path]:
    for kind in MIRRORED:
        for path in sorted((tests_dir / kind).rglob("*")):
            if path.is_dir() and "__pycache__" not in path.parts:
                yield path


def directories_naming_no_product_package(tests_dir: Path) -> set[str]:
    """tests/unit/sync/flows names the package sync/flows: it must be a product package."""
    offending = set()
    for path in mirrored_directories(tests_dir):
        mirrored = path.relative_to(tests_dir / path.relative_to(tests_dir).parts[0])
        is_package = (PROJECT_DIR / mirrored / "__init__.py").is_file()
        if mirrored.parts[0] not in LAYERS or not is_package:
            offending.add(str(path.relative_to(PROJECT_DIR)))
    return offending


def test_every_unit_and_integration_directory_names_a_product_package() -> None:
    assert directories_naming_no_product_package(TESTS_DIR) == set()


def directories_without_init(tests_dir: Path) -> set[str]:
    return {
        str(path.parent.relative_to(PROJECT_DIR))
        for path in python_files(tests_dir)
        if not (path.parent / "__init__.py").is_file()
    }


def test_every_test_directory_is_a_package() -> None:
    # So mirrored modules may share a name (tests/unit/iam/test_tables.py, tests/unit/sync/test_tables.py)
    # and import as tests.unit.iam.test_tables, never as a bare, clashing test_tables.
    assert directories_without_init(TESTS_DIR) == set()

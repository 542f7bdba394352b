"""The product's source as the layout tests read it: its packages by layer, their modules, imports."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.environment import PROJECT_DIR

# Top to bottom. A package may import itself and any package after it, never one before it.
LAYERS = [
    "onboarding",
    "alerts",
    "admin",
    "funnels",
    "analytics",
    "sync",
    "billing",
    "iam",
    "jobqueue",
    "connectors",
    "lib",
]


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

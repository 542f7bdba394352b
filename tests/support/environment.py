"""Where the project and the test artifacts are, and the switches that make a skip a failure."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
ARTIFACTS_DIR = PROJECT_DIR / "test-artifacts"
LOGS_DIR = ARTIFACTS_DIR / "logs"


def require(name: str) -> bool:
    """REQUIRE_POSTGRES=1, REQUIRE_BROWSER=1: a missing system fails the test instead of skipping it."""
    return os.environ.get(name, "") == "1"

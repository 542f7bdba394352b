"""The sandbox's tests: nothing here comes from the product's tests/conftest.py.

Helpers the tests share are plain modules (`asgi_support`, the `*_support` modules of
each sandbox), imported by their package path.
"""

from __future__ import annotations

import sys
from pathlib import Path

SANDBOX_DIR = Path(__file__).resolve().parents[1]

# `python -m pytest` run inside sandbox/ puts that directory first on sys.path, where the
# sandbox's own `stripe` package would hide the Stripe SDK the Stripe sandbox's tests use.
# The package is imported as `sandbox` from the directory above, never from in here.
sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != SANDBOX_DIR]

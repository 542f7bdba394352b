"""The CRM sandbox for test_bench_sync_throughput, served by `uvicorn --factory
tests.bench.crm_sandbox:crm_sandbox` in a process of its own, with a request limit lifted."""

from __future__ import annotations

import os

from litestar import Litestar

from sandbox.common.ratelimit import RateLimit
from sandbox.crm import CrmSandboxConfig, create_crm_sandbox

# The CRM sandbox's default (600 a minute per client) would be the limit here, not Shopify's bucket.
CRM_REQUESTS_PER_MINUTE = 1_000_000


def crm_sandbox() -> Litestar:
    """The CRM sandbox as the launcher builds it, for `uvicorn --factory`, with a request limit
    this run never reaches (see tests/bench/test_bench_sync_throughput.py)."""
    return create_crm_sandbox(
        CrmSandboxConfig(
            public_url=os.environ["BENCH_CRM_URL"],
            app_jwks_url=os.environ["BENCH_APP_JWKS_URL"],
            rate_limit=RateLimit(requests=CRM_REQUESTS_PER_MINUTE, per_seconds=60.0),
        )
    )

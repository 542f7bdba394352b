from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from sandbox.tests.integration.stripe.stripe_support import Harness, running_stripe


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    async with running_stripe() as running:
        yield running

"""The sync's tests that need a shop at work take `stack`: a live funnel on the in-process stack."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.support.live_funnel import live_funnel
from tests.support.stack import Stack, running_stack


@pytest.fixture
async def stack(database_url: str) -> AsyncIterator[Stack]:
    """SHOP installed through its webhooks and CRM account, with one live funnel
    (`stack.funnel_id`, read through `funnel_of`)."""
    async with running_stack(database_url) as running:
        running.funnel_id = await live_funnel(running)  # type: ignore[attr-defined]
        yield running

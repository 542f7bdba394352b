"""Admin: the sync overview names the shops whose Shopify access was lost."""

from __future__ import annotations

import httpx
import pytest

from iam.tables import Shop
from lib.clock import utcnow
from tests.support.admin_area import signed_in_admin

pytestmark = pytest.mark.postgres


async def test_a_shop_whose_shopify_access_was_lost_is_listed_with_it(client: httpx.AsyncClient) -> None:
    await signed_in_admin(client)
    await Shop.insert(
        Shop(domain="lost.myshopify.com", access_lost_at=utcnow()),
        Shop(domain="fine.myshopify.com", access_token="sealed"),
    )
    page = await client.get("/admin/sync")
    assert page.status_code == 200
    assert "lost.myshopify.com<br><small" in page.text
    assert "Shopify access expired" in page.text
    assert "fine.myshopify.com" not in page.text  # nothing to show for it

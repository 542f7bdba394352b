"""Rotating the vault key: every stored token moves to the newest key and stays readable."""

from __future__ import annotations

import pytest

from iam.key_rotation import reencrypt_all
from iam.tables import ExternalAccount, Shop
from iam.tokens import shop_access_token
from iam.vault import generate_key
from onboarding.app import create_app
from tests.support.app import lifespan_of, make_settings
from tests.support.shops import iam_of, install_shop

pytestmark = pytest.mark.postgres
OLD_KEY = f"old:{generate_key()}"
NEW_KEY = f"new:{generate_key()}"
SHOP = "demo-store.myshopify.com"


async def test_rotate_keys_reencrypts_every_token_under_the_newest_key(database_url: str) -> None:
    before = create_app(make_settings(database_url, vault_keys=OLD_KEY))
    async with lifespan_of(before):
        await install_shop(before, SHOP, access_token="shpat_rotate_me")
        await ExternalAccount.update(
            {
                ExternalAccount.access_token: iam_of(before).vault.encrypt(
                    "crm-token", f"shop:{SHOP}:crm:access_token"
                )
            }
        ).where(ExternalAccount.system == "crm")

    during = create_app(make_settings(database_url, vault_keys=f"{NEW_KEY},{OLD_KEY}"))
    async with lifespan_of(during):
        assert await reencrypt_all(iam_of(during).vault) == 3  # access, refresh, CRM token
        assert await reencrypt_all(iam_of(during).vault) == 0  # nothing left on the old key

    after = create_app(make_settings(database_url, vault_keys=NEW_KEY))
    async with lifespan_of(after):
        row = await Shop.select(Shop.access_token, Shop.refresh_token).first()
        assert row is not None
        assert row["access_token"].split(".")[1] == "new"
        assert row["refresh_token"].split(".")[1] == "new"
        assert await shop_access_token(iam_of(after), SHOP) == "shpat_rotate_me"

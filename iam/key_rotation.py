"""Re-encrypts every stored secret under the newest vault key."""

from __future__ import annotations

from typing import Any

from piccolo.columns import Column

from iam.provisioning import account_token_purpose
from iam.tables import ExternalAccount, Shop
from iam.tokens import token_purpose
from iam.vault import Vault
from lib.db import write_transaction


async def reencrypt_all(vault: Vault) -> int:
    """Returns how many ciphertexts moved to the newest key; safe to run again."""
    moved = 0
    for shop in await Shop.select(Shop.id, Shop.domain, Shop.access_token, Shop.refresh_token):
        values: dict[Column | str, Any] = {}
        for column, name in ((Shop.access_token, "access_token"), (Shop.refresh_token, "refresh_token")):
            sealed = shop[name]
            if sealed and vault.needs_rotation(sealed):
                values[column] = vault.reencrypt(sealed, token_purpose(shop["domain"], name))
        if values:
            # Only if unchanged since we read it: a concurrent token refresh wins.
            async with write_transaction():
                current = (
                    await Shop.select(Shop.access_token, Shop.refresh_token)
                    .where(Shop.id == shop["id"])
                    .first()
                )
                if current == {"access_token": shop["access_token"], "refresh_token": shop["refresh_token"]}:
                    await Shop.update(values).where(Shop.id == shop["id"])
                    moved += len(values)
    accounts = await ExternalAccount.select(
        ExternalAccount.id, ExternalAccount.system, ExternalAccount.access_token, ExternalAccount.shop.domain
    ).where(ExternalAccount.access_token.is_not_null())
    for account in accounts:
        sealed = account["access_token"]
        if vault.needs_rotation(sealed):
            purpose = account_token_purpose(account["shop.domain"], account["system"])
            updated = (
                await ExternalAccount.update({ExternalAccount.access_token: vault.reencrypt(sealed, purpose)})
                .where((ExternalAccount.id == account["id"]) & (ExternalAccount.access_token == sealed))
                .returning(ExternalAccount.id)
            )
            moved += len(updated)
    return moved

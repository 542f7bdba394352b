"""The in-memory store of every shop, with id allocation and the optional state file."""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from litestar.serialization import decode_json, encode_json

from sandbox.shopify.models import (
    AccessToken,
    Product,
    Shop,
    Variant,
    utcnow,
)

# Read and write everything unless told otherwise: a custom app's token usually has
# exactly the scopes the merchant ticked, and the app checks what it got.
DEFAULT_SCOPES: tuple[str, ...] = (
    "read_products",
    "write_products",
    "read_inventory",
    "write_inventory",
    "read_orders",
    "write_orders",
    "read_customers",
    "write_customers",
    "read_fulfillments",
    "write_fulfillments",
    "read_merchant_managed_fulfillment_orders",
    "write_merchant_managed_fulfillment_orders",
    "read_discounts",
    "write_discounts",
)


@dataclass
class Snapshot:
    """What the state file holds. Versioned so an old file is rejected, not misread."""

    version: int
    next_id: int
    shops: dict[str, Shop] = field(default_factory=dict)


SNAPSHOT_VERSION = 1


class Store:
    """All shops, keyed by myshopify domain. Only the event loop touches it: no locks."""

    def __init__(self, shops: dict[str, Shop], next_id: int) -> None:
        self.shops = shops
        self._next_id = next_id

    def allocate_id(self) -> int:
        # One counter for every kind of record keeps ids unique across kinds and
        # increasing, so ordering by id is ordering by creation, as on Shopify.
        self._next_id += 1
        return self._next_id

    def shop(self, domain: str) -> Shop | None:
        return self.shops.get(domain.lower())

    def mint_token(self, shop: Shop, scopes: list[str] | None = None) -> AccessToken:
        token = AccessToken(
            token="shpat_" + secrets.token_hex(16),
            scopes=sorted(set(scopes if scopes is not None else DEFAULT_SCOPES)),
            created_at=utcnow(),
        )
        shop.tokens[token.token] = token
        return token

    def find_variant(self, shop: Shop, variant_id: int) -> tuple[Product, Variant] | None:
        for product in shop.products.values():
            for variant in product.variants:
                if variant.id == variant_id:
                    return product, variant
        return None

    def unique_handle(self, shop: Shop, wanted: str, *, exclude_id: int | None = None) -> str:
        # Shopify appends -1, -2, ... when a generated handle is taken.
        taken = {p.handle for p in shop.products.values() if p.id != exclude_id}
        handle, n = wanted, 0
        while handle in taken:
            n += 1
            handle = f"{wanted}-{n}"
        return handle

    # -- persistence -------------------------------------------------------------------

    def to_json(self) -> bytes:
        return encode_json(Snapshot(SNAPSHOT_VERSION, self._next_id, self.shops))

    @classmethod
    def from_json(cls, raw: bytes) -> Store:
        snapshot = decode_json(raw, target_type=Snapshot)
        if snapshot.version != SNAPSHOT_VERSION:
            raise ValueError(f"state file version {snapshot.version} is not {SNAPSHOT_VERSION}")
        return cls(snapshot.shops, snapshot.next_id)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace `path` so a crash mid-write never leaves a truncated state file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

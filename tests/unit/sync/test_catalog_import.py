"""A bulk file's lines become CRM products one product at a time, collections included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

from iam.clients import ShopClients
from sync.catalog_import import CatalogWriter, write_bulk_records
from sync.mappers import MAX_COLLECTIONS


class RecordingWriter(CatalogWriter):
    """Keeps what would go to the CRM, and what the file had been read up to at each write."""

    def __init__(self, read: list[str]) -> None:
        super().__init__(cast(ShopClients, None), "shop.myshopify.com")
        self.read = read
        self.sent: list[tuple[dict[str, Any], int]] = []

    async def add(self, body: dict[str, Any]) -> None:
        self.sent.append((body, len(self.read)))


def product(n: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Product/{n}",
        "title": f"Product {n}",
        "handle": f"p{n}",
        "status": "ACTIVE",
    }


def variant(n: int, parent: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/ProductVariant/{n}",
        "price": "5.00",
        "selectedOptions": [],
        "inventoryItem": {"measurement": {"weight": {"value": 120, "unit": "GRAMS"}}},
        "__parentId": f"gid://shopify/Product/{parent}",
    }


def collection(n: int, title: str, parent: int) -> dict[str, Any]:
    return {
        "id": f"gid://shopify/Collection/{n}",
        "title": title,
        "__parentId": f"gid://shopify/Product/{parent}",
    }


async def stream(lines: list[dict[str, Any]], read: list[str]) -> AsyncIterator[dict[str, Any]]:
    for line in lines:
        read.append(str(line["id"]))
        yield line


async def imported(lines: list[dict[str, Any]]) -> RecordingWriter:
    read: list[str] = []
    writer = RecordingWriter(read)
    await write_bulk_records(stream(lines, read), writer, "USD", "https://shop")
    return writer


async def test_variants_wait_for_their_products_collections_even_when_these_come_after_them() -> None:
    writer = await imported(
        [
            product(1),
            variant(11, 1),
            collection(91, "Tees", 1),
            variant(12, 1),
            collection(92, "Summer", 1),
            product(2),
            variant(21, 2),
        ]
    )
    bodies = {body["external_id"]: body for body, _ in writer.sent}
    assert bodies["gid://shopify/ProductVariant/11"]["collections"] == ["Summer", "Tees"]
    assert bodies["gid://shopify/ProductVariant/12"]["collections"] == ["Summer", "Tees"]
    last = bodies["gid://shopify/ProductVariant/21"]
    assert (last["collections"], last["weight"], last["weight_unit"]) == ([], 120.0, "g")
    # Product 1's variants went once product 2's line was read, not before, and not at the end.
    lines_read_at = [read for _, read in writer.sent]
    assert lines_read_at == [6, 6, 7]


async def test_only_one_products_lines_are_held_and_stray_children_are_ignored() -> None:
    lines = [
        product(1),
        variant(11, 1),
        variant(31, 3),
        collection(93, "Elsewhere", 3),
        product(2),
        variant(21, 2),
    ]
    writer = await imported(lines)
    assert [body["external_id"] for body, _ in writer.sent] == [
        "gid://shopify/ProductVariant/11",
        "gid://shopify/ProductVariant/21",
    ]
    assert all(body["collections"] == [] for body, _ in writer.sent)


async def test_a_product_in_many_collections_keeps_the_first_ones_as_the_paged_query_does() -> None:
    titles = [f"Group {n:02d}" for n in range(40)]
    lines = [product(1), *(collection(100 + i, t, 1) for i, t in enumerate(titles)), variant(11, 1)]
    [(body, _)] = (await imported(lines)).sent
    assert body["collections"] == titles[:MAX_COLLECTIONS]

"""The deterministic demo catalogue: same seed, same shops, ids, prices and stock."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product as cartesian

from sandbox.shopify.models import (
    Collection,
    Image,
    PlanTier,
    Product,
    ProductOption,
    ProductStatus,
    Shop,
    Variant,
    money,
)
from sandbox.shopify.state import Store

# Shopify ids are 64-bit integers (its documented samples use 18 digits). Ours start past
# 2**53, where a JSON number read as a double (JavaScript's JSON.parse) loses digits, so an id
# handled as anything but an exact integer or a string shows up in tests.
FIRST_ID = 9_100_000_000_000_000
SEED_EPOCH = datetime(2025, 1, 6, 9, 0, tzinfo=UTC)

MAIN_SHOP = "demo-store.myshopify.com"


@dataclass(frozen=True)
class _Template:
    title: str
    product_type: str
    base_price: str
    options: tuple[tuple[str, tuple[str, ...]], ...] = ()
    tags: tuple[str, ...] = ()
    status: ProductStatus = ProductStatus.ACTIVE
    weight_unit: str = "GRAMS"
    weight: float = 250.0


_S_XL = ("S", "M", "L", "XL")

CATALOGUE: tuple[_Template, ...] = (
    _Template(
        "Classic Cotton T-Shirt",
        "Apparel",
        "19.99",
        (("Size", _S_XL), ("Color", ("White", "Black", "Navy"))),
        ("cotton", "bestseller"),
        weight=180,
    ),
    _Template(
        "Organic Hoodie",
        "Apparel",
        "54.00",
        (("Size", _S_XL), ("Color", ("Grey", "Forest"))),
        ("organic",),
        weight=520,
    ),
    _Template(
        "Linen Button-Down Shirt",
        "Apparel",
        "48.50",
        (("Size", ("S", "M", "L")), ("Color", ("Sand", "Sky"))),
        ("linen", "summer"),
    ),
    _Template("Everyday Joggers", "Apparel", "39.00", (("Size", _S_XL),), ("comfort",)),
    _Template(
        "Merino Wool Beanie",
        "Accessories",
        "24.00",
        (("Color", ("Charcoal", "Mustard", "Rust")),),
        ("wool", "winter"),
        weight=90,
    ),
    _Template(
        "Canvas Sneakers",
        "Footwear",
        "65.00",
        (("Size", ("38", "39", "40", "41", "42", "43", "44")),),
        ("bestseller",),
        weight_unit="KILOGRAMS",
        weight=0.8,
    ),
    _Template(
        "Rain Jacket",
        "Apparel",
        "89.00",
        (("Size", ("S", "M", "L")), ("Color", ("Yellow", "Olive"))),
        ("outdoor",),
        status=ProductStatus.ARCHIVED,
    ),
    _Template(
        "Crew Socks 3-Pack",
        "Accessories",
        "14.00",
        (("Size", ("S/M", "L/XL")),),
        ("cotton", "gift"),
    ),
    _Template(
        "Stoneware Mug",
        "Home & Kitchen",
        "18.00",
        (("Color", ("Speckled", "Midnight", "Sage")),),
        ("ceramic", "gift", "bestseller"),
        weight=400,
    ),
    _Template("Pour-Over Coffee Set", "Home & Kitchen", "42.00", (), ("coffee", "gift")),
    _Template(
        "Cast Iron Skillet",
        "Home & Kitchen",
        "45.00",
        (("Size", ("20 cm", "26 cm", "30 cm")),),
        ("cookware",),
        weight_unit="KILOGRAMS",
        weight=2.4,
    ),
    _Template(
        "Bamboo Cutting Board",
        "Home & Kitchen",
        "29.00",
        (("Size", ("Small", "Large")),),
        ("bamboo",),
    ),
    _Template(
        "Glass Storage Jars",
        "Home & Kitchen",
        "22.00",
        (("Size", ("Set of 3", "Set of 6")),),
        ("storage",),
    ),
    _Template(
        "Linen Tea Towels",
        "Home & Kitchen",
        "16.00",
        (("Color", ("Oat", "Clay", "Moss")),),
        ("linen", "gift"),
    ),
    _Template(
        "Ceramic Planter",
        "Home & Garden",
        "27.00",
        (("Size", ("S", "M", "L")), ("Color", ("White", "Terracotta"))),
        ("ceramic",),
    ),
    _Template(
        "Trail Water Bottle",
        "Outdoors",
        "25.00",
        (("Size", ("500 ml", "750 ml", "1 L")), ("Color", ("Steel", "Pine"))),
        ("outdoor", "bestseller"),
    ),
    _Template(
        "Camping Hammock",
        "Outdoors",
        "59.00",
        (("Color", ("Blue", "Orange")),),
        ("outdoor", "summer"),
    ),
    _Template(
        "Ultralight Tent",
        "Outdoors",
        "249.00",
        (("Size", ("1 Person", "2 Person", "3 Person")),),
        ("outdoor",),
        weight_unit="KILOGRAMS",
        weight=1.6,
    ),
    _Template("Rechargeable Headlamp", "Outdoors", "34.99", (), ("outdoor", "gift")),
    _Template(
        "Insulated Picnic Blanket",
        "Outdoors",
        "44.00",
        (("Color", ("Plaid Red", "Plaid Green")),),
        ("summer",),
    ),
    _Template(
        "Dot Grid Notebook",
        "Stationery",
        "12.50",
        (("Size", ("A5", "A4")), ("Color", ("Black", "Kraft", "Blue"))),
        ("paper", "bestseller"),
        weight=300,
    ),
    _Template(
        "Fountain Pen",
        "Stationery",
        "38.00",
        (("Color", ("Black", "Burgundy", "Teal")),),
        ("gift",),
        weight=40,
    ),
    _Template("Walnut Desk Organizer", "Stationery", "49.00", (), ("wood",)),
    _Template("Wall Calendar 2027", "Stationery", "21.00", (), ("paper",), status=ProductStatus.DRAFT),
    _Template("Botanical Art Print", "Art", "30.00", (("Size", ("A4", "A3", "A2")),), ("print", "gift")),
    _Template(
        "Botanical Soap Bar",
        "Beauty",
        "8.50",
        (("Scent", ("Lavender", "Cedar", "Citrus", "Mint")),),
        ("vegan", "gift"),
        weight=120,
    ),
    _Template("Shea Hand Cream", "Beauty", "15.00", (("Size", ("50 ml", "100 ml")),), ("vegan",)),
    _Template("Beard Oil", "Beauty", "19.00", (("Scent", ("Sandalwood", "Unscented")),), ("grooming",)),
    _Template(
        "Mineral Bath Salts",
        "Beauty",
        "17.00",
        (("Size", ("250 g", "500 g")), ("Scent", ("Eucalyptus", "Rose"))),
        ("spa",),
    ),
    _Template(
        "Single-Origin Coffee Beans",
        "Food & Drink",
        "16.00",
        (("Size", ("250 g", "1 kg")), ("Grind", ("Whole Bean", "Espresso", "Filter"))),
        ("coffee", "bestseller"),
    ),
    _Template("Loose Leaf Tea Sampler", "Food & Drink", "26.00", (), ("tea", "gift")),
    _Template(
        "Dark Chocolate Bar",
        "Food & Drink",
        "6.50",
        (("Flavor", ("Sea Salt", "Orange", "Chili")),),
        ("vegan",),
        weight=100,
    ),
    _Template(
        "Gift Card",
        "Gift Cards",
        "25.00",
        (("Denomination", ("$25", "$50", "$100")),),
        ("gift",),
        weight=0,
    ),
    _Template("Mystery Bundle", "Bundles", "99.00", (), ("bundle",), status=ProductStatus.DRAFT),
)

_VENDORS: dict[str, str] = {
    "Apparel": "Acme Outfitters",
    "Accessories": "Acme Outfitters",
    "Footwear": "Stride & Co",
    "Home & Kitchen": "Maple & Co",
    "Home & Garden": "Maple & Co",
    "Outdoors": "Blue Harbor",
    "Stationery": "Paper Lane",
    "Art": "Paper Lane",
    "Beauty": "Fern Apothecary",
    "Food & Drink": "Northwind Pantry",
    "Gift Cards": "Demo Store",
    "Bundles": "Demo Store",
}

_BLURBS = (
    "Made to last and made to be used every day.",
    "Thoughtfully designed, responsibly sourced and shipped in plastic-free packaging.",
    "A small-batch favourite that our customers keep coming back for.",
    "Simple, honest materials with a finish that gets better with age.",
    "Our take on a timeless classic, updated with a few clever details.",
)


@dataclass(frozen=True)
class _ShopSpec:
    domain: str
    name: str
    tier: PlanTier
    currency: str
    product_count: int


SHOP_SPECS: tuple[_ShopSpec, ...] = (
    _ShopSpec(MAIN_SHOP, "Demo Store", PlanTier.STANDARD, "USD", len(CATALOGUE)),
    _ShopSpec("demo-advanced.myshopify.com", "Demo Advanced", PlanTier.ADVANCED, "CAD", 6),
    _ShopSpec("demo-plus.myshopify.com", "Demo Plus", PlanTier.PLUS, "EUR", 5),
    _ShopSpec("demo-enterprise.myshopify.com", "Demo Enterprise", PlanTier.ENTERPRISE, "GBP", 4),
)


def handleize(text: str) -> str:
    """Shopify's handle rule: lower case, runs of other characters become one dash."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "product"


def _code(value: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", value.upper())[:6]


def build_seed_store(seed: int, extra_demo_products: int = 0) -> Store:
    rng = random.Random(seed)
    store = Store({}, FIRST_ID)
    for spec in SHOP_SPECS:
        shop = Shop(
            id=store.allocate_id(),
            domain=spec.domain,
            name=spec.name,
            email=f"owner@{spec.domain.removesuffix('.myshopify.com')}.example",
            tier=spec.tier,
            currency_code=spec.currency,
            created_at=SEED_EPOCH - timedelta(days=30),
        )
        store.shops[shop.domain] = shop
        # Small shops take templates spread over the catalogue so each has some variety.
        step = max(1, len(CATALOGUE) // spec.product_count)
        templates = [CATALOGUE[(i * step) % len(CATALOGUE)] for i in range(spec.product_count)]
        for index, template in enumerate(templates):
            product = _make_product(store, rng, template, index)
            shop.products[product.id] = product
        if spec.domain == MAIN_SHOP:
            for n in range(extra_demo_products):
                template = _Template(
                    f"Generated Product {n + 1:05d}",
                    "Generated",
                    money(5 + n % 95),
                    (("Size", ("Regular", "Large")),),
                    ("generated",),
                )
                product = _make_product(store, rng, template, len(templates) + n)
                shop.products[product.id] = product
        _make_collections(store, rng, shop)
    return store


def _make_product(store: Store, rng: random.Random, template: _Template, index: int) -> Product:
    product_id = store.allocate_id()
    created = SEED_EPOCH + timedelta(days=index, hours=rng.randrange(0, 9))
    updated = created + timedelta(days=rng.randrange(0, 60), minutes=rng.randrange(0, 600))
    hue = rng.randrange(0, 360)
    options = [
        ProductOption(store.allocate_id(), name, list(values)) for name, values in template.options
    ] or [ProductOption(store.allocate_id(), "Title", ["Default Title"])]

    # One picture per colour when the product comes in colours, else one or two pictures.
    colour = next((o for o in options if o.name == "Color"), None)
    image_labels = colour.values if colour else [template.title] * rng.randrange(1, 3)
    images = [
        Image(
            id=store.allocate_id(),
            alt_text=f"{template.title} - {label}" if colour else template.title,
            label=label if colour else template.title,
            hue=(hue + 47 * i) % 360,
        )
        for i, label in enumerate(image_labels)
    ]
    on_sale = rng.random() < 0.3
    variants: list[Variant] = []
    for position, values in enumerate(cartesian(*(o.values for o in options)), start=1):
        # Bigger sizes cost a little more, as shops often price them.
        step_up = sum(o.values.index(v) for o, v in zip(options, values, strict=True))
        price = Decimal(template.base_price) + Decimal(2 * step_up if options[0].name == "Size" else 0)
        image_id = None
        if colour:
            image_id = images[colour.values.index(values[options.index(colour)])].id
        is_default = values == ("Default Title",)
        sku_suffix = "" if is_default else "-" + "-".join(_code(v) for v in values)
        variants.append(
            Variant(
                id=store.allocate_id(),
                inventory_item_id=store.allocate_id(),
                title=" / ".join(values),
                sku=f"{_code(template.product_type)[:3]}{index + 1:03d}{sku_suffix}",
                barcode=f"{rng.randrange(10**11, 10**12)}" if rng.random() < 0.8 else None,
                price=money(price),
                compare_at_price=money(price * Decimal("1.25")) if on_sale else None,
                inventory_quantity=rng.choice((0, 3, 12, 25, 40, 75, 120, 150)),
                position=position,
                option_values=list(values),
                image_id=image_id,
                weight=template.weight,
                weight_unit=template.weight_unit,
                created_at=created,
                updated_at=updated,
            )
        )
    tags = sorted({*template.tags, *(("sale",) if on_sale else ())})
    return Product(
        id=product_id,
        title=template.title,
        handle=handleize(template.title),
        description_html=f"<p>{rng.choice(_BLURBS)}</p>",
        vendor=_VENDORS.get(template.product_type, "Demo Store"),
        product_type=template.product_type,
        status=template.status,
        tags=tags,
        created_at=created,
        updated_at=updated,
        published_at=created if template.status is ProductStatus.ACTIVE else None,
        options=options,
        variants=variants,
        images=images,
    )


def _make_collections(store: Store, rng: random.Random, shop: Shop) -> None:
    products = list(shop.products.values())

    def add(title: str, members: list[Product]) -> None:
        collection = Collection(
            id=store.allocate_id(),
            title=title,
            handle=handleize(title),
            description_html=f"<p>{title} from {shop.name}.</p>",
            product_ids=[p.id for p in members],
            updated_at=SEED_EPOCH + timedelta(days=rng.randrange(0, 60)),
        )
        shop.collections[collection.id] = collection

    add("Home page", [p for p in products if p.status is ProductStatus.ACTIVE][:8])
    add("Best sellers", [p for p in products if "bestseller" in p.tags])
    add("Gifts", [p for p in products if "gift" in p.tags])
    add("Under 30", [p for p in products if min(Decimal(v.price) for v in p.variants) < 30])
    for product_type in sorted({p.product_type for p in products})[:4]:
        add(product_type, [p for p in products if p.product_type == product_type])

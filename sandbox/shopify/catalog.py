"""Product and variant changes with Shopify's validation rules.

Shared by the Admin API mutations and the merchant's edits through the control API, so
both validate alike. Changes use the Admin API's input names (title, descriptionHtml,
compareAtPrice, ...). Validation first, then apply: a change with errors changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sandbox.shopify.models import (
    GRAMS_PER_UNIT,
    Product,
    ProductOption,
    ProductStatus,
    Shop,
    Variant,
    money,
    parse_gid,
    utcnow,
)
from sandbox.shopify.seed import handleize
from sandbox.shopify.state import Store

UserError = dict[str, Any]

PRODUCT_FIELDS = ("title", "handle", "descriptionHtml", "vendor", "productType", "status", "tags")
MAX_TITLE = 255
MAX_VARIANTS = 2048  # Shopify's current per-product limit


def user_error(field: Sequence[str] | None, message: str, code: str | None = None) -> UserError:
    error: UserError = {"field": list(field) if field is not None else None, "message": message}
    if code is not None:
        error["code"] = code
    return error


# -- products -------------------------------------------------------------------------


def validate_product(
    shop: Shop, changes: Mapping[str, Any], *, product_id: int | None, creating: bool
) -> list[UserError]:
    errors: list[UserError] = []
    if creating or "title" in changes:
        title = changes.get("title")
        if not isinstance(title, str) or not title.strip():
            errors.append(user_error(["title"], "Title can't be blank"))
        elif len(title) > MAX_TITLE:
            errors.append(user_error(["title"], f"Title is too long (maximum is {MAX_TITLE} characters)"))
    handle = changes.get("handle")
    if handle is not None:
        wanted = handleize(str(handle))
        if any(p.handle == wanted and p.id != product_id for p in shop.products.values()):
            errors.append(
                user_error(["handle"], f"Handle '{wanted}' already in use. Please provide a new handle.")
            )
    status = changes.get("status")
    if status is not None and status not in ProductStatus.__members__:
        errors.append(user_error(["status"], f"Status '{status}' is not a valid status"))
    tags = changes.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
        errors.append(user_error(["tags"], "Tags must be a list of strings"))
    for name in ("vendor", "productType", "descriptionHtml"):
        value = changes.get(name)
        if value is not None and not isinstance(value, str):
            errors.append(user_error([name], f"{name} must be a string"))
    return errors


def apply_product(product: Product, changes: Mapping[str, Any]) -> None:
    """Apply validated changes; `None` means "leave as is", as in Shopify's inputs."""
    if changes.get("title") is not None:
        product.title = str(changes["title"]).strip()
    if changes.get("handle") is not None:
        product.handle = handleize(str(changes["handle"]))
    if changes.get("descriptionHtml") is not None:
        product.description_html = str(changes["descriptionHtml"])
    if changes.get("vendor") is not None:
        product.vendor = str(changes["vendor"])
    if changes.get("productType") is not None:
        product.product_type = str(changes["productType"])
    if changes.get("tags") is not None:
        product.tags = sorted({t.strip() for t in changes["tags"] if t.strip()})
    if changes.get("status") is not None:
        product.status = ProductStatus(changes["status"])
        if product.status is ProductStatus.ACTIVE and product.published_at is None:
            product.published_at = utcnow()
    product.updated_at = utcnow()


def create_product(store: Store, shop: Shop, fields: Mapping[str, Any]) -> Product:
    """Create a validated product with one variant, as productCreate does since 2024-04.

    With `productOptions` the single variant takes each option's first value; more
    variants come from productVariantsBulkCreate.
    """
    now = utcnow()
    option_inputs = fields.get("productOptions") or []
    options = [
        ProductOption(
            store.allocate_id(),
            str(o.get("name") or f"Option {i}"),
            [str(v.get("name")) for v in (o.get("values") or []) if v.get("name")],
        )
        for i, o in enumerate(option_inputs, 1)
    ]
    options = [o for o in options if o.values] or [
        ProductOption(store.allocate_id(), "Title", ["Default Title"])
    ]
    first_values = [o.values[0] for o in options]
    title = str(fields["title"]).strip()
    status = ProductStatus(fields.get("status") or "ACTIVE")
    product = Product(
        id=store.allocate_id(),
        title=title,
        handle=(
            handleize(str(fields["handle"]))
            if fields.get("handle")
            else store.unique_handle(shop, handleize(title))
        ),
        description_html=str(fields.get("descriptionHtml") or ""),
        vendor=str(fields.get("vendor") or shop.name),
        product_type=str(fields.get("productType") or ""),
        status=status,
        tags=sorted({t.strip() for t in fields.get("tags") or [] if t.strip()}),
        created_at=now,
        updated_at=now,
        published_at=now if status is ProductStatus.ACTIVE else None,
        options=options,
        variants=[],
        images=[],
    )
    product.variants.append(_new_variant(store, product, first_values, position=1))
    shop.products[product.id] = product
    return product


def delete_product(shop: Shop, product: Product) -> None:
    del shop.products[product.id]
    for collection in shop.collections.values():
        if product.id in collection.product_ids:
            collection.product_ids.remove(product.id)


def _new_variant(store: Store, product: Product, values: list[str], *, position: int) -> Variant:
    now = utcnow()
    return Variant(
        id=store.allocate_id(),
        inventory_item_id=store.allocate_id(),
        title=" / ".join(values),
        sku="",
        barcode=None,
        price="0.00",
        compare_at_price=None,
        inventory_quantity=0,
        position=position,
        option_values=list(values),
        image_id=None,
        weight=0.0,
        weight_unit="KILOGRAMS",
        created_at=now,
        updated_at=now,
    )


# -- variants -------------------------------------------------------------------------


def _variant_id(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        return int(value) if value.isdigit() else parse_gid(value, "ProductVariant")
    return None


def _price_errors(prefix: list[str], changes: Mapping[str, Any]) -> list[UserError]:
    errors = []
    for name in ("price", "compareAtPrice"):
        raw = changes.get(name)
        if raw is None:
            continue
        try:
            amount = Decimal(money(raw))
        except ValueError:
            errors.append(user_error([*prefix, name], f"{name} is not a valid amount", "INVALID_INPUT"))
            continue
        if amount < 0:
            label = "Price" if name == "price" else "Compare at price"
            errors.append(
                user_error(
                    [*prefix, name],
                    f"{label} must be greater than or equal to 0",
                    "GREATER_THAN_OR_EQUAL_TO",
                )
            )
    return errors


def _weight_errors(prefix: list[str], changes: Mapping[str, Any]) -> list[UserError]:
    item = changes.get("inventoryItem")
    measurement = item.get("measurement") if isinstance(item, Mapping) else None
    weight = measurement.get("weight") if isinstance(measurement, Mapping) else None
    if weight is None:
        return []
    path = [*prefix, "inventoryItem", "measurement", "weight"]
    if not isinstance(weight, Mapping):
        return [user_error(path, "Weight must be an object with a value and a unit", "INVALID_INPUT")]
    errors = []
    value = weight.get("value")
    if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value < 2**31:
        errors.append(
            user_error([*path, "value"], "Weight must be greater than or equal to 0", "INVALID_INPUT")
        )
    if weight.get("unit") not in GRAMS_PER_UNIT:
        units = ", ".join(GRAMS_PER_UNIT)
        errors.append(user_error([*path, "unit"], f"Weight unit must be one of {units}", "INVALID_INPUT"))
    return errors


def validate_variant_updates(
    product: Product, inputs: Sequence[Mapping[str, Any]], *, merchant: bool = False
) -> dict[int, list[UserError]]:
    """Errors per input index (productVariantsBulkUpdate reports `["variants", i, ...]`)."""
    by_index: dict[int, list[UserError]] = {}
    known = {v.id for v in product.variants}
    for i, changes in enumerate(inputs):
        prefix = ["variants", str(i)]
        errors: list[UserError] = []
        variant_id = _variant_id(changes.get("id"))
        if changes.get("id") is None:
            errors.append(
                user_error(
                    [*prefix, "id"],
                    "Product variant is missing ID attribute",
                    "PRODUCT_VARIANT_ID_MISSING",
                )
            )
        elif variant_id not in known:
            errors.append(
                user_error(
                    [*prefix, "id"],
                    "Product variant does not exist",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST",
                )
            )
        errors += _price_errors(prefix, changes)
        errors += _weight_errors(prefix, changes)
        if changes.get("inventoryQuantities") is not None:
            errors.append(
                user_error(
                    [*prefix, "inventoryQuantities"],
                    "Inventory quantities can only be provided during create. To update inventory "
                    "for existing variants, use inventoryAdjustQuantities.",
                    "INVALID_INPUT",
                )
            )
        quantity = changes.get("inventoryQuantity")
        if quantity is not None and (not merchant or not isinstance(quantity, int)):
            errors.append(
                user_error(
                    [*prefix, "inventoryQuantity"],
                    "inventoryQuantity is not accepted",
                    "INVALID_INPUT",
                )
            )
        errors += _option_value_errors(product, prefix, changes, require_all=False)
        if errors:
            by_index[i] = errors
    return by_index


def _option_value_errors(
    product: Product, prefix: list[str], changes: Mapping[str, Any], *, require_all: bool
) -> list[UserError]:
    names = [o.name for o in product.options]
    given = changes.get("optionValues") or []
    errors = []
    named = set()
    for j, value in enumerate(given):
        option_name = value.get("optionName")
        if option_name not in names:
            errors.append(
                user_error(
                    [*prefix, "optionValues", str(j), "optionName"],
                    f"Option '{option_name}' does not exist",
                    "INVALID_INPUT",
                )
            )
        elif not value.get("name"):
            errors.append(
                user_error(
                    [*prefix, "optionValues", str(j), "name"],
                    "Option value can't be blank",
                    "INVALID_INPUT",
                )
            )
        named.add(option_name)
    if require_all and set(names) - named:
        errors.append(
            user_error(
                [*prefix, "optionValues"],
                "You need to add option values for " + ", ".join(sorted(set(names) - named)),
                "INVALID_INPUT",
            )
        )
    return errors


def apply_variant(product: Product, variant: Variant, changes: Mapping[str, Any]) -> None:
    if changes.get("price") is not None:
        variant.price = money(changes["price"])
    if "compareAtPrice" in changes:
        raw = changes["compareAtPrice"]
        variant.compare_at_price = money(raw) if raw is not None else None
    if "barcode" in changes:
        variant.barcode = changes["barcode"] or None
    if changes.get("sku") is not None:
        variant.sku = str(changes["sku"])
    if changes.get("taxable") is not None:
        variant.taxable = bool(changes["taxable"])
    if changes.get("inventoryPolicy") is not None:
        variant.inventory_policy = str(changes["inventoryPolicy"])
    if changes.get("inventoryQuantity") is not None:
        variant.inventory_quantity = int(changes["inventoryQuantity"])
    item = changes.get("inventoryItem") or {}
    if item.get("sku") is not None:
        variant.sku = str(item["sku"])
    if item.get("tracked") is not None:
        variant.tracked = bool(item["tracked"])
    weight = (item.get("measurement") or {}).get("weight")
    if weight is not None:
        variant.weight, variant.weight_unit = float(weight["value"]), str(weight["unit"])
    for value in changes.get("optionValues") or []:
        _set_option_value(product, variant, value["optionName"], value["name"])
    variant.updated_at = utcnow()
    product.updated_at = variant.updated_at


def _set_option_value(product: Product, variant: Variant, option_name: str, value: str) -> None:
    index = [o.name for o in product.options].index(option_name)
    option = product.options[index]
    if value not in option.values:
        option.values.append(value)
    variant.option_values[index] = value
    variant.title = " / ".join(variant.option_values)


def validate_variant_creates(
    product: Product, inputs: Sequence[Mapping[str, Any]]
) -> dict[int, list[UserError]]:
    by_index: dict[int, list[UserError]] = {}
    names = [o.name for o in product.options]
    seen = {tuple(v.option_values) for v in product.variants}
    if len(product.variants) + len(inputs) > MAX_VARIANTS:
        by_index[0] = [
            user_error(["variants"], f"Products can't have more than {MAX_VARIANTS} variants", "INVALID")
        ]
        return by_index
    for i, changes in enumerate(inputs):
        prefix = ["variants", str(i)]
        errors = _price_errors(prefix, changes)
        errors += [
            {**e, "code": "INVALID"} for e in _option_value_errors(product, prefix, changes, require_all=True)
        ]
        if not errors:
            given = {v["optionName"]: v["name"] for v in changes.get("optionValues") or []}
            combo = tuple(given[name] for name in names)
            if combo in seen:
                errors.append(
                    user_error(
                        [*prefix, "optionValues"],
                        f"The variant '{' / '.join(combo)}' already exists.",
                        "VARIANT_ALREADY_EXISTS",
                    )
                )
            seen.add(combo)
        if errors:
            by_index[i] = errors
    return by_index


def create_variant(store: Store, product: Product, changes: Mapping[str, Any]) -> Variant:
    names = [o.name for o in product.options]
    given = {v["optionName"]: v["name"] for v in changes.get("optionValues") or []}
    values = [given[name] for name in names]
    for option, value in zip(product.options, values, strict=True):
        if value not in option.values:
            option.values.append(value)
    variant = _new_variant(store, product, values, position=len(product.variants) + 1)
    stock = changes.get("inventoryQuantities") or []
    variant.inventory_quantity = sum(int(level["availableQuantity"]) for level in stock)
    apply_variant(product, variant, {k: v for k, v in changes.items() if k != "optionValues"})
    product.variants.append(variant)
    return variant


def find_variant_in(product: Product, raw_id: object) -> Variant | None:
    wanted = _variant_id(raw_id)
    return next((v for v in product.variants if v.id == wanted), None)


# -- bulk generation (control API) ----------------------------------------------------

MAX_GENERATED_PRODUCTS = 50_000
MAX_GENERATED_VARIANTS = 250_000


def generate_catalog(store: Store, shop: Shop, products: int, variants_per_product: int) -> list[Product]:
    """Add `products` products of `variants_per_product` variants each, quickly and
    silently (no webhooks): a large catalogue for import and bulk-operation tests.

    Titles "Generated Product 00001", ...; one option "Style" ("Style 1", ...) or the
    default variant; SKUs `GEN-{product}-{variant}`; ACTIVE, tagged `generated`.
    """
    now = utcnow()
    taken = {p.handle for p in shop.products.values()}
    first = 1 + sum(1 for p in shop.products.values() if p.product_type == "Generated")
    created: list[Product] = []
    for n in range(first, first + products):
        title = f"Generated Product {n:05d}"
        handle = wanted = f"generated-product-{n:05d}"
        suffix = 0
        while handle in taken:
            suffix += 1
            handle = f"{wanted}-{suffix}"
        taken.add(handle)
        values = (
            [f"Style {i}" for i in range(1, variants_per_product + 1)]
            if variants_per_product > 1
            else ["Default Title"]
        )
        option = ProductOption(store.allocate_id(), "Style" if variants_per_product > 1 else "Title", values)
        product = Product(
            id=store.allocate_id(),
            title=title,
            handle=handle,
            description_html=f"<p>{title}, made by the sandbox.</p>",
            vendor=shop.name,
            product_type="Generated",
            status=ProductStatus.ACTIVE,
            tags=["generated"],
            created_at=now,
            updated_at=now,
            published_at=now,
            options=[option],
            variants=[],
            images=[],
        )
        base_price = Decimal(5 + n % 95)
        for position, value in enumerate(values, start=1):
            product.variants.append(
                Variant(
                    id=store.allocate_id(),
                    inventory_item_id=store.allocate_id(),
                    title=value,
                    sku=f"GEN-{n:05d}-{position:04d}",
                    barcode=None,
                    price=money(base_price + position - 1),
                    compare_at_price=None,
                    inventory_quantity=10,
                    position=position,
                    option_values=[value],
                    image_id=None,
                    weight=100.0,
                    weight_unit="GRAMS",
                    created_at=now,
                    updated_at=now,
                )
            )
        shop.products[product.id] = product
        created.append(product)
    return created

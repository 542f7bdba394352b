"""Orders, fulfillment orders and fulfillments with Shopify's rules.

Shared by the Admin API (orderCreate, orderUpdate, fulfillmentCreate, ...) and the
control API (a shopper's checkout, the merchant fulfilling or cancelling), so both
validate and change orders alike. Validation first, then apply.

- An order gets the shop's next number ("#1001", ...), one fulfillment order holding
  every line item, and its customer: an existing one (`toAssociate`), or found by id,
  email or phone and updated, or created (`toUpsert`: the unknown-customer rule).
- A line item with a `variantId` takes its title, SKU, vendor and (unless `priceSet`
  says otherwise) price from the catalogue; one without is a custom item: kept on the
  order only, never added to the catalogue.
- Fulfilling takes quantities off the fulfillment order's line items; one with nothing
  left is CLOSED, partly fulfilled IN_PROGRESS; the order's fulfillment status follows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sandbox.shopify.catalog import UserError, user_error
from sandbox.shopify.customers import (
    address_errors,
    apply_customer,
    build_address,
    create_customer,
    find_by_email,
    find_by_phone,
    normalise_email,
    normalise_phone,
    parse_tags,
    validate_customer,
)
from sandbox.shopify.models import (
    Customer,
    Fulfillment,
    FulfillmentLineItem,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    Order,
    Product,
    Shop,
    Variant,
    gid,
    gid_kind,
    money,
    parse_gid,
    utcnow,
)
from sandbox.shopify.search import FieldKind, SearchField, SearchSpec
from sandbox.shopify.state import Store

FINANCIAL_STATUSES = (
    "AUTHORIZED",
    "EXPIRED",
    "PAID",
    "PARTIALLY_PAID",
    "PARTIALLY_REFUNDED",
    "PENDING",
    "REFUNDED",
    "VOIDED",
)
INVENTORY_BEHAVIOURS = ("BYPASS", "DECREMENT_IGNORING_POLICY", "DECREMENT_OBEYING_POLICY")
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "OTHER", "STAFF")


def order_error(field: Sequence[str] | None, message: str, code: str = "INVALID") -> UserError:
    # Shopify's OrderCreateUserErrorCode has no BLANK, NOT_FOUND or TAKEN: a blank, unknown or
    # taken value is INVALID there, the message saying which.
    return user_error(field, message, code)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _numeric(value: object, kind: str) -> int | None:
    """The id in a global id of `kind` (or a plain number, as the control API takes)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if value.isdigit():
            return int(value)
        if gid_kind(value) == kind:
            return parse_gid(value, kind)
    return None


# -- creating orders ------------------------------------------------------------------


@dataclass
class _CustomerPlan:
    """Who the order will belong to, worked out during validation."""

    existing: Customer | None = None
    # Changes for an existing customer (upsert) or the fields of a new one.
    fields: dict[str, Any] | None = None
    create: bool = False


@dataclass
class OrderCreation:
    order: Order
    customer_created: Customer | None = None
    customer_updated: Customer | None = None
    # Variants whose stock changed (inventoryBehaviour other than BYPASS).
    restocked: list[tuple[Product, Variant]] = field(default_factory=list)


_UPSERT_FIELDS = (
    "email",
    "firstName",
    "lastName",
    "phone",
    "note",
    "tags",
    "addresses",
    "emailMarketingConsent",
)


def _customer_plan(
    shop: Shop, order_in: Mapping[str, Any], prefix: list[str]
) -> tuple[list[UserError], _CustomerPlan]:
    spec = order_in.get("customer")
    if spec is None:
        return [], _CustomerPlan()
    base = [*prefix, "customer"]
    associate, upsert = spec.get("toAssociate"), spec.get("toUpsert")
    if associate is not None and upsert is not None:
        return [order_error(base, "Specify either toAssociate or toUpsert, not both")], _CustomerPlan()
    if associate is not None:
        found: Customer | None = None
        if associate.get("id") is not None:
            numeric = _numeric(associate["id"], "Customer")
            found = shop.customers.get(numeric) if numeric is not None else None
            field_path = [*base, "toAssociate", "id"]
        else:
            found = find_by_email(shop, associate.get("email"))
            field_path = [*base, "toAssociate", "email"]
        if found is None:
            return [order_error(field_path, "Customer does not exist")], _CustomerPlan()
        return [], _CustomerPlan(existing=found)
    if upsert is None:
        return [], _CustomerPlan()
    upsert_base = [*base, "toUpsert"]
    fields = {k: v for k, v in upsert.items() if k in _UPSERT_FIELDS}
    if _blank(fields.get("email")) and not _blank(order_in.get("email")):
        fields["email"] = order_in["email"]
    existing: Customer | None = None
    if upsert.get("id") is not None:
        numeric = _numeric(upsert["id"], "Customer")
        existing = shop.customers.get(numeric) if numeric is not None else None
        if existing is None:
            return [order_error([*upsert_base, "id"], "Customer does not exist")], _CustomerPlan()
    else:
        existing = find_by_email(shop, fields.get("email")) or (
            find_by_phone(shop, fields.get("phone")) if _blank(fields.get("email")) else None
        )
    # An upsert never clears what it does not mention: drop nulls.
    fields = {k: v for k, v in fields.items() if v is not None}
    errors = [
        {**e, "code": "INVALID"}
        for e in validate_customer(shop, fields, customer=existing, prefix=upsert_base)
    ]
    if existing is None:
        return errors, _CustomerPlan(fields=fields, create=True)
    return errors, _CustomerPlan(existing=existing, fields=fields)


def _money_input(value: object) -> tuple[str | None, str | None]:
    """(amount, currency) of a MoneyBagInput's shopMoney, or Nones."""
    if not isinstance(value, Mapping):
        return None, None
    shop_money = value.get("shopMoney")
    if not isinstance(shop_money, Mapping):
        return None, None
    raw = shop_money.get("amount")
    try:
        amount = money(raw) if isinstance(raw, str | int | float | Decimal) else None
    except ValueError:
        amount = None
    currency = shop_money.get("currencyCode")
    return amount, str(currency) if currency is not None else None


def _line_item_errors(
    store: Store,
    shop: Shop,
    i: int,
    raw: Mapping[str, Any],
    currency: str,
    inventory_behaviour: str,
    prefix: list[str],
) -> list[UserError]:
    base = [*prefix, "lineItems", str(i)]
    errors = []
    quantity = raw.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        errors.append(order_error([*base, "quantity"], "Quantity must be greater than or equal to 1"))
    found = None
    if raw.get("variantId") is not None:
        numeric = _numeric(raw["variantId"], "ProductVariant")
        found = store.find_variant(shop, numeric) if numeric is not None else None
        if found is None:
            errors.append(order_error([*base, "variantId"], "Product variant does not exist"))
    else:
        if _blank(raw.get("title")):
            errors.append(order_error([*base, "title"], "Title can't be blank"))
        if raw.get("priceSet") is None:
            errors.append(order_error([*base, "priceSet"], "Price set can't be blank"))
    if raw.get("priceSet") is not None:
        amount, given_currency = _money_input(raw["priceSet"])
        if amount is None:
            errors.append(order_error([*base, "priceSet", "shopMoney", "amount"], "Amount is invalid"))
        elif Decimal(amount) < 0:
            errors.append(
                order_error(
                    [*base, "priceSet", "shopMoney", "amount"], "Amount must be greater than or equal to 0"
                )
            )
        if given_currency is not None and given_currency != currency:
            errors.append(
                order_error(
                    [*base, "priceSet", "shopMoney", "currencyCode"],
                    f"Currency code must match the order's currency {currency}",
                )
            )
    if (
        found is not None
        and inventory_behaviour == "DECREMENT_OBEYING_POLICY"
        and isinstance(quantity, int)
        and found[1].tracked
        and found[1].inventory_policy == "DENY"
        and found[1].inventory_quantity < quantity
    ):
        errors.append(
            order_error(
                [*base, "quantity"],
                f"Not enough inventory for {found[0].title} - {found[1].title}: "
                f"{found[1].inventory_quantity} available",
            )
        )
    return errors


def validate_order_create(
    store: Store,
    shop: Shop,
    order_in: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    *,
    prefix: Sequence[str] = ("order",),
) -> list[UserError]:
    base = list(prefix)
    errors: list[UserError] = []
    currency = str(order_in.get("currency") or shop.currency_code)
    behaviour = str((options or {}).get("inventoryBehaviour") or "BYPASS")
    if behaviour not in INVENTORY_BEHAVIOURS:
        errors.append(order_error(["options", "inventoryBehaviour"], "Inventory behaviour is invalid"))
    if not _blank(order_in.get("email")) and normalise_email(str(order_in["email"])) is None:
        errors.append(order_error([*base, "email"], "Email is invalid"))
    if not _blank(order_in.get("phone")) and normalise_phone(str(order_in["phone"])) is None:
        errors.append(order_error([*base, "phone"], "Phone is invalid"))
    status = order_in.get("financialStatus")
    if status is not None and status not in FINANCIAL_STATUSES:
        errors.append(order_error([*base, "financialStatus"], "Financial status is invalid"))
    line_items = order_in.get("lineItems") or []
    if not line_items:
        errors.append(order_error([*base, "lineItems"], "Line items can't be blank"))
    for i, raw in enumerate(line_items):
        if not isinstance(raw, Mapping):
            errors.append(order_error([*base, "lineItems", str(i)], "Line item must be an object"))
            continue
        errors += _line_item_errors(store, shop, i, raw, currency, behaviour, base)
    for name in ("shippingAddress", "billingAddress"):
        if order_in.get(name) is not None:
            errors += [{**e, "code": "INVALID"} for e in address_errors([*base, name], order_in[name])]
    customer_errors, _plan = _customer_plan(shop, order_in, base)
    return errors + customer_errors


def _line_item(store: Store, shop: Shop, raw: Mapping[str, Any]) -> LineItem:
    quantity = int(raw["quantity"])
    amount, _currency = _money_input(raw.get("priceSet"))
    if raw.get("variantId") is not None:
        numeric = _numeric(raw["variantId"], "ProductVariant")
        found = store.find_variant(shop, numeric) if numeric is not None else None
        assert found is not None
        product, variant = found
        return LineItem(
            id=store.allocate_id(),
            title=str(raw.get("title") or product.title),
            quantity=quantity,
            price=amount if amount is not None else variant.price,
            variant_id=variant.id,
            product_id=product.id,
            variant_title=None if variant.title == "Default Title" else variant.title,
            sku=str(raw["sku"]) if raw.get("sku") is not None else (variant.sku or None),
            vendor=str(raw.get("vendor") or product.vendor),
            # Shopify's schema defaults requiresShipping to false and taxable to true, so an
            # input cannot tell "not given" from those: a variant's line ships and is taxed as
            # the variant is (the sandbox's variants are physical goods).
            requires_shipping=True,
            taxable=variant.taxable,
            grams=variant.grams,
        )
    return LineItem(
        id=store.allocate_id(),
        title=str(raw["title"]).strip(),
        quantity=quantity,
        price=amount or "0.00",
        variant_title=str(raw["variantTitle"]) if raw.get("variantTitle") else None,
        sku=str(raw["sku"]) if raw.get("sku") else None,
        vendor=str(raw["vendor"]) if raw.get("vendor") else None,
        requires_shipping=raw.get("requiresShipping") is not False,
        taxable=raw.get("taxable") is not False,
    )


def create_order(
    store: Store,
    shop: Shop,
    order_in: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    *,
    default_source_name: str,
    now: datetime | None = None,
) -> OrderCreation:
    """Create a validated order (validate_order_create returned no errors)."""
    now = now or utcnow()
    _errors, plan = _customer_plan(shop, order_in, ["order"])
    creation_customer: Customer | None = plan.existing
    created: Customer | None = None
    updated: Customer | None = None
    if plan.create and plan.fields is not None:
        created = create_customer(store, shop, plan.fields, now)
        creation_customer = created
    elif plan.existing is not None and plan.fields and apply_customer(store, plan.existing, plan.fields, now):
        updated = plan.existing
    line_items = [_line_item(store, shop, raw) for raw in order_in.get("lineItems") or []]
    fulfillment_order = FulfillmentOrder(
        id=store.allocate_id(),
        status="OPEN",
        line_items=[
            FulfillmentOrderLineItem(store.allocate_id(), li.id, li.quantity, li.quantity)
            for li in line_items
        ],
        created_at=now,
        updated_at=now,
    )
    email = order_in.get("email")
    phone = order_in.get("phone")
    order = Order(
        id=store.allocate_id(),
        number=shop.next_order_number,
        email=normalise_email(str(email))
        if not _blank(email)
        else (creation_customer.email if creation_customer else None),
        phone=normalise_phone(str(phone))
        if not _blank(phone)
        else (creation_customer.phone if creation_customer else None),
        note=str(order_in["note"]) if not _blank(order_in.get("note")) else None,
        tags=parse_tags(order_in.get("tags")),
        currency=str(order_in.get("currency") or shop.currency_code),
        financial_status=str(order_in.get("financialStatus") or "PENDING"),
        source_name=str(order_in.get("sourceName") or default_source_name),
        customer_id=creation_customer.id if creation_customer else None,
        shipping_address=(
            build_address(store, order_in["shippingAddress"]) if order_in.get("shippingAddress") else None
        ),
        billing_address=(
            build_address(store, order_in["billingAddress"]) if order_in.get("billingAddress") else None
        ),
        line_items=line_items,
        fulfillment_orders=[fulfillment_order],
        fulfillments=[],
        created_at=now,
        updated_at=now,
        processed_at=_processed_at(order_in.get("processedAt")) or now,
        po_number=str(order_in["poNumber"]) if not _blank(order_in.get("poNumber")) else None,
    )
    shop.next_order_number += 1
    shop.orders[order.id] = order
    restocked: list[tuple[Product, Variant]] = []
    if str((options or {}).get("inventoryBehaviour") or "BYPASS") != "BYPASS":
        for li in line_items:
            found = store.find_variant(shop, li.variant_id) if li.variant_id is not None else None
            if found is not None and found[1].tracked:
                found[1].inventory_quantity -= li.quantity
                restocked.append(found)
    return OrderCreation(order, created, updated, restocked)


def _processed_at(value: object) -> datetime | None:
    return value if isinstance(value, datetime) else None


# -- updating orders ------------------------------------------------------------------

ORDER_UPDATE_FIELDS = ("email", "phone", "note", "tags", "poNumber", "shippingAddress")


def validate_order_update(changes: Mapping[str, Any], prefix: Sequence[str] = ()) -> list[UserError]:
    base = list(prefix)
    errors = []
    if not _blank(changes.get("email")) and normalise_email(str(changes["email"])) is None:
        errors.append(user_error([*base, "email"], "Email is invalid"))
    if not _blank(changes.get("phone")) and normalise_phone(str(changes["phone"])) is None:
        errors.append(user_error([*base, "phone"], "Phone is invalid"))
    tags = changes.get("tags")
    if tags is not None and not isinstance(tags, str | list):
        errors.append(user_error([*base, "tags"], "Tags must be a list of strings"))
    if changes.get("shippingAddress") is not None:
        errors += address_errors([*base, "shippingAddress"], changes["shippingAddress"])
    return errors


def _order_fingerprint(order: Order) -> tuple[Any, ...]:
    address = order.shipping_address
    return (
        order.email,
        order.phone,
        order.note,
        tuple(order.tags),
        order.po_number,
        address.content() if address else None,
    )


def apply_order_update(
    store: Store, order: Order, changes: Mapping[str, Any], now: datetime | None = None
) -> bool:
    """Apply validated changes; True when something changed (only then updatedAt moves)."""
    before = _order_fingerprint(order)
    if "email" in changes:
        order.email = normalise_email(str(changes["email"])) if not _blank(changes["email"]) else None
    if "phone" in changes:
        order.phone = normalise_phone(str(changes["phone"])) if not _blank(changes["phone"]) else None
    if "note" in changes:
        order.note = str(changes["note"]) if not _blank(changes["note"]) else None
    if "tags" in changes:
        order.tags = parse_tags(changes["tags"])
    if "poNumber" in changes:
        order.po_number = str(changes["poNumber"]) if not _blank(changes["poNumber"]) else None
    if "shippingAddress" in changes:
        raw = changes["shippingAddress"]
        wanted = build_address(store, raw) if raw else None
        current = order.shipping_address
        if (wanted.content() if wanted else None) != (current.content() if current else None):
            order.shipping_address = wanted
    changed = _order_fingerprint(order) != before
    if changed:
        order.updated_at = now or utcnow()
    return changed


def cancel_order(order: Order, reason: str, now: datetime | None = None) -> None:
    now = now or utcnow()
    order.cancelled_at = now
    order.cancel_reason = reason
    order.closed_at = now
    order.updated_at = now
    for fulfillment_order in order.fulfillment_orders:
        if fulfillment_order.status in ("OPEN", "IN_PROGRESS", "SCHEDULED", "ON_HOLD"):
            fulfillment_order.status = "CLOSED"
            fulfillment_order.updated_at = now


# -- fulfillments ---------------------------------------------------------------------


def find_fulfillment_order(shop: Shop, raw_id: object) -> tuple[Order, FulfillmentOrder] | None:
    numeric = _numeric(raw_id, "FulfillmentOrder")
    if numeric is None:
        return None
    for order in shop.orders.values():
        for fulfillment_order in order.fulfillment_orders:
            if fulfillment_order.id == numeric:
                return order, fulfillment_order
    return None


def find_fulfillment(shop: Shop, raw_id: object) -> tuple[Order, Fulfillment] | None:
    numeric = _numeric(raw_id, "Fulfillment")
    if numeric is None:
        return None
    for order in shop.orders.values():
        for fulfillment in order.fulfillments:
            if fulfillment.id == numeric:
                return order, fulfillment
    return None


@dataclass
class FulfillmentPlan:
    order: Order
    # (fulfillment order, line item of it, quantity to fulfil)
    items: list[tuple[FulfillmentOrder, FulfillmentOrderLineItem, int]]


def validate_fulfillment(
    shop: Shop, fulfillment_in: Mapping[str, Any], prefix: Sequence[str] = ("fulfillment",)
) -> tuple[list[UserError], FulfillmentPlan | None]:
    base = [*prefix, "lineItemsByFulfillmentOrder"]
    groups = fulfillment_in.get("lineItemsByFulfillmentOrder") or []
    errors: list[UserError] = []
    if not groups:
        return [user_error(base, "Line items by fulfillment order can't be blank")], None
    order: Order | None = None
    items: list[tuple[FulfillmentOrder, FulfillmentOrderLineItem, int]] = []
    for i, group in enumerate(groups):
        path = [*base, str(i)]
        found = find_fulfillment_order(shop, group.get("fulfillmentOrderId"))
        if found is None:
            errors.append(user_error([*path, "fulfillmentOrderId"], "Fulfillment order does not exist."))
            continue
        owner, fulfillment_order = found
        if order is not None and owner.id != order.id:
            errors.append(
                user_error(
                    [*path, "fulfillmentOrderId"], "All fulfillment orders must belong to the same order."
                )
            )
            continue
        order = owner
        if fulfillment_order.status not in ("OPEN", "IN_PROGRESS"):
            errors.append(
                user_error(
                    [*path, "fulfillmentOrderId"],
                    f"Fulfillment order {gid('FulfillmentOrder', fulfillment_order.id)} has an "
                    f"unfulfillable status= {fulfillment_order.status.lower()}.",
                )
            )
            continue
        wanted = group.get("fulfillmentOrderLineItems")
        if wanted is None:
            items += [(fulfillment_order, li, li.remaining_quantity) for li in fulfillment_order.line_items]
            continue
        by_id = {li.id: li for li in fulfillment_order.line_items}
        for j, item in enumerate(wanted):
            item_path = [*path, "fulfillmentOrderLineItems", str(j)]
            line = by_id.get(_numeric(item.get("id"), "FulfillmentOrderLineItem") or -1)
            quantity = item.get("quantity")
            if line is None:
                errors.append(user_error([*item_path, "id"], "Fulfillment order line item does not exist."))
            elif not isinstance(quantity, int) or quantity < 1 or quantity > line.remaining_quantity:
                errors.append(
                    user_error(
                        [*item_path, "quantity"], "Invalid fulfillment order line item quantity requested."
                    )
                )
            else:
                items.append((fulfillment_order, line, quantity))
    items = [(fo, li, q) for fo, li, q in items if q > 0]
    if not errors and not items:
        errors.append(user_error(base, "The fulfillment orders have nothing left to fulfill."))
    if errors or order is None:
        return errors, None
    return [], FulfillmentPlan(order, items)


def tracking_values(tracking: Mapping[str, Any] | None) -> tuple[str | None, list[str], list[str]]:
    """(company, numbers, urls) from a FulfillmentTrackingInput."""
    if not tracking:
        return None, [], []
    numbers = [str(n) for n in tracking.get("numbers") or [] if n]
    if tracking.get("number"):
        numbers = [str(tracking["number"]), *[n for n in numbers if n != tracking["number"]]]
    urls = [str(u) for u in tracking.get("urls") or [] if u]
    if tracking.get("url"):
        urls = [str(tracking["url"]), *[u for u in urls if u != tracking["url"]]]
    company = tracking.get("company")
    return (str(company) if company else None), numbers, urls


def create_fulfillment(
    store: Store, plan: FulfillmentPlan, tracking: Mapping[str, Any] | None, now: datetime | None = None
) -> Fulfillment:
    now = now or utcnow()
    order = plan.order
    quantities: dict[int, int] = {}
    touched: dict[int, FulfillmentOrder] = {}
    for fulfillment_order, line, quantity in plan.items:
        line.remaining_quantity -= quantity
        quantities[line.line_item_id] = quantities.get(line.line_item_id, 0) + quantity
        touched[fulfillment_order.id] = fulfillment_order
    for fulfillment_order in touched.values():
        _settle_status(fulfillment_order, now)
    company, numbers, urls = tracking_values(tracking)
    fulfillment = Fulfillment(
        id=store.allocate_id(),
        name=f"{order.name}.{len(order.fulfillments) + 1}",
        status="SUCCESS",
        tracking_company=company,
        tracking_numbers=numbers,
        tracking_urls=urls,
        line_items=[
            FulfillmentLineItem(store.allocate_id(), line_item_id, quantity)
            for line_item_id, quantity in quantities.items()
        ],
        created_at=now,
        updated_at=now,
    )
    order.fulfillments.append(fulfillment)
    order.updated_at = now
    return fulfillment


def _settle_status(fulfillment_order: FulfillmentOrder, now: datetime) -> None:
    remaining = sum(li.remaining_quantity for li in fulfillment_order.line_items)
    total = sum(li.total_quantity for li in fulfillment_order.line_items)
    status = "CLOSED" if remaining == 0 else ("OPEN" if remaining == total else "IN_PROGRESS")
    if status != fulfillment_order.status:
        fulfillment_order.status = status
        fulfillment_order.updated_at = now


def _tracking(fulfillment: Fulfillment) -> tuple[str | None, list[str], list[str]]:
    return fulfillment.tracking_company, fulfillment.tracking_numbers, fulfillment.tracking_urls


def update_tracking(
    fulfillment: Fulfillment, tracking: Mapping[str, Any], now: datetime | None = None
) -> bool:
    """Replace what the input names (company, number(s), url(s)); True when it changed."""
    company, numbers, urls = tracking_values(tracking)
    before = _tracking(fulfillment)
    if "company" in tracking:
        fulfillment.tracking_company = company
    if "number" in tracking or "numbers" in tracking:
        fulfillment.tracking_numbers = numbers
    if "url" in tracking or "urls" in tracking:
        fulfillment.tracking_urls = urls
    changed = before != _tracking(fulfillment)
    if changed:
        fulfillment.updated_at = now or utcnow()
    return changed


def cancel_fulfillment(order: Order, fulfillment: Fulfillment, now: datetime | None = None) -> None:
    """The fulfilled quantities go back to the fulfillment orders (reopened)."""
    now = now or utcnow()
    fulfillment.status = "CANCELLED"
    fulfillment.updated_at = now
    for item in fulfillment.line_items:
        left = item.quantity
        for fulfillment_order in order.fulfillment_orders:
            for line in fulfillment_order.line_items:
                if left and line.line_item_id == item.line_item_id:
                    back = min(left, line.total_quantity - line.remaining_quantity)
                    line.remaining_quantity += back
                    left -= back
            if order.cancelled_at is None:
                _settle_status(fulfillment_order, now)
    order.updated_at = now


# -- search ---------------------------------------------------------------------------


def _order(record: object) -> Order:
    assert isinstance(record, Order)
    return record


_FULFILLMENT_SEARCH_VALUES = {
    "FULFILLED": ["fulfilled", "shipped"],
    "PARTIALLY_FULFILLED": ["partial", "unfulfilled"],
    "UNFULFILLED": ["unfulfilled", "unshipped"],
}


def _status_values(record: object) -> list[str | None]:
    order = _order(record)
    if order.cancelled_at is not None:
        return ["cancelled", "closed"]
    return ["closed"] if order.closed_at is not None else ["open"]


ORDER_SEARCH = SearchSpec(
    fields={
        "name": SearchField(FieldKind.KEYWORD, lambda r: [_order(r).name, str(_order(r).number)]),
        "email": SearchField(FieldKind.KEYWORD, lambda r: [_order(r).email]),
        "customer_id": SearchField(FieldKind.NUMBER, lambda r: [_order(r).customer_id]),
        "financial_status": SearchField(FieldKind.KEYWORD, lambda r: [_order(r).financial_status.lower()]),
        "fulfillment_status": SearchField(
            FieldKind.KEYWORD, lambda r: list(_FULFILLMENT_SEARCH_VALUES[_order(r).fulfillment_status])
        ),
        "status": SearchField(FieldKind.KEYWORD, _status_values),
        "tag": SearchField(FieldKind.KEYWORD, lambda r: _order(r).tags),
        "source_name": SearchField(FieldKind.KEYWORD, lambda r: [_order(r).source_name]),
        "sku": SearchField(FieldKind.KEYWORD, lambda r: [li.sku for li in _order(r).line_items]),
        "id": SearchField(FieldKind.NUMBER, lambda r: [_order(r).id]),
        "created_at": SearchField(FieldKind.DATE, lambda r: [_order(r).created_at]),
        "updated_at": SearchField(FieldKind.DATE, lambda r: [_order(r).updated_at]),
        "processed_at": SearchField(FieldKind.DATE, lambda r: [_order(r).processed_at]),
    },
    free_text=lambda r: [
        _order(r).name,
        _order(r).email or "",
        *(li.title for li in _order(r).line_items),
    ],
)

ORDER_SORT: dict[str, Any] = {
    "ID": lambda o: o.id,
    "RELEVANCE": lambda o: o.id,
    "ORDER_NUMBER": lambda o: o.number,
    "CREATED_AT": lambda o: o.created_at,
    "UPDATED_AT": lambda o: o.updated_at,
    "PROCESSED_AT": lambda o: o.processed_at,
    "TOTAL_PRICE": lambda o: float(o.total_price),
    "CUSTOMER_NAME": lambda o: o.email or "",
    "FINANCIAL_STATUS": lambda o: o.financial_status,
    "FULFILLMENT_STATUS": lambda o: o.fulfillment_status,
    "PO_NUMBER": lambda o: o.po_number or "",
}

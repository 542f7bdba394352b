"""Customers, orders and fulfillments: the changes the API and the control API share.

Each function checks what needs other records, makes the change and fires its webhook.
The order of checks keeps retries safe: field checks (422) first, then the caller's own
resource with the same external id (409 `conflict` + `existing_id`, so a retried create
finds what the first one made), then another store's external id (409
`external_id_taken`), then duplicate email or phone among the user's customers (422).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sandbox.common.errors import ApiError, FieldError, validation_failed
from sandbox.common.records import conflict, new_id
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.sales_validation import CustomerInput, FulfillmentInput, OrderInput, OrderLookups
from sandbox.crm.state import Customer, Fulfillment, FulfillmentStatus, Order, OrderStatus

DUPLICATE_EMAIL = "A customer with this email already exists."
DUPLICATE_PHONE = "A customer with this phone number already exists."


class _External(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def owner_id(self) -> str: ...
    @property
    def external_id(self) -> str | None: ...


def external_id_taken() -> ApiError:
    return ApiError(
        409, {"error": "external_id_taken", "message": "This external id belongs to another store."}
    )


def check_external_id(
    records: Iterable[_External], *, owner: str, external_id: str | None, own_id: str | None, singular: str
) -> None:
    """409 when `external_id` is another of the owner's records' (`conflict`, with its id)
    or any record's of another store in the shared tenant (`external_id_taken`)."""
    if external_id is None:
        return
    holders = sorted(
        (r for r in records if r.external_id == external_id and r.id != own_id), key=lambda r: r.seq
    )
    mine = next((r for r in holders if r.owner_id == owner), None)
    if mine is not None:
        message = (
            f"A {singular} with this external_id already exists."
            if own_id is None
            else f"Another {singular} has this external_id."
        )
        raise conflict(message, mine.id)
    if holders:
        raise external_id_taken()


def lookups(sandbox: CrmSandbox, owner: str) -> OrderLookups:
    return OrderLookups(
        product=lambda product_id: sandbox.product(owner, product_id),
        has_customer=lambda customer_id: sandbox.customer(owner, customer_id) is not None,
        has_campaign=lambda campaign_id: sandbox.campaign(owner, campaign_id) is not None,
    )


# -- customers --------------------------------------------------------------------------------


def find_customer(
    sandbox: CrmSandbox, owner: str, *, email: str | None = None, phone: str | None = None
) -> Customer | None:
    """The owner's customer with this email (any case) or else this phone."""
    customers = sorted(
        (c for c in sandbox.state.customers.values() if c.owner_id == owner), key=lambda c: c.seq
    )
    if email is not None:
        found = next((c for c in customers if c.email is not None and c.email.lower() == email.lower()), None)
        if found is not None:
            return found
    if phone is not None:
        return next((c for c in customers if c.phone == phone), None)
    return None


def _check_duplicates(
    sandbox: CrmSandbox, owner: str, data: CustomerInput, own_id: str | None, prefix: str
) -> None:
    errors: list[FieldError] = []
    named = (lambda field: f"{prefix}.{field}") if prefix else (lambda field: field)
    if data.email is not None:
        same = find_customer(sandbox, owner, email=data.email)
        if same is not None and same.id != own_id:
            errors.append(FieldError(named("email"), DUPLICATE_EMAIL))
    if data.phone is not None:
        holders = [
            c
            for c in sandbox.state.customers.values()
            if c.owner_id == owner and c.phone == data.phone and c.id != own_id
        ]
        if holders:
            errors.append(FieldError(named("phone"), DUPLICATE_PHONE))
    if errors:
        raise validation_failed(errors)


def _apply_customer(customer: Customer, data: CustomerInput, now: float) -> None:
    customer.external_id = data.external_id
    customer.first_name = data.first_name
    customer.last_name = data.last_name
    customer.email = data.email
    customer.phone = data.phone
    customer.shipping_phone = data.shipping_phone
    customer.accepts_marketing = data.accepts_marketing
    customer.tags = list(data.tags)
    customer.address = data.address
    customer.updated_at = now


def create_customer(sandbox: CrmSandbox, owner: str, data: CustomerInput, *, prefix: str = "") -> Customer:
    # No await from here to the insert: concurrent creates cannot both pass the checks.
    check_external_id(
        sandbox.state.customers.values(),
        owner=owner,
        external_id=data.external_id,
        own_id=None,
        singular="customer",
    )
    _check_duplicates(sandbox, owner, data, None, prefix)
    now = sandbox.now()
    customer = Customer(
        id=new_id("cus"),
        seq=sandbox.take_seq(),
        owner_id=owner,
        external_id=None,
        first_name=None,
        last_name=None,
        email=None,
        phone=None,
        shipping_phone=None,
        accepts_marketing=False,
        tags=[],
        address=None,
        created_at=now,
        updated_at=now,
    )
    _apply_customer(customer, data, now)
    sandbox.state.customers[customer.id] = customer
    sandbox.emit(owner, "customer.created", customer.as_json())
    return customer


def update_customer(sandbox: CrmSandbox, customer: Customer, data: CustomerInput) -> Customer:
    check_external_id(
        sandbox.state.customers.values(),
        owner=customer.owner_id,
        external_id=data.external_id,
        own_id=customer.id,
        singular="customer",
    )
    _check_duplicates(sandbox, customer.owner_id, data, customer.id, "")
    _apply_customer(customer, data, sandbox.now())
    sandbox.emit(customer.owner_id, "customer.updated", customer.as_json())
    return customer


def delete_customer(sandbox: CrmSandbox, customer: Customer) -> None:
    """409 `customer_has_pending_orders` while an order of theirs is pending or paid."""
    if any(o.customer_id == customer.id and o.status.is_open for o in sandbox.state.orders.values()):
        raise ApiError(
            409,
            {
                "error": "customer_has_pending_orders",
                "message": "The customer has a pending order and cannot be deleted.",
            },
        )
    data = customer.as_json()
    del sandbox.state.customers[customer.id]
    sandbox.emit(customer.owner_id, "customer.deleted", data)


# -- orders and fulfillments ------------------------------------------------------------------


def _apply_order(order: Order, data: OrderInput, now: float) -> None:
    order.external_id = data.external_id
    order.customer_id = data.customer_id
    order.campaign_id = data.campaign_id
    order.currency = data.currency
    order.items = list(data.items)
    order.shipping_address = data.shipping_address
    order.operator_comment = data.operator_comment
    order.status = data.status
    order.source = data.source
    order.updated_at = now


def create_order(sandbox: CrmSandbox, owner: str, data: OrderInput, placed_at: float | None = None) -> Order:
    """Lines without a product_id stay on the order only: the catalog is never touched.
    `placed_at`: an order imported with the time it was placed (the control API's history)."""
    check_external_id(
        sandbox.state.orders.values(),
        owner=owner,
        external_id=data.external_id,
        own_id=None,
        singular="order",
    )
    now = sandbox.now()
    order = Order(
        id=new_id("ord"),
        seq=sandbox.take_seq(),
        owner_id=owner,
        external_id=None,
        customer_id="",
        campaign_id=None,
        currency="",
        items=[],
        shipping_address=None,
        operator_comment=None,
        status=OrderStatus.PENDING,
        source="",
        created_at=placed_at if placed_at is not None else now,
        updated_at=now,
    )
    _apply_order(order, data, now)
    sandbox.state.orders[order.id] = order
    sandbox.emit(owner, "order.created", order.as_json())
    return order


def update_order(sandbox: CrmSandbox, order: Order, data: OrderInput) -> Order:
    check_external_id(
        sandbox.state.orders.values(),
        owner=order.owner_id,
        external_id=data.external_id,
        own_id=order.id,
        singular="order",
    )
    _apply_order(order, data, sandbox.now())
    sandbox.emit(order.owner_id, "order.updated", order.as_json())
    return order


def set_order_status(sandbox: CrmSandbox, order: Order, status: OrderStatus) -> bool:
    """Move the order to `status` (firing order.updated); False when it already was."""
    if order.status is status:
        return False
    order.status = status
    order.updated_at = sandbox.now()
    sandbox.emit(order.owner_id, "order.updated", order.as_json())
    return True


def add_fulfillment(sandbox: CrmSandbox, order: Order, data: FulfillmentInput) -> Fulfillment:
    """A shipment of the order. A successful one makes the order `fulfilled`; fires
    fulfillment.created, then order.updated when the status changed."""
    owner = order.owner_id
    if data.external_id is not None:
        existing = next(
            (
                f
                for f in sandbox.state.fulfillments.values()
                if f.owner_id == owner and f.external_id == data.external_id
            ),
            None,
        )
        if existing is not None:
            raise conflict("A fulfillment with this external_id already exists.", existing.id)
    if order.status is OrderStatus.CANCELLED and data.status is FulfillmentStatus.SUCCESS:
        raise ApiError(409, {"error": "order_cancelled", "message": "A cancelled order cannot be fulfilled."})
    fulfillment = Fulfillment(
        id=new_id("ful"),
        seq=sandbox.take_seq(),
        owner_id=owner,
        order_id=order.id,
        external_id=data.external_id,
        tracking_number=data.tracking_number,
        carrier=data.carrier,
        status=data.status,
        created_at=sandbox.now(),
    )
    sandbox.state.fulfillments[fulfillment.id] = fulfillment
    sandbox.emit(owner, "fulfillment.created", fulfillment.as_json())
    if data.status is FulfillmentStatus.SUCCESS:
        set_order_status(sandbox, order, OrderStatus.FULFILLED)
    return fulfillment


def update_fulfillment(
    sandbox: CrmSandbox, order: Order, fulfillment: Fulfillment, data: FulfillmentInput
) -> Fulfillment:
    """A shipment's tracking and status moved on; once it succeeds the order is `fulfilled`
    (order.updated)."""
    if order.status is OrderStatus.CANCELLED and data.status is FulfillmentStatus.SUCCESS:
        raise ApiError(409, {"error": "order_cancelled", "message": "A cancelled order cannot be fulfilled."})
    fulfillment.tracking_number = data.tracking_number
    fulfillment.carrier = data.carrier
    fulfillment.status = data.status
    if data.status is FulfillmentStatus.SUCCESS:
        set_order_status(sandbox, order, OrderStatus.FULFILLED)
    return fulfillment

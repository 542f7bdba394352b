"""Control API for the CRM's sales side: someone working in the CRM's own UI, and views
for tests and the demo. Not part of the real CRM; JSON; no auth (development only).

Every change here fires the same webhook the API's change would, and follows the same
rules (422 `validation_failed`, 409s), answered in the API's error shapes:

- `PUT /_sandbox/users/{user_id}/products/{product_id}`: partial edit (any product field)
- `POST /_sandbox/users/{user_id}/customers`: a customer added in the CRM (no external id
  needed); `PUT .../customers/{id}` partial edit; `DELETE .../customers/{id}`
- `POST /_sandbox/users/{user_id}/orders`: a funnel order placed in the CRM, for an
  inline customer (found by email, else phone, else created) or a `customer_id`
- `PUT /_sandbox/users/{user_id}/orders/{id}`: partial edit (status, comment, address...)
- `POST /_sandbox/users/{user_id}/orders/{id}/fulfillments`: ship it
- `GET /_sandbox/customers`, `GET /_sandbox/orders` (`?user_id=`), `GET /_sandbox/writes`
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.directory import Member
from sandbox.common.errors import FieldError, json_object_body, not_found, validation_failed
from sandbox.common.records import conflict
from sandbox.crm import sales
from sandbox.crm.api import apply_product, product_body
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.sales_validation import (
    DELIVERY_REQUIRED,
    OrderLookups,
    customer_body,
    read_customer,
    read_fulfillment,
    read_order,
)
from sandbox.crm.state import Address, Customer, Order
from sandbox.crm.validation import read_product

BASE = "/_sandbox/users/{user_id:str}"
# Stands for the customer a funnel order is about to create, while the order is checked.
NEW_CUSTOMER = "cus_new"
DEFAULT_CURRENCY = "USD"


def sales_control_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    def user(user_id: str) -> Member:
        member = sandbox.state.users.members.get(user_id)
        if member is None:
            raise not_found(f"No user {user_id}.")
        return member

    def customer_of(owner: str, customer_id: str) -> Customer:
        customer = sandbox.customer(owner, customer_id)
        if customer is None:
            raise not_found(f"No customer {customer_id} of user {owner}.")
        return customer

    def order_of(owner: str, order_id: str) -> Order:
        order = sandbox.order(owner, order_id)
        if order is None:
            raise not_found(f"No order {order_id} of user {owner}.")
        return order

    def customer_json(customer: Customer) -> dict[str, Any]:
        return {**customer.as_json(), "user_id": customer.owner_id}

    def order_json(order: Order) -> dict[str, Any]:
        fulfillments = sorted(
            (f for f in sandbox.state.fulfillments.values() if f.order_id == order.id), key=lambda f: f.seq
        )
        return {
            **order.as_json(),
            "user_id": order.owner_id,
            "fulfillments": [f.as_json() for f in fulfillments],
        }

    # -- products ---------------------------------------------------------------------------

    @put(BASE + "/products/{product_id:str}")
    async def edit_product(
        request: Request[Any, Any, Any], user_id: FromPath[str], product_id: FromPath[str]
    ) -> dict[str, Any]:
        """Partial: any of the API's product fields (price, name, sku, stock, active, ...)."""
        owner = user(user_id).id
        product = sandbox.product(owner, product_id)
        if product is None:
            raise not_found(f"No product {product_id} of user {owner}.")
        body = await json_object_body(request, optional=False)
        data = read_product({**product_body(product), **body})
        other = next(
            (
                p
                for p in sandbox.state.products.values()
                if p.owner_id == owner and p.external_id == data.external_id and p.id != product.id
            ),
            None,
        )
        if other is not None:
            raise conflict("Another product has this external_id.", other.id)
        apply_product(product, data, sandbox.now())
        sandbox.emit(owner, "product.updated", product.as_json())
        await sandbox.save()
        return {**product.as_json(), "user_id": owner}

    # -- customers --------------------------------------------------------------------------

    @post(BASE + "/customers", status_code=201)
    async def add_customer(request: Request[Any, Any, Any], user_id: FromPath[str]) -> Response[Any]:
        """The API's customer body; `external_id` optional (a CRM customer has none yet)."""
        owner = user(user_id).id
        data = read_customer(await json_object_body(request, optional=False), external_id_required=False)
        customer = sales.create_customer(sandbox, owner, data)
        await sandbox.save()
        return Response(content=customer_json(customer), status_code=201)

    @put(BASE + "/customers/{customer_id:str}")
    async def edit_customer(
        request: Request[Any, Any, Any], user_id: FromPath[str], customer_id: FromPath[str]
    ) -> dict[str, Any]:
        """Partial: the fields given replace the customer's (`address` whole)."""
        owner = user(user_id).id
        customer = customer_of(owner, customer_id)
        body = await json_object_body(request, optional=False)
        data = read_customer({**customer_body(customer), **body}, external_id_required=False)
        sales.update_customer(sandbox, customer, data)
        await sandbox.save()
        return customer_json(customer)

    @delete(BASE + "/customers/{customer_id:str}", status_code=204)
    async def remove_customer(user_id: FromPath[str], customer_id: FromPath[str]) -> None:
        owner = user(user_id).id
        sales.delete_customer(sandbox, customer_of(owner, customer_id))
        await sandbox.save()

    # -- orders -----------------------------------------------------------------------------

    @post(BASE + "/orders", status_code=201)
    async def place_order(request: Request[Any, Any, Any], user_id: FromPath[str]) -> Response[Any]:
        """A funnel order placed in the CRM. Body: `customer` {first_name, last_name, email,
        phone, address, ...} or `customer_id`; `items` [{product_id, quantity, name?, sku?,
        price?}] (product lines default to the product's name, SKU and price); optional
        `campaign_id`, `operator_comment`, `currency` (default: the campaign's, else the
        first product's, else USD), `shipping_address` (default: the customer's address
        when it is a complete delivery address), `status` (default pending), `external_id`,
        `placed_at` (ISO 8601, not in the future: an order imported with its history, as CRMs
        import past orders; its `created_at`).
        The customer is found by email (else phone) among the user's customers, or
        created (customer.created). Answers {"order", "customer", "customer_created"}."""
        owner = user(user_id).id
        body = await json_object_body(request, optional=False)
        customer: Customer | None = None
        new_customer = None
        if body.get("customer_id") is not None:
            if (
                not isinstance(body["customer_id"], str)
                or sandbox.customer(owner, body["customer_id"]) is None
            ):
                raise validation_failed([FieldError("customer_id", "No customer with this id.")])
            customer = sandbox.customer(owner, body["customer_id"])
        elif isinstance(body.get("customer"), dict):
            new_customer = read_customer(body["customer"], external_id_required=False, prefix="customer")
            customer = sales.find_customer(sandbox, owner, email=new_customer.email, phone=new_customer.phone)
        else:
            raise validation_failed([FieldError("customer", "Give a customer object or a customer_id.")])
        address = (
            customer.address if customer is not None else (new_customer.address if new_customer else None)
        )
        order_body = {
            **body,
            "customer_id": customer.id if customer is not None else NEW_CUSTOMER,
            "currency": body.get("currency") or _currency(sandbox, owner, body),
            "shipping_address": body.get("shipping_address") or _delivery_address(address),
        }
        order_body.pop("customer", None)
        placed_at = _placed_at(body.pop("placed_at", None), sandbox.now())
        order_body.pop("placed_at", None)
        found = sales.lookups(sandbox, owner)
        checking = OrderLookups(
            product=found.product,
            has_customer=lambda cid: cid == NEW_CUSTOMER or found.has_customer(cid),
            has_campaign=found.has_campaign,
        )
        data = read_order(order_body, checking, external_id_required=False)
        created = customer is None
        if customer is None:
            assert new_customer is not None
            customer = sales.create_customer(sandbox, owner, new_customer, prefix="customer")
            data = dataclasses.replace(data, customer_id=customer.id)
        order = sales.create_order(sandbox, owner, data, placed_at)
        await sandbox.save()
        return Response(
            content={
                "order": order_json(order),
                "customer": customer_json(customer),
                "customer_created": created,
            },
            status_code=201,
        )

    @put(BASE + "/orders/{order_id:str}")
    async def edit_order(
        request: Request[Any, Any, Any], user_id: FromPath[str], order_id: FromPath[str]
    ) -> dict[str, Any]:
        """Partial: e.g. {"status": "paid"}, {"operator_comment": "..."}, {"shipping_address"}."""
        owner = user(user_id).id
        order = order_of(owner, order_id)
        body = await json_object_body(request, optional=False)
        current = order.as_json()
        for server_set in ("id", "total", "created_at", "updated_at"):
            current.pop(server_set)
        data = read_order(
            {**current, **body},
            sales.lookups(sandbox, owner),
            external_id_required=False,
            default_source=order.source,
        )
        sales.update_order(sandbox, order, data)
        await sandbox.save()
        return order_json(order)

    @post(BASE + "/orders/{order_id:str}/fulfillments", status_code=201)
    async def ship_order(
        request: Request[Any, Any, Any], user_id: FromPath[str], order_id: FromPath[str]
    ) -> Response[Any]:
        """Body: {"tracking_number", "carrier", "status"?, "external_id"?}."""
        owner = user(user_id).id
        order = order_of(owner, order_id)
        data = read_fulfillment(await json_object_body(request, optional=True))
        fulfillment = sales.add_fulfillment(sandbox, order, data)
        await sandbox.save()
        return Response(content={**fulfillment.as_json(), "user_id": owner}, status_code=201)

    # -- views ------------------------------------------------------------------------------

    @get("/_sandbox/customers")
    async def customers(request: Request[Any, Any, Any]) -> dict[str, Any]:
        user_id = request.query_params.get("user_id")
        listed = sorted(
            (c for c in sandbox.state.customers.values() if user_id is None or c.owner_id == user_id),
            key=lambda c: c.seq,
        )
        return {"data": [customer_json(c) for c in listed]}

    @get("/_sandbox/orders")
    async def orders(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Every order with its owner and fulfillments."""
        user_id = request.query_params.get("user_id")
        listed = sorted(
            (o for o in sandbox.state.orders.values() if user_id is None or o.owner_id == user_id),
            key=lambda o: o.seq,
        )
        return {"data": [order_json(o) for o in listed]}

    @get("/_sandbox/writes")
    async def writes() -> dict[str, int]:
        """Successful API writes by resource and action, e.g. {"customers.create": 2,
        "orders.create": 1, "products.update": 3}: proof that no effect happened twice."""
        return sandbox.writes()

    return [
        edit_product,
        add_customer,
        edit_customer,
        remove_customer,
        place_order,
        edit_order,
        ship_order,
        customers,
        orders,
        writes,
    ]


def _currency(sandbox: CrmSandbox, owner: str, body: dict[str, Any]) -> str:
    campaign_id = body.get("campaign_id")
    campaign = sandbox.campaign(owner, campaign_id) if isinstance(campaign_id, str) else None
    if campaign is not None:
        return campaign.currency
    items = body.get("items")
    for item in items if isinstance(items, list) else []:
        product_id = item.get("product_id") if isinstance(item, dict) else None
        product = sandbox.product(owner, product_id) if isinstance(product_id, str) else None
        if product is not None:
            return product.currency
    return DEFAULT_CURRENCY


def _delivery_address(address: Address | None) -> dict[str, Any] | None:
    """The customer's address as the order's delivery address, when the CRM would take it."""
    if address is None or any(getattr(address, name) is None for name in DELIVERY_REQUIRED):
        return None
    return address.as_json()


def _placed_at(value: Any, now: float) -> float | None:
    if value is None:
        return None
    try:
        placed = datetime.fromisoformat(str(value)).timestamp()
    except ValueError:
        raise validation_failed([FieldError("placed_at", "Must be an ISO 8601 time.")]) from None
    if placed > now:
        raise validation_failed([FieldError("placed_at", "Must not be in the future.")])
    return placed

"""The CRM's merchant API for customers, orders and fulfillments.

Same rules as the catalog (`sandbox.crm.api`): the merchant's user token, resources owned
by its user (another user's id answers 404), creates once per `external_id` and user (409
`conflict` + `existing_id`), `{"data", "next_cursor"}` lists with `limit`/`cursor` and
`?external_id=`, 422 `validation_failed` naming every bad field. Plus the CRM's own
rejections (see `sandbox.crm.sales`): another store's external id, duplicate email or
phone, a phone in the wrong country's format, an incomplete delivery address, deleting a
customer with an open order. Every change fires its webhook.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.errors import json_object_body, not_found
from sandbox.common.records import page_body
from sandbox.crm import sales
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.sales_validation import OrderInput, read_customer, read_fulfillment, read_order
from sandbox.crm.state import Customer, Fulfillment, Order, OrderStatus

CUSTOMERS_READ = "customers:read"
CUSTOMERS_WRITE = "customers:write"
ORDERS_READ = "orders:read"
ORDERS_WRITE = "orders:write"
FULFILLMENTS_READ = "fulfillments:read"
FULFILLMENTS_WRITE = "fulfillments:write"


def sales_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    return [*_customer_handlers(sandbox), *_order_handlers(sandbox), *_fulfillment_handlers(sandbox)]


def _owned_customer(sandbox: CrmSandbox, owner: str, customer_id: str) -> Customer:
    customer = sandbox.customer(owner, customer_id)
    if customer is None:
        raise not_found(f"No customer {customer_id}.")
    return customer


def _owned_order(sandbox: CrmSandbox, owner: str, order_id: str) -> Order:
    order = sandbox.order(owner, order_id)
    if order is None:
        raise not_found(f"No order {order_id}.")
    return order


def _customer_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    @post("/api/v1/customers", status_code=201)
    async def create_customer(request: Request[Any, Any, Any]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, CUSTOMERS_WRITE)
        data = read_customer(await json_object_body(request, optional=False))
        customer = sales.create_customer(sandbox, owner, data)
        await sandbox.save()
        return Response(content=customer.as_json(), status_code=201)

    @get("/api/v1/customers")
    async def list_customers(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Filters: `external_id`, `email` (any case), `phone`."""
        owner = sandbox.authenticate_member(request, CUSTOMERS_READ)
        query = request.query_params
        external_id, email, phone = query.get("external_id"), query.get("email"), query.get("phone")
        customers = [
            c
            for c in sandbox.state.customers.values()
            if c.owner_id == owner
            and (external_id is None or c.external_id == external_id)
            and (email is None or (c.email is not None and c.email.lower() == email.lower()))
            and (phone is None or c.phone == phone)
        ]
        return page_body(customers, request, Customer.as_json)

    @get("/api/v1/customers/{customer_id:str}")
    async def get_customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CUSTOMERS_READ)
        return _owned_customer(sandbox, owner, customer_id).as_json()

    @put("/api/v1/customers/{customer_id:str}")
    async def update_customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> dict[str, Any]:
        """Full replace, same body and rules as create."""
        owner = sandbox.authenticate_member(request, CUSTOMERS_WRITE)
        _owned_customer(sandbox, owner, customer_id)  # 404 before 422
        data = read_customer(await json_object_body(request, optional=False))
        customer = _owned_customer(sandbox, owner, customer_id)  # it may have gone meanwhile
        sales.update_customer(sandbox, customer, data)
        await sandbox.save()
        return customer.as_json()

    @delete("/api/v1/customers/{customer_id:str}", status_code=204)
    async def delete_customer(request: Request[Any, Any, Any], customer_id: FromPath[str]) -> None:
        owner = sandbox.authenticate_member(request, CUSTOMERS_WRITE)
        sales.delete_customer(sandbox, _owned_customer(sandbox, owner, customer_id))
        await sandbox.save()

    return [create_customer, list_customers, get_customer, update_customer, delete_customer]


def _order_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    async def read(request: Request[Any, Any, Any], owner: str) -> OrderInput:
        body = await json_object_body(request, optional=False)
        return read_order(body, sales.lookups(sandbox, owner))

    @post("/api/v1/orders", status_code=201)
    async def create_order(request: Request[Any, Any, Any]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, ORDERS_WRITE)
        data = await read(request, owner)
        order = sales.create_order(sandbox, owner, data)
        await sandbox.save()
        return Response(content=order.as_json(), status_code=201)

    @get("/api/v1/orders")
    async def list_orders(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Filters: `external_id`, `customer_id`, `status`."""
        owner = sandbox.authenticate_member(request, ORDERS_READ)
        query = request.query_params
        external_id, customer_id, status = (
            query.get("external_id"),
            query.get("customer_id"),
            query.get("status"),
        )
        orders = [
            o
            for o in sandbox.state.orders.values()
            if o.owner_id == owner
            and (external_id is None or o.external_id == external_id)
            and (customer_id is None or o.customer_id == customer_id)
            and (status is None or o.status.value == status)
        ]
        return page_body(orders, request, Order.as_json)

    @get("/api/v1/orders/{order_id:str}")
    async def get_order(request: Request[Any, Any, Any], order_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, ORDERS_READ)
        return _owned_order(sandbox, owner, order_id).as_json()

    @put("/api/v1/orders/{order_id:str}")
    async def update_order(request: Request[Any, Any, Any], order_id: FromPath[str]) -> dict[str, Any]:
        """Full replace, same body and rules as create."""
        owner = sandbox.authenticate_member(request, ORDERS_WRITE)
        _owned_order(sandbox, owner, order_id)
        data = await read(request, owner)
        order = _owned_order(sandbox, owner, order_id)
        sales.update_order(sandbox, order, data)
        await sandbox.save()
        return order.as_json()

    @delete("/api/v1/orders/{order_id:str}", status_code=200)
    async def cancel_order(request: Request[Any, Any, Any], order_id: FromPath[str]) -> dict[str, Any]:
        """Orders are never deleted: DELETE cancels (idempotent) and answers the order."""
        owner = sandbox.authenticate_member(request, ORDERS_WRITE)
        order = _owned_order(sandbox, owner, order_id)
        if sales.set_order_status(sandbox, order, OrderStatus.CANCELLED):
            await sandbox.save()
        return order.as_json()

    return [create_order, list_orders, get_order, update_order, cancel_order]


def _fulfillment_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    base = "/api/v1/orders/{order_id:str}/fulfillments"

    @post(base, status_code=201)
    async def create_fulfillment(request: Request[Any, Any, Any], order_id: FromPath[str]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, FULFILLMENTS_WRITE)
        _owned_order(sandbox, owner, order_id)
        data = read_fulfillment(await json_object_body(request, optional=True))
        fulfillment = sales.add_fulfillment(sandbox, _owned_order(sandbox, owner, order_id), data)
        await sandbox.save()
        return Response(content=fulfillment.as_json(), status_code=201)

    @get(base)
    async def list_fulfillments(request: Request[Any, Any, Any], order_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, FULFILLMENTS_READ)
        order = _owned_order(sandbox, owner, order_id)
        external_id = request.query_params.get("external_id")
        fulfillments = [
            f
            for f in sandbox.state.fulfillments.values()
            if f.order_id == order.id and (external_id is None or f.external_id == external_id)
        ]
        return page_body(fulfillments, request, Fulfillment.as_json)

    @put(base + "/{fulfillment_id:str}")
    async def update_fulfillment(
        request: Request[Any, Any, Any], order_id: FromPath[str], fulfillment_id: FromPath[str]
    ) -> dict[str, Any]:
        """Body as for create; a shipment's status moves on (pending, then success or failed)."""
        owner = sandbox.authenticate_member(request, FULFILLMENTS_WRITE)
        order = _owned_order(sandbox, owner, order_id)
        fulfillment = sandbox.state.fulfillments.get(fulfillment_id)
        if fulfillment is None or fulfillment.order_id != order.id:
            raise not_found(f"No fulfillment {fulfillment_id} on order {order_id}.")
        data = read_fulfillment(await json_object_body(request, optional=True))
        sales.update_fulfillment(sandbox, order, fulfillment, data)
        await sandbox.save()
        return fulfillment.as_json()

    return [create_fulfillment, list_fulfillments, update_fulfillment]

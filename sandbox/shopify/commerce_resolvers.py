"""Root resolvers for customers, orders, fulfillments and bulk operations.

A base class of resolvers.Root: the QueryRoot and Mutation fields of these resources.
Every change queues its webhooks (REST-shaped, as Shopify sends them) on the request
context; the endpoint sends them once the request is answered.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sandbox.shopify.bulk import IN_PROGRESS, BulkQueryError, bulk_operation_view, plan_bulk_query
from sandbox.shopify.catalog import UserError, user_error
from sandbox.shopify.commerce_views import (
    CustomerView,
    FulfillmentOrderView,
    FulfillmentView,
    LineItemView,
    OrderView,
    customer_connection,
    order_connection,
)
from sandbox.shopify.customers import (
    CANNOT_DELETE_WITH_ORDERS,
    CUSTOMER_FIELDS,
    CUSTOMER_SEARCH,
    SETTABLE_MARKETING_STATES,
    apply_customer,
    create_customer,
    delete_customer,
    has_open_orders,
    validate_customer,
)
from sandbox.shopify.graphql_errors import access_denied, numeric_id
from sandbox.shopify.models import Customer, Order, Shop, gid
from sandbox.shopify.orders import (
    ORDER_SEARCH,
    ORDER_UPDATE_FIELDS,
    OrderCreation,
    apply_order_update,
    cancel_fulfillment,
    create_fulfillment,
    create_order,
    find_fulfillment,
    update_tracking,
    validate_fulfillment,
    validate_order_create,
    validate_order_update,
)
from sandbox.shopify.pagination import PageArgs
from sandbox.shopify.payloads import (
    customer_delete_payload,
    customer_payload,
    fulfillment_payload,
    order_payload,
)
from sandbox.shopify.views import ShopView, _app_number, count, search

if TYPE_CHECKING:
    from sandbox.shopify.runtime import RequestContext


def api_source_name(api_key: str) -> str:
    """What Shopify puts in `sourceName` of an order an app creates without one: the
    app's (numeric) id."""
    return str(_app_number(api_key))


class CommerceRoot:
    """Queries and mutations of customers, orders, fulfillments and bulk operations."""

    def __init__(self, ctx: RequestContext) -> None:
        self._ctx = ctx

    @property
    def _shop(self) -> Shop:
        return self._ctx.shop

    def _require(self, field: str, scope: str) -> None:
        if not self._ctx.has_scope(scope):
            raise access_denied(field, scope)

    def _customer(self, raw_id: object) -> Customer | None:
        numeric = numeric_id(raw_id, "Customer") if isinstance(raw_id, str) else None
        return self._shop.customers.get(numeric) if numeric is not None else None

    def _order(self, raw_id: object) -> Order | None:
        numeric = numeric_id(raw_id, "Order") if isinstance(raw_id, str) else None
        return self._shop.orders.get(numeric) if numeric is not None else None

    # -- node(id) -------------------------------------------------------------------

    def _commerce_node(self, kind: str, numeric: int) -> tuple[bool, Any]:
        """(handled, value) for the global ids of this module's types."""
        shop = self._shop
        if kind == "BulkOperation":
            operation = shop.bulk_operations.get(numeric)
            return True, bulk_operation_view(self._ctx.sandbox.bulk, operation) if operation else None
        if kind == "Customer":
            self._require("node", "read_customers")
            customer = shop.customers.get(numeric)
            return True, CustomerView(self._ctx, customer) if customer else None
        if kind in ("Order", "LineItem", "FulfillmentOrder"):
            self._require("node", "read_orders")
        elif kind == "Fulfillment":
            self._require("node", "read_fulfillments")
        else:
            return False, None
        for order in shop.orders.values():
            if kind == "Order" and order.id == numeric:
                return True, OrderView(self._ctx, order)
            for item in order.line_items if kind == "LineItem" else ():
                if item.id == numeric:
                    return True, LineItemView(self._ctx, order, item)
            for fo in order.fulfillment_orders if kind == "FulfillmentOrder" else ():
                if fo.id == numeric:
                    return True, FulfillmentOrderView(self._ctx, order, fo)
            for fulfillment in order.fulfillments if kind == "Fulfillment" else ():
                if fulfillment.id == numeric:
                    return True, FulfillmentView(self._ctx, order, fulfillment)
        return True, None

    # -- customers ------------------------------------------------------------------

    def customer(self, id: str) -> CustomerView | None:
        self._require("customer", "read_customers")
        customer = self._customer(id)
        return CustomerView(self._ctx, customer) if customer else None

    def customers(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "ID",
        query: str | None = None,
    ) -> dict[str, Any]:
        self._require("customers", "read_customers")
        return customer_connection(
            self._ctx,
            list(self._shop.customers.values()),
            PageArgs(first, after, last, before, reverse),
            sort_key,
            query,
        )

    def customers_count(self, query: str | None = None, limit: int | None = 10000) -> dict[str, Any]:
        self._require("customersCount", "read_customers")
        return count(len(search(list(self._shop.customers.values()), query, CUSTOMER_SEARCH)), limit)

    def _customer_changed(self, topic: str, customer: Customer) -> None:
        self._ctx.emit_later(topic, customer_payload(self._shop, customer))

    def customer_create(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("customerCreate", "write_customers")
        fields = {k: v for k, v in input.items() if k in CUSTOMER_FIELDS}
        errors = validate_customer(self._shop, fields, customer=None)
        if errors:
            return {"customer": None, "userErrors": errors}
        customer = create_customer(self._ctx.sandbox.store, self._shop, fields)
        self._customer_changed("customers/create", customer)
        return {"customer": CustomerView(self._ctx, customer), "userErrors": []}

    def customer_update(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("customerUpdate", "write_customers")
        if input.get("id") is None:
            return {"customer": None, "userErrors": [user_error(["id"], "Id can't be blank")]}
        customer = self._customer(input["id"])
        if customer is None:
            return {"customer": None, "userErrors": [user_error(["id"], "Customer does not exist")]}
        fields = {k: v for k, v in input.items() if k in CUSTOMER_FIELDS}
        errors = validate_customer(self._shop, fields, customer=customer)
        if errors:
            return {"customer": None, "userErrors": errors}
        if apply_customer(self._ctx.sandbox.store, customer, fields):
            self._customer_changed("customers/update", customer)
        return {"customer": CustomerView(self._ctx, customer), "userErrors": []}

    def customer_delete(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("customerDelete", "write_customers")
        shop_view = ShopView(self._ctx, self._shop)
        customer = self._customer(input.get("id"))
        if customer is None:
            error = user_error(["id"], "Customer can't be found")
            return {"deletedCustomerId": None, "shop": shop_view, "userErrors": [error]}
        if has_open_orders(self._shop, customer):
            error = user_error(["id"], CANNOT_DELETE_WITH_ORDERS)
            return {"deletedCustomerId": None, "shop": shop_view, "userErrors": [error]}
        delete_customer(self._shop, customer)
        self._ctx.emit_later("customers/delete", customer_delete_payload(customer.id))
        return {"deletedCustomerId": gid("Customer", customer.id), "shop": shop_view, "userErrors": []}

    def customer_email_marketing_consent_update(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("customerEmailMarketingConsentUpdate", "write_customers")
        customer = self._customer(input.get("customerId"))
        consent = input.get("emailMarketingConsent") or {}
        errors: list[UserError] = []
        if customer is None:
            errors.append(user_error(["input", "customerId"], "Customer not found", "INVALID"))
        elif customer.email is None:
            errors.append(
                user_error(["input", "customerId"], "Customer must have an email address", "INVALID")
            )
        if consent.get("marketingState") not in SETTABLE_MARKETING_STATES:
            errors.append(
                user_error(
                    ["input", "emailMarketingConsent", "marketingState"],
                    "Marketing state is not included in the list",
                    "INCLUSION",
                )
            )
        if errors or customer is None:
            return {"customer": None, "userErrors": errors}
        if apply_customer(self._ctx.sandbox.store, customer, {"emailMarketingConsent": consent}):
            self._customer_changed("customers/update", customer)
        return {"customer": CustomerView(self._ctx, customer), "userErrors": []}

    # -- orders ---------------------------------------------------------------------

    def order(self, id: str) -> OrderView | None:
        self._require("order", "read_orders")
        order = self._order(id)
        return OrderView(self._ctx, order) if order else None

    def orders(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "PROCESSED_AT",
        query: str | None = None,
    ) -> dict[str, Any]:
        self._require("orders", "read_orders")
        return order_connection(
            self._ctx,
            list(self._shop.orders.values()),
            PageArgs(first, after, last, before, reverse),
            sort_key,
            query,
        )

    def orders_count(self, query: str | None = None, limit: int | None = 10000) -> dict[str, Any]:
        self._require("ordersCount", "read_orders")
        return count(len(search(list(self._shop.orders.values()), query, ORDER_SEARCH)), limit)

    def order_create(self, order: dict[str, Any], options: dict[str, Any] | None = None) -> dict[str, Any]:
        self._require("orderCreate", "write_orders")
        store = self._ctx.sandbox.store
        errors = validate_order_create(store, self._shop, order, options)
        if errors:
            return {"order": None, "userErrors": errors}
        creation = create_order(
            store,
            self._shop,
            order,
            options,
            default_source_name=api_source_name(self._ctx.sandbox.config.api_key),
        )
        queue_order_created(self._ctx.emit_later, self._shop, creation)
        return {"order": OrderView(self._ctx, creation.order), "userErrors": []}

    def order_update(self, input: dict[str, Any]) -> dict[str, Any]:
        self._require("orderUpdate", "write_orders")
        order = self._order(input.get("id"))
        if order is None:
            return {"order": None, "userErrors": [user_error(["id"], "Order does not exist")]}
        changes = {k: v for k, v in input.items() if k in ORDER_UPDATE_FIELDS}
        errors = validate_order_update(changes)
        if errors:
            return {"order": None, "userErrors": errors}
        if apply_order_update(self._ctx.sandbox.store, order, changes):
            self._ctx.emit_later("orders/updated", order_payload(self._shop, order))
        return {"order": OrderView(self._ctx, order), "userErrors": []}

    # -- fulfillments ---------------------------------------------------------------

    def fulfillment(self, id: str) -> FulfillmentView | None:
        self._require("fulfillment", "read_fulfillments")
        numeric_id(id, "Fulfillment")
        found = find_fulfillment(self._shop, id)
        return FulfillmentView(self._ctx, *found) if found else None

    def fulfillment_order(self, id: str) -> FulfillmentOrderView | None:
        self._require("fulfillmentOrder", "read_orders")
        numeric = numeric_id(id, "FulfillmentOrder")
        for order in self._shop.orders.values():
            for fo in order.fulfillment_orders:
                if fo.id == numeric:
                    return FulfillmentOrderView(self._ctx, order, fo)
        return None

    def fulfillment_create(self, fulfillment: dict[str, Any], message: str | None = None) -> dict[str, Any]:
        self._require("fulfillmentCreate", "write_fulfillments")
        errors, plan = validate_fulfillment(self._shop, fulfillment)
        if errors or plan is None:
            return {"fulfillment": None, "userErrors": errors}
        created = create_fulfillment(self._ctx.sandbox.store, plan, fulfillment.get("trackingInfo"))
        queue_fulfillment_created(self._ctx.emit_later, self._shop, plan.order, created.id)
        return {"fulfillment": FulfillmentView(self._ctx, plan.order, created), "userErrors": []}

    def fulfillment_tracking_info_update(
        self,
        fulfillment_id: str,
        tracking_info_input: dict[str, Any],
        notify_customer: bool | None = None,
    ) -> dict[str, Any]:
        self._require("fulfillmentTrackingInfoUpdate", "write_fulfillments")
        numeric_id(fulfillment_id, "Fulfillment")
        found = find_fulfillment(self._shop, fulfillment_id)
        if found is None:
            error = user_error(["fulfillmentId"], "Fulfillment does not exist.")
            return {"fulfillment": None, "userErrors": [error]}
        order, target = found
        if target.status == "CANCELLED":
            error = user_error(["fulfillmentId"], "Cannot update the tracking of a cancelled fulfillment.")
            return {"fulfillment": None, "userErrors": [error]}
        if update_tracking(target, tracking_info_input):
            order.updated_at = target.updated_at
            self._ctx.emit_later("fulfillments/update", fulfillment_payload(order, target))
        return {"fulfillment": FulfillmentView(self._ctx, order, target), "userErrors": []}

    def fulfillment_cancel(self, id: str) -> dict[str, Any]:
        self._require("fulfillmentCancel", "write_fulfillments")
        numeric_id(id, "Fulfillment")
        found = find_fulfillment(self._shop, id)
        if found is None:
            return {"fulfillment": None, "userErrors": [user_error(["id"], "Fulfillment does not exist.")]}
        order, target = found
        if target.status == "CANCELLED":
            error = user_error(["id"], "Fulfillment is already cancelled.")
            return {"fulfillment": None, "userErrors": [error]}
        cancel_fulfillment(order, target)
        self._ctx.emit_later("fulfillments/update", fulfillment_payload(order, target))
        self._ctx.emit_later("orders/updated", order_payload(self._shop, order))
        return {"fulfillment": FulfillmentView(self._ctx, order, target), "userErrors": []}

    # -- bulk operations ------------------------------------------------------------

    def bulk_operation(self, id: str) -> dict[str, Any] | None:
        numeric = numeric_id(id, "BulkOperation")
        operation = self._shop.bulk_operations.get(numeric) if numeric is not None else None
        return bulk_operation_view(self._ctx.sandbox.bulk, operation) if operation else None

    def current_bulk_operation(self, type: str = "QUERY") -> dict[str, Any] | None:
        bulk = self._ctx.sandbox.bulk
        operation = bulk.current(self._shop, type)
        return bulk_operation_view(bulk, operation) if operation else None

    def bulk_operation_run_query(self, query: str, group_objects: bool | None = False) -> dict[str, Any]:
        bulk = self._ctx.sandbox.bulk
        running = bulk.running(self._shop)
        if running is not None:
            error = user_error(
                None, f"{IN_PROGRESS}: {gid('BulkOperation', running.id)}.", "OPERATION_IN_PROGRESS"
            )
            return {"bulkOperation": None, "userErrors": [error]}
        try:
            plan = plan_bulk_query(self._ctx.sandbox.schema, query)
        except BulkQueryError as exc:
            return {"bulkOperation": None, "userErrors": [user_error(["query"], str(exc), "INVALID")]}
        operation = bulk.start(self._ctx, query, plan, type(self), group_objects=bool(group_objects))
        self._ctx.changed = True
        return {"bulkOperation": bulk_operation_view(bulk, operation), "userErrors": []}

    def bulk_operation_cancel(self, id: str) -> dict[str, Any]:
        bulk = self._ctx.sandbox.bulk
        numeric = numeric_id(id, "BulkOperation")
        operation = self._shop.bulk_operations.get(numeric) if numeric is not None else None
        if operation is None:
            error = user_error(["id"], "Bulk operation does not exist")
            return {"bulkOperation": None, "userErrors": [error]}
        if operation.status not in ("CREATED", "RUNNING"):
            message = f"A bulk operation cannot be canceled when it is {operation.status.lower()}"
            view = bulk_operation_view(bulk, operation)
            return {"bulkOperation": view, "userErrors": [user_error(["id"], message)]}
        bulk.cancel(operation)
        return {"bulkOperation": bulk_operation_view(bulk, operation), "userErrors": []}


# -- webhooks shared with the control API ---------------------------------------------


Emit = Callable[[str, dict[str, Any]], object]


def queue_order_created(emit: Emit, shop: Shop, creation: OrderCreation) -> None:
    """The webhooks of a new order, in Shopify's order: the customer first, then the order."""
    if creation.customer_created is not None:
        emit("customers/create", customer_payload(shop, creation.customer_created))
    if creation.customer_updated is not None:
        emit("customers/update", customer_payload(shop, creation.customer_updated))
    payload = order_payload(shop, creation.order)
    emit("orders/create", payload)
    if creation.order.financial_status == "PAID":
        emit("orders/paid", payload)


def queue_fulfillment_created(emit: Emit, shop: Shop, order: Order, fulfillment_id: int) -> None:
    fulfillment = next(f for f in order.fulfillments if f.id == fulfillment_id)
    emit("fulfillments/create", fulfillment_payload(order, fulfillment))
    payload = order_payload(shop, order)
    emit("orders/updated", payload)
    if order.fulfillment_status == "FULFILLED":
        emit("orders/fulfilled", payload)

"""GraphQL views of customers, orders, fulfillment orders and fulfillments.

As in views.py: a view's attributes are the type's fields in snake_case; small leaf
objects are dicts keyed by their GraphQL field names. Fields that reach into another
resource check its scope as Shopify does (an order's `customer` needs read_customers,
a line item's `product` and `variant` need read_products).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sandbox.shopify.customers import CUSTOMER_SEARCH, CUSTOMER_SORT
from sandbox.shopify.graphql_errors import access_denied
from sandbox.shopify.models import (
    Customer,
    Fulfillment,
    FulfillmentOrder,
    FulfillmentOrderLineItem,
    LineItem,
    MailingAddress,
    Order,
    gid,
    money,
)
from sandbox.shopify.orders import ORDER_SEARCH, ORDER_SORT
from sandbox.shopify.pagination import PageArgs
from sandbox.shopify.views import ProductView, VariantView, connection, search

if TYPE_CHECKING:
    from sandbox.shopify.runtime import RequestContext


def money_v2(amount: str, currency: str) -> dict[str, Any]:
    return {"amount": amount, "currencyCode": currency}


def money_bag(amount: str, currency: str) -> dict[str, Any]:
    # The sandbox has no presentment currencies: both sides are the order's currency.
    return {"shopMoney": money_v2(amount, currency), "presentmentMoney": money_v2(amount, currency)}


def address_gid(address: MailingAddress, model: str) -> str:
    # Shopify's MailingAddress ids carry the record's model: CustomerAddress or Address.
    return f"{gid('MailingAddress', address.id)}?model_name={model}"


def address_view(address: MailingAddress | None, model: str = "CustomerAddress") -> dict[str, Any] | None:
    if address is None:
        return None
    name = " ".join(n for n in (address.first_name, address.last_name) if n) or None
    return {
        "__typename": "MailingAddress",
        "id": address_gid(address, model),
        "firstName": address.first_name,
        "lastName": address.last_name,
        "name": name,
        "company": address.company,
        "address1": address.address1,
        "address2": address.address2,
        "city": address.city,
        "province": address.province,
        "provinceCode": address.province_code,
        "zip": address.zip,
        "country": address.country,
        "countryCodeV2": address.country_code,
        "phone": address.phone,
    }


def customer_orders(ctx: RequestContext, customer: Customer) -> list[Order]:
    return [o for o in ctx.shop.orders.values() if o.customer_id == customer.id]


def amount_spent(orders: Sequence[Order]) -> Decimal:
    return sum(
        (Decimal(o.total_price) for o in orders if o.financial_status == "PAID" and o.cancelled_at is None),
        Decimal(0),
    )


class CustomerView:
    typename: ClassVar[str] = "Customer"

    def __init__(self, ctx: RequestContext, customer: Customer) -> None:
        self._ctx, self._c = ctx, customer
        self.id = gid("Customer", customer.id)
        self.legacy_resource_id = customer.id
        self.first_name = customer.first_name
        self.last_name = customer.last_name
        self.display_name = customer.display_name
        self.email = customer.email
        self.phone = customer.phone
        self.tags = list(customer.tags)
        self.note = customer.note
        # No customer accounts in the sandbox: every customer is a guest.
        self.state = "DISABLED"
        self.verified_email = customer.email is not None
        self.tax_exempt = False
        self.created_at = customer.created_at
        self.updated_at = customer.updated_at

    def email_marketing_consent(self) -> dict[str, Any] | None:
        # Shopify: null when the customer has no email address.
        if self._c.email is None:
            return None
        return {
            "marketingState": self._c.marketing_state,
            "marketingOptInLevel": self._c.marketing_opt_in_level,
            "consentUpdatedAt": self._c.consent_updated_at,
        }

    def default_email_address(self) -> dict[str, Any] | None:
        if self._c.email is None:
            return None
        state = self._c.marketing_state if self._c.marketing_state != "REDACTED" else "NOT_SUBSCRIBED"
        return {
            "emailAddress": self._c.email,
            "marketingState": state,
            "marketingOptInLevel": self._c.marketing_opt_in_level,
            "marketingUpdatedAt": self._c.consent_updated_at,
        }

    def default_phone_number(self) -> dict[str, Any] | None:
        return {"phoneNumber": self._c.phone} if self._c.phone else None

    def default_address(self) -> dict[str, Any] | None:
        return address_view(self._c.default_address)

    def addresses(self, first: int | None = None) -> list[dict[str, Any]]:
        chosen = self._c.addresses if first is None else self._c.addresses[: max(first, 0)]
        return [view for view in (address_view(a) for a in chosen) if view is not None]

    def number_of_orders(self) -> int:
        return len(customer_orders(self._ctx, self._c))

    def amount_spent(self) -> dict[str, Any]:
        spent = amount_spent(customer_orders(self._ctx, self._c))
        return money_v2(money(spent), self._ctx.shop.currency_code)

    def _require_orders(self, field: str) -> None:
        if not self._ctx.has_scope("read_orders"):
            raise access_denied(field, "read_orders")

    def last_order(self) -> OrderView | None:
        self._require_orders("lastOrder")
        orders = customer_orders(self._ctx, self._c)
        return OrderView(self._ctx, max(orders, key=lambda o: o.id)) if orders else None

    def orders(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        sort_key: str = "ID",
        query: str | None = None,
    ) -> dict[str, Any]:
        self._require_orders("orders")
        return order_connection(
            self._ctx,
            customer_orders(self._ctx, self._c),
            PageArgs(first, after, last, before, reverse),
            sort_key,
            query,
        )


class LineItemView:
    typename: ClassVar[str] = "LineItem"

    def __init__(self, ctx: RequestContext, order: Order, item: LineItem) -> None:
        self._ctx, self._o, self._li = ctx, order, item
        self.id = gid("LineItem", item.id)
        self.name = item.name
        self.title = item.title
        self.quantity = item.quantity
        self.current_quantity = item.quantity
        self.sku = item.sku
        self.variant_title = item.variant_title
        self.vendor = item.vendor
        self.requires_shipping = item.requires_shipping
        self.taxable = item.taxable
        self.is_gift_card = False

    def unfulfilled_quantity(self) -> int:
        return sum(
            li.remaining_quantity
            for fo in self._o.fulfillment_orders
            for li in fo.line_items
            if li.line_item_id == self._li.id
        )

    def variant(self) -> VariantView | None:
        # Null for a custom item, and once the variant is deleted, as on Shopify.
        if not self._ctx.has_scope("read_products"):
            raise access_denied("variant", "read_products")
        if self._li.variant_id is None:
            return None
        found = self._ctx.sandbox.store.find_variant(self._ctx.shop, self._li.variant_id)
        return VariantView(self._ctx, *found) if found else None

    def product(self) -> ProductView | None:
        if not self._ctx.has_scope("read_products"):
            raise access_denied("product", "read_products")
        product = self._ctx.shop.products.get(self._li.product_id) if self._li.product_id else None
        return ProductView(self._ctx, product) if product else None

    def original_unit_price_set(self) -> dict[str, Any]:
        return money_bag(self._li.price, self._o.currency)

    def original_total_set(self) -> dict[str, Any]:
        return money_bag(money(Decimal(self._li.price) * self._li.quantity), self._o.currency)

    def discounted_unit_price_set(self) -> dict[str, Any]:
        return self.original_unit_price_set()

    def discounted_total_set(self) -> dict[str, Any]:
        return self.original_total_set()


class FulfillmentOrderLineItemView:
    typename: ClassVar[str] = "FulfillmentOrderLineItem"

    def __init__(self, ctx: RequestContext, order: Order, item: FulfillmentOrderLineItem) -> None:
        self._ctx, self._o, self._item = ctx, order, item
        line = next(li for li in order.line_items if li.id == item.line_item_id)
        self._line = line
        self.id = gid("FulfillmentOrderLineItem", item.id)
        self.total_quantity = item.total_quantity
        self.remaining_quantity = item.remaining_quantity
        self.sku = line.sku
        self.product_title = line.title
        self.variant_title = line.variant_title

    def line_item(self) -> LineItemView:
        return LineItemView(self._ctx, self._o, self._line)


class FulfillmentOrderView:
    typename: ClassVar[str] = "FulfillmentOrder"

    def __init__(self, ctx: RequestContext, order: Order, fulfillment_order: FulfillmentOrder) -> None:
        self._ctx, self._o, self._fo = ctx, order, fulfillment_order
        self.id = gid("FulfillmentOrder", fulfillment_order.id)
        self.status = fulfillment_order.status
        self.request_status = "UNSUBMITTED"
        self.order_id = gid("Order", order.id)
        self.order_name = order.name
        self.created_at = fulfillment_order.created_at
        self.updated_at = fulfillment_order.updated_at

    def order(self) -> OrderView:
        return OrderView(self._ctx, self._o)

    def line_items(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        items = self._fo.line_items
        positions = {li.id: i for i, li in enumerate(items)}
        return connection(
            items,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda li: li.id,
            sort_value=lambda li: positions[li.id],
            view=lambda li: FulfillmentOrderLineItemView(self._ctx, self._o, li),
        )


class FulfillmentView:
    typename: ClassVar[str] = "Fulfillment"

    def __init__(self, ctx: RequestContext, order: Order, fulfillment: Fulfillment) -> None:
        self._ctx, self._o, self._f = ctx, order, fulfillment
        self.id = gid("Fulfillment", fulfillment.id)
        self.legacy_resource_id = fulfillment.id
        self.name = fulfillment.name
        self.status = fulfillment.status
        self.total_quantity = sum(li.quantity for li in fulfillment.line_items)
        self.created_at = fulfillment.created_at
        self.updated_at = fulfillment.updated_at

    def tracking_info(self, first: int | None = None) -> list[dict[str, Any]]:
        f = self._f
        numbers: list[str | None] = list(f.tracking_numbers) or ([None] if f.tracking_company else [])
        infos = [
            {
                "company": f.tracking_company,
                "number": number,
                "url": f.tracking_urls[i] if i < len(f.tracking_urls) else None,
            }
            for i, number in enumerate(numbers)
        ]
        return infos if first is None else infos[: max(first, 0)]

    def order(self) -> OrderView:
        return OrderView(self._ctx, self._o)

    def fulfillment_line_items(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        lines = {li.id: li for li in self._o.line_items}
        items = self._f.line_items
        positions = {item.id: i for i, item in enumerate(items)}
        return connection(
            items,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda item: item.id,
            sort_value=lambda item: positions[item.id],
            view=lambda item: {
                "__typename": "FulfillmentLineItem",
                "id": gid("FulfillmentLineItem", item.id),
                "quantity": item.quantity,
                "lineItem": LineItemView(self._ctx, self._o, lines[item.line_item_id]),
            },
        )


class OrderView:
    typename: ClassVar[str] = "Order"

    def __init__(self, ctx: RequestContext, order: Order) -> None:
        self._ctx, self._o = ctx, order
        self.id = gid("Order", order.id)
        self.legacy_resource_id = order.id
        self.name = order.name
        self.email = order.email
        self.phone = order.phone
        self.note = order.note
        self.tags = list(order.tags)
        self.po_number = order.po_number
        self.created_at = order.created_at
        self.updated_at = order.updated_at
        self.processed_at = order.processed_at
        self.cancelled_at = order.cancelled_at
        self.cancel_reason = order.cancel_reason
        self.closed = order.closed_at is not None
        self.closed_at = order.closed_at
        self.confirmed = True
        self.test = False
        self.source_name = order.source_name
        self.currency_code = order.currency
        self.presentment_currency_code = order.currency
        self.display_financial_status = order.financial_status
        self.display_fulfillment_status = order.fulfillment_status
        self.fully_paid = order.financial_status == "PAID"

    def customer(self) -> CustomerView | None:
        if not self._ctx.has_scope("read_customers"):
            raise access_denied("customer", "read_customers")
        customer = self._ctx.shop.customers.get(self._o.customer_id) if self._o.customer_id else None
        return CustomerView(self._ctx, customer) if customer else None

    def shipping_address(self) -> dict[str, Any] | None:
        return address_view(self._o.shipping_address, "Address")

    def billing_address(self) -> dict[str, Any] | None:
        return address_view(self._o.billing_address, "Address")

    def total_price_set(self) -> dict[str, Any]:
        return money_bag(self._o.total_price, self._o.currency)

    def current_total_price_set(self) -> dict[str, Any]:
        return self.total_price_set()

    def subtotal_price_set(self) -> dict[str, Any]:
        return self.total_price_set()

    def total_tax_set(self) -> dict[str, Any]:
        return money_bag("0.00", self._o.currency)

    def total_discounts_set(self) -> dict[str, Any]:
        return money_bag("0.00", self._o.currency)

    def line_items(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
    ) -> dict[str, Any]:
        items = self._o.line_items
        positions = {li.id: i for i, li in enumerate(items)}
        return connection(
            items,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda li: li.id,
            sort_value=lambda li: positions[li.id],
            view=lambda li: LineItemView(self._ctx, self._o, li),
        )

    def fulfillment_orders(
        self,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        reverse: bool = False,
        displayable: bool = False,
        query: str | None = None,
    ) -> dict[str, Any]:
        items = self._o.fulfillment_orders
        if displayable:
            items = [fo for fo in items if fo.status != "CANCELLED"]
        return connection(
            items,
            PageArgs(first, after, last, before, reverse),
            record_id=lambda fo: fo.id,
            sort_value=lambda fo: fo.id,
            view=lambda fo: FulfillmentOrderView(self._ctx, self._o, fo),
        )

    def fulfillments(self, first: int | None = None) -> list[FulfillmentView]:
        chosen = self._o.fulfillments if first is None else self._o.fulfillments[: max(first, 0)]
        return [FulfillmentView(self._ctx, self._o, f) for f in chosen]


def customer_connection(
    ctx: RequestContext,
    customers: Sequence[Customer],
    args: PageArgs,
    sort_key: str,
    query: str | None = None,
) -> dict[str, Any]:
    return connection(
        search(customers, query, CUSTOMER_SEARCH),
        args,
        record_id=lambda c: c.id,
        sort_value=CUSTOMER_SORT.get(sort_key, CUSTOMER_SORT["ID"]),
        view=lambda c: CustomerView(ctx, c),
    )


def order_connection(
    ctx: RequestContext,
    orders: Sequence[Order],
    args: PageArgs,
    sort_key: str,
    query: str | None = None,
) -> dict[str, Any]:
    return connection(
        search(orders, query, ORDER_SEARCH),
        args,
        record_id=lambda o: o.id,
        sort_value=ORDER_SORT.get(sort_key, ORDER_SORT["PROCESSED_AT"]),
        view=lambda o: OrderView(ctx, o),
    )

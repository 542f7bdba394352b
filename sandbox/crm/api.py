"""The CRM's merchant API: products, campaigns, offers and payment processors.

Every route takes the merchant's user token (JWT bearer grant). Resources belong to the
user whose token created them; another user's ids answer 404. Creates are once per
`external_id` and user (409 `conflict` with `existing_id`); lists are `{"data",
"next_cursor"}` in creation order with `limit`/`cursor`. Product changes fire
`product.created|updated|deleted` webhooks.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post, put
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.errors import ApiError, FieldError, json_object_body, not_found, validation_failed
from sandbox.common.records import Fields, conflict, new_id, page_body
from sandbox.crm.runtime import CrmSandbox
from sandbox.crm.state import Campaign, Offer, OfferKind, ProcessorStatus, Product
from sandbox.crm.validation import (
    CampaignInput,
    OfferInput,
    ProductInput,
    read_campaign,
    read_offer,
    read_product,
)

BATCH_LIMIT = 100
PRODUCTS_READ = "products:read"
PRODUCTS_WRITE = "products:write"
CAMPAIGNS_READ = "campaigns:read"
CAMPAIGNS_WRITE = "campaigns:write"
PROCESSORS_READ = "payment_processors:read"


def api_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    return [*_product_handlers(sandbox), *_campaign_handlers(sandbox), *_offer_handlers(sandbox)]


# -- products ---------------------------------------------------------------------------------


def apply_product(product: Product, data: ProductInput, now: float) -> None:
    product.external_id = data.external_id
    product.product_external_id = data.product_external_id
    product.sku = data.sku
    product.name = data.name
    product.price = data.price
    product.currency = data.currency
    product.image_url = data.image_url
    product.weight = data.weight
    product.weight_unit = data.weight_unit
    product.barcode = data.barcode
    product.options = dict(data.options)
    product.active = data.active
    product.stock = data.stock
    product.vendor = data.vendor
    product.url = data.url
    product.collections = list(data.collections)
    product.updated_at = now


def product_body(product: Product) -> dict[str, Any]:
    """A product as a create/PUT body: what a partial edit starts from."""
    body = product.as_json()
    for server_set in ("id", "created_at", "updated_at"):
        body.pop(server_set)
    return body


def _product_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    def owned_product(owner: str, product_id: str) -> Product:
        product = sandbox.product(owner, product_id)
        if product is None:
            raise not_found(f"No product {product_id}.")
        return product

    def by_external_id(owner: str, external_id: str) -> Product | None:
        return next(
            (
                p
                for p in sandbox.state.products.values()
                if p.owner_id == owner and p.external_id == external_id
            ),
            None,
        )

    def new_product(owner: str, data: ProductInput) -> Product:
        now = sandbox.now()
        product = Product(
            id=new_id("prd"),
            seq=sandbox.take_seq(),
            owner_id=owner,
            created_at=now,
            updated_at=now,
            external_id="",
            product_external_id="",
            sku="",
            name="",
            price="",
            currency="",
            image_url=None,
            weight=None,
            weight_unit=None,
            barcode=None,
            options={},
            active=True,
            stock=None,
            vendor=None,
            url=None,
        )
        apply_product(product, data, now)
        sandbox.state.products[product.id] = product
        return product

    @post("/api/v1/products", status_code=201)
    async def create_product(request: Request[Any, Any, Any]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, PRODUCTS_WRITE)
        data = read_product(await json_object_body(request, optional=False))
        # No await between the lookup and the insert: concurrent creates cannot both pass.
        existing = by_external_id(owner, data.external_id)
        if existing is not None:
            raise conflict("A product with this external_id already exists.", existing.id)
        product = new_product(owner, data)
        sandbox.emit(owner, "product.created", product.as_json())
        await sandbox.save()
        return Response(content=product.as_json(), status_code=201)

    @post("/api/v1/products/batch", status_code=200)
    async def upsert_products(request: Request[Any, Any, Any]) -> dict[str, Any]:
        """Catalog import: up to 100 products created or updated by external_id in one call.

        Like the CRM's catalog import it notifies no webhook subscriber. Each item stands
        alone: a bad one is reported in `errors` by its index and the others are written.
        """
        owner = sandbox.authenticate_member(request, PRODUCTS_WRITE)
        body = await json_object_body(request, optional=False)
        items = body.get("products")
        if not isinstance(items, list) or not 1 <= len(items) <= BATCH_LIMIT:
            raise validation_failed([FieldError("products", f"Give a list of 1 to {BATCH_LIMIT} products.")])
        written, errors = [], []
        for index, item in enumerate(items):
            try:
                data = read_product(item if isinstance(item, dict) else {})
            except ApiError as refused:
                errors.append({"index": index, "errors": refused.body.get("errors", [])})
                continue
            product = by_external_id(owner, data.external_id)
            created = product is None
            if product is None:
                product = new_product(owner, data)
            else:
                apply_product(product, data, sandbox.now())
            sandbox.count_batch_write("products.create" if created else "products.update")
            written.append({"external_id": data.external_id, "id": product.id, "created": created})
        await sandbox.save()
        return {"data": written, "errors": errors}

    @get("/api/v1/products")
    async def list_products(request: Request[Any, Any, Any]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, PRODUCTS_READ)
        query = request.query_params
        external_id = query.get("external_id")
        product_external_id = query.get("product_external_id")
        products = [
            p
            for p in sandbox.state.products.values()
            if p.owner_id == owner
            and (external_id is None or p.external_id == external_id)
            and (product_external_id is None or p.product_external_id == product_external_id)
        ]
        return page_body(products, request, Product.as_json)

    @get("/api/v1/products/{product_id:str}")
    async def get_product(request: Request[Any, Any, Any], product_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, PRODUCTS_READ)
        return owned_product(owner, product_id).as_json()

    @put("/api/v1/products/{product_id:str}")
    async def update_product(request: Request[Any, Any, Any], product_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, PRODUCTS_WRITE)
        owned_product(owner, product_id)  # 404 before 422
        data = read_product(await json_object_body(request, optional=False))
        product = owned_product(owner, product_id)  # it may have gone while the body arrived
        other = by_external_id(owner, data.external_id)
        if other is not None and other.id != product.id:
            raise conflict("Another product has this external_id.", other.id)
        apply_product(product, data, sandbox.now())
        sandbox.emit(owner, "product.updated", product.as_json())
        await sandbox.save()
        return product.as_json()

    @delete("/api/v1/products/{product_id:str}", status_code=204)
    async def delete_product(request: Request[Any, Any, Any], product_id: FromPath[str]) -> None:
        owner = sandbox.authenticate_member(request, PRODUCTS_WRITE)
        product = owned_product(owner, product_id)
        in_use = sorted(
            (o for o in sandbox.state.offers.values() if o.product_id == product.id), key=lambda o: o.seq
        )
        if in_use:
            raise ApiError(
                409,
                {
                    "error": "in_use",
                    "message": "Offers use this product: delete them or deactivate the product.",
                    "offer_ids": [o.id for o in in_use],
                },
            )
        data = product.as_json()
        del sandbox.state.products[product.id]
        sandbox.emit(owner, "product.deleted", data)
        await sandbox.save()

    return [create_product, upsert_products, list_products, get_product, update_product, delete_product]


# -- campaigns and their payment processors -------------------------------------------------


def _campaign_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    def owned_campaign(owner: str, campaign_id: str) -> Campaign:
        campaign = sandbox.campaign(owner, campaign_id)
        if campaign is None:
            raise not_found(f"No campaign {campaign_id}.")
        return campaign

    def by_external_id(owner: str, external_id: str) -> Campaign | None:
        return next(
            (
                c
                for c in sandbox.state.campaigns.values()
                if c.owner_id == owner and c.external_id == external_id
            ),
            None,
        )

    def apply(campaign: Campaign, data: CampaignInput) -> None:
        campaign.external_id = data.external_id
        campaign.name = data.name
        campaign.description = data.description
        campaign.currency = data.currency
        campaign.country = data.country
        campaign.updated_at = sandbox.now()

    def links_json(campaign: Campaign) -> dict[str, Any]:
        processors = [sandbox.state.processors.get(pid) for pid in campaign.processor_ids]
        return {
            "campaign_id": campaign.id,
            "processor_ids": list(campaign.processor_ids),
            "processors": [p.as_json() for p in processors if p is not None],
        }

    @post("/api/v1/campaigns", status_code=201)
    async def create_campaign(request: Request[Any, Any, Any]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        data = read_campaign(await json_object_body(request, optional=False))
        existing = by_external_id(owner, data.external_id)
        if existing is not None:
            raise conflict("A campaign with this external_id already exists.", existing.id)
        now = sandbox.now()
        campaign = Campaign(
            id=new_id("cmp"),
            seq=sandbox.take_seq(),
            owner_id=owner,
            external_id=data.external_id,
            name=data.name,
            description=data.description,
            currency=data.currency,
            country=data.country,
            created_at=now,
            updated_at=now,
        )
        sandbox.state.campaigns[campaign.id] = campaign
        await sandbox.save()
        return Response(content=campaign.as_json(), status_code=201)

    @get("/api/v1/campaigns")
    async def list_campaigns(request: Request[Any, Any, Any]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_READ)
        external_id = request.query_params.get("external_id")
        campaigns = [
            c
            for c in sandbox.state.campaigns.values()
            if c.owner_id == owner and (external_id is None or c.external_id == external_id)
        ]
        return page_body(campaigns, request, Campaign.as_json)

    @get("/api/v1/campaigns/{campaign_id:str}")
    async def get_campaign(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_READ)
        return owned_campaign(owner, campaign_id).as_json()

    @put("/api/v1/campaigns/{campaign_id:str}")
    async def update_campaign(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        owned_campaign(owner, campaign_id)
        data = read_campaign(await json_object_body(request, optional=False))
        campaign = owned_campaign(owner, campaign_id)
        other = by_external_id(owner, data.external_id)
        if other is not None and other.id != campaign.id:
            raise conflict("Another campaign has this external_id.", other.id)
        apply(campaign, data)
        await sandbox.save()
        return campaign.as_json()

    @post("/api/v1/campaigns/{campaign_id:str}/deactivate", status_code=200)
    async def deactivate_campaign(
        request: Request[Any, Any, Any], campaign_id: FromPath[str]
    ) -> dict[str, Any]:
        """Stops the campaign taking orders; again on an inactive one changes nothing."""
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        campaign = owned_campaign(owner, campaign_id)
        if campaign.active:
            campaign.active = False
            campaign.updated_at = sandbox.now()
            await sandbox.save()
        return campaign.as_json()

    @get("/api/v1/payment-processors")
    async def list_processors(request: Request[Any, Any, Any]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, PROCESSORS_READ)
        status = request.query_params.get("status")
        processors = [
            p
            for p in sandbox.state.processors.values()
            if p.owner_id == owner and (status is None or p.status.value == status)
        ]
        return page_body(processors, request, lambda p: p.as_json())

    @get("/api/v1/campaigns/{campaign_id:str}/payment-processors")
    async def get_links(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_READ)
        return links_json(owned_campaign(owner, campaign_id))

    @put("/api/v1/campaigns/{campaign_id:str}/payment-processors")
    async def put_links(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        owned_campaign(owner, campaign_id)
        fields = Fields(await json_object_body(request, optional=False))
        ids = fields.id_list("processor_ids")
        fields.raise_if_any()
        campaign = owned_campaign(owner, campaign_id)
        errors: list[FieldError] = []
        for index, processor_id in enumerate(ids):
            processor = sandbox.processor(owner, processor_id)
            if processor is None:
                errors.append(
                    FieldError(f"processor_ids[{index}]", f"{processor_id} is not one of your processors.")
                )
            elif processor.status is not ProcessorStatus.ACTIVE:
                errors.append(
                    FieldError(
                        f"processor_ids[{index}]",
                        f"{processor_id} is inactive: activate it in the CRM first.",
                    )
                )
        if errors:
            raise validation_failed(errors)
        if campaign.processor_ids != ids:
            campaign.processor_ids = ids
            campaign.updated_at = sandbox.now()
            await sandbox.save()
        return links_json(campaign)

    return [
        create_campaign,
        list_campaigns,
        get_campaign,
        update_campaign,
        deactivate_campaign,
        list_processors,
        get_links,
        put_links,
    ]


# -- offers -----------------------------------------------------------------------------------


def _offer_handlers(sandbox: CrmSandbox) -> list[ControllerRouterHandler]:
    base = "/api/v1/campaigns/{campaign_id:str}/offers"

    def owned_campaign(owner: str, campaign_id: str) -> Campaign:
        campaign = sandbox.campaign(owner, campaign_id)
        if campaign is None:
            raise not_found(f"No campaign {campaign_id}.")
        return campaign

    def owned_offer(campaign: Campaign, offer_id: str) -> Offer:
        offer = sandbox.offer(campaign, offer_id)
        if offer is None:
            raise not_found(f"No offer {offer_id} in campaign {campaign.id}.")
        return offer

    def offer_json(offer: Offer) -> dict[str, Any]:
        return offer.as_json(sandbox.state.products.get(offer.product_id))

    async def read(request: Request[Any, Any, Any], owner: str) -> OfferInput:
        body = await json_object_body(request, optional=False)
        return read_offer(body, lambda product_id: sandbox.product(owner, product_id))

    def check_single_main(campaign: Campaign, data: OfferInput, offer_id: str | None) -> None:
        if data.kind is not OfferKind.MAIN:
            return
        main = next(
            (
                o
                for o in sandbox.state.offers.values()
                if o.campaign_id == campaign.id and o.kind is OfferKind.MAIN and o.id != offer_id
            ),
            None,
        )
        if main is not None:
            raise validation_failed(
                [FieldError("kind", f"The campaign already has a main offer ({main.id}); add upsells.")]
            )

    def by_external_id(owner: str, external_id: str) -> Offer | None:
        return next(
            (
                o
                for o in sandbox.state.offers.values()
                if o.owner_id == owner and o.external_id == external_id
            ),
            None,
        )

    def apply(offer: Offer, data: OfferInput) -> None:
        offer.external_id = data.external_id
        offer.product_id = data.product_id
        offer.kind = data.kind
        offer.position = data.position
        offer.headline = data.headline
        offer.discount_type = data.discount_type
        offer.discount_value = data.discount_value
        offer.updated_at = sandbox.now()

    @post(base, status_code=201)
    async def create_offer(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        owned_campaign(owner, campaign_id)
        data = await read(request, owner)
        campaign = owned_campaign(owner, campaign_id)
        existing = by_external_id(owner, data.external_id)
        if existing is not None:
            raise conflict("An offer with this external_id already exists.", existing.id)
        check_single_main(campaign, data, None)
        now = sandbox.now()
        offer = Offer(
            id=new_id("ofr"),
            seq=sandbox.take_seq(),
            owner_id=owner,
            campaign_id=campaign.id,
            external_id=data.external_id,
            product_id=data.product_id,
            kind=data.kind,
            position=data.position,
            headline=data.headline,
            discount_type=data.discount_type,
            discount_value=data.discount_value,
            created_at=now,
            updated_at=now,
        )
        sandbox.state.offers[offer.id] = offer
        await sandbox.save()
        return Response(content=offer_json(offer), status_code=201)

    @get(base)
    async def list_offers(request: Request[Any, Any, Any], campaign_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_READ)
        campaign = owned_campaign(owner, campaign_id)
        external_id = request.query_params.get("external_id")
        offers = [
            o
            for o in sandbox.state.offers.values()
            if o.campaign_id == campaign.id and (external_id is None or o.external_id == external_id)
        ]
        return page_body(offers, request, offer_json)

    @get(base + "/{offer_id:str}")
    async def get_offer(
        request: Request[Any, Any, Any], campaign_id: FromPath[str], offer_id: FromPath[str]
    ) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_READ)
        return offer_json(owned_offer(owned_campaign(owner, campaign_id), offer_id))

    @put(base + "/{offer_id:str}")
    async def update_offer(
        request: Request[Any, Any, Any], campaign_id: FromPath[str], offer_id: FromPath[str]
    ) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        owned_offer(owned_campaign(owner, campaign_id), offer_id)
        data = await read(request, owner)
        campaign = owned_campaign(owner, campaign_id)
        offer = owned_offer(campaign, offer_id)
        other = by_external_id(owner, data.external_id)
        if other is not None and other.id != offer.id:
            raise conflict("Another offer has this external_id.", other.id)
        check_single_main(campaign, data, offer.id)
        apply(offer, data)
        await sandbox.save()
        return offer_json(offer)

    @delete(base + "/{offer_id:str}", status_code=204)
    async def delete_offer(
        request: Request[Any, Any, Any], campaign_id: FromPath[str], offer_id: FromPath[str]
    ) -> None:
        owner = sandbox.authenticate_member(request, CAMPAIGNS_WRITE)
        offer = owned_offer(owned_campaign(owner, campaign_id), offer_id)
        del sandbox.state.offers[offer.id]
        await sandbox.save()

    return [create_offer, list_offers, get_offer, update_offer, delete_offer]

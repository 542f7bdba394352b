"""Human-facing pages: the start page, a health check, product images, storefront pages."""

from __future__ import annotations

from html import escape
from typing import Any

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import FromPath
from litestar.response import Template

from sandbox.shopify.config import LATEST_API_VERSION
from sandbox.shopify.models import Image, ProductStatus
from sandbox.shopify.runtime import SandboxDep


@get("/", media_type="text/html")
async def start_page(sandbox: SandboxDep) -> Template:
    config = sandbox.config
    shops = [
        {
            "domain": shop.domain,
            "name": shop.name,
            "tier": shop.tier.value.title(),
            "plan": shop.tier.display_name,
            "restore_rate": int(shop.tier.restore_rate),
            "products": len(shop.products),
            "variants": shop.variant_count,
            # Signed at click time by the admin route, so it never goes stale on the page.
            "install_url": f"/shops/{shop.domain}/admin/apps/install",
            # The embedded way: the store admin, where the app is installed from its
            # listing (managed installation) and opened in an iframe.
            "admin_url": f"/admin/store/{shop.domain.removesuffix('.myshopify.com')}/apps",
            "graphql_url": f"{config.shop_base_url(shop.domain)}/admin/api/{LATEST_API_VERSION}/graphql.json",
        }
        for shop in sandbox.store.shops.values()
    ]
    return Template(
        template_name="start.html",
        context={"shops": shops, "app_url": config.app_base, "api_key": config.api_key},
    )


@get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def render_svg(image: Image) -> str:
    label, alt = escape(image.label), escape(image.alt_text)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{image.width}" height="{image.height}" '
        f'viewBox="0 0 {image.width} {image.height}" role="img" aria-label="{alt}">'
        f'<rect width="100%" height="100%" fill="hsl({image.hue}, 55%, 82%)"/>'
        f'<circle cx="50%" cy="42%" r="22%" fill="hsl({image.hue}, 45%, 62%)"/>'
        f'<text x="50%" y="82%" text-anchor="middle" font-family="sans-serif" font-size="44" '
        f'fill="hsl({image.hue}, 40%, 22%)">{label}</text></svg>'
    )


@get("/_sandbox/images/{image_name:str}")
async def product_image(image_name: FromPath[str], sandbox: SandboxDep) -> Response[str]:
    """Generated product pictures, so no image ever comes from outside 127.0.0.1."""
    stem = image_name.removesuffix(".svg")
    if not stem.isdigit() or not image_name.endswith(".svg"):
        raise NotFoundException()
    wanted = int(stem)
    for shop in sandbox.store.shops.values():
        for product in shop.products.values():
            for image in product.images:
                if image.id == wanted:
                    return Response(
                        render_svg(image),
                        media_type="image/svg+xml",
                        headers={"Cache-Control": "public, max-age=86400"},
                    )
    raise NotFoundException()


@get("/shops/{shop_domain:str}/products/{handle:str}", media_type="text/html")
async def storefront_product(
    shop_domain: FromPath[str], handle: FromPath[str], sandbox: SandboxDep
) -> Template:
    """The product's `onlineStoreUrl`: a bare storefront page, enough to follow a link."""
    shop = sandbox.store.shop(shop_domain)
    product = None
    if shop is not None:
        product = next((p for p in shop.products.values() if p.handle == handle), None)
    if shop is None or product is None or product.status is not ProductStatus.ACTIVE:
        raise NotFoundException()
    base = sandbox.config.public_base
    context: dict[str, Any] = {
        "shop": shop.name,
        "title": product.title,
        "vendor": product.vendor,
        "image_url": f"{base}/_sandbox/images/{product.images[0].id}.svg" if product.images else None,
        "image_alt": product.images[0].alt_text if product.images else "",
        "variants": [
            {
                "title": v.title,
                "price": v.price,
                "currency": shop.currency_code,
                "stock": v.inventory_quantity,
            }
            for v in product.variants
        ],
    }
    return Template(template_name="product.html", context=context)


PAGE_HANDLERS = [start_page, healthz, product_image, storefront_product]

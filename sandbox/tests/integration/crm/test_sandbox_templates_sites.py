"""Template service: the catalogue, hosts, sites, publishing and the published pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from sandbox.tests.integration.crm.sandbox_crm_support import (
    TEMPLATES_URL,
    Harness,
    Merchant,
    errors_of,
    running_templates,
)


@pytest.fixture
async def templates() -> AsyncIterator[Harness]:
    async with running_templates() as harness:
        yield harness


@pytest.fixture
async def acme(templates: Harness) -> Merchant:
    return await templates.merchant("acme.myshopify.com")


def site_body(subdomain: str = "acme-mugs", **overrides: Any) -> dict[str, Any]:
    return {
        "external_id": "funnel-1",
        "template_id": "tpl_classic_sales",
        "host": {"kind": "subdomain", "subdomain": subdomain},
        "content": {
            "title": "Acme mugs",
            "headline": "The last mug you will buy",
            "main_offer": {"name": "Blue mug", "price": "20.00", "currency": "USD", "offer_id": "ofr_1"},
            "upsells": [{"name": "Matching saucer", "price": "8.50", "currency": "USD"}],
            "crm_campaign_id": "cmp_123",
        },
        **overrides,
    }


def path_of(url: str) -> str:
    assert url.startswith(TEMPLATES_URL)
    return url.removeprefix(TEMPLATES_URL)


# -- templates --------------------------------------------------------------------------------


async def test_catalogue_lists_at_least_six_templates_with_previews(acme: Merchant) -> None:
    listed = (await acme.get("/api/v1/templates")).json()
    names = {t["name"] for t in listed["data"]}
    assert {"Classic sales page", "Video sales letter", "Minimal", "Bold offer", "Story"} <= names
    assert "One-click upsell" in names
    assert listed["next_cursor"] is None
    for t in listed["data"]:
        assert t["id"].startswith("tpl_")
        assert set(t) == {"id", "name", "description", "category", "preview_url"}
        assert t["preview_url"] == f"{TEMPLATES_URL}/previews/{t['id']}.svg"


async def test_preview_images_are_served_svg_distinct_per_template(acme: Merchant) -> None:
    listed = (await acme.get("/api/v1/templates")).json()["data"]
    images = []
    for t in listed:
        response = await acme.harness.http.get(path_of(t["preview_url"]))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.text.startswith("<svg")
        assert "<script" not in response.text
        images.append(response.text)
    assert len(set(images)) == len(images)


async def test_template_read_by_id_and_unknown_is_404(acme: Merchant) -> None:
    found = await acme.get("/api/v1/templates/tpl_minimal")
    assert found.json()["name"] == "Minimal"
    assert (await acme.get("/api/v1/templates/tpl_nope")).status_code == 404


# -- hosts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "available", "reason"),
    [("www", False, "reserved"), ("shop", False, "reserved"), ("taken-shop", False, "taken"),
     ("demo", False, "taken"), ("acme-mugs", True, None), ("a", True, None)],
)  # fmt: skip
async def test_subdomain_availability(acme: Merchant, name: str, available: bool, reason: str | None) -> None:
    response = await acme.get(f"/api/v1/hosts/subdomains/{name}")
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["available"], body["reason"]) == (name, available, reason)


@pytest.mark.parametrize("name", ["Acme", "-acme", "acme-", "ab", "a_b", "x" * 64])
async def test_malformed_subdomain_is_422(acme: Merchant, name: str) -> None:
    assert list(errors_of(await acme.get(f"/api/v1/hosts/subdomains/{name}"))) == ["name"]


async def test_subdomain_of_your_own_site_reads_yours(acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    body = (await acme.get("/api/v1/hosts/subdomains/acme-mugs")).json()
    assert (body["available"], body["reason"], body["site_id"]) == (False, "yours", site["id"])


# -- sites ------------------------------------------------------------------------------------


async def test_site_is_created_as_a_draft_and_found_by_external_id(acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    assert site["id"].startswith("site_")
    assert (site["status"], site["version"], site["published_at"]) == ("draft", 0, None)
    assert site["url"] == f"{TEMPLATES_URL}/p/acme-mugs/"
    assert site["content"] == site_body()["content"]
    found = (await acme.get("/api/v1/sites", external_id="funnel-1")).json()
    assert found == {"data": [site], "next_cursor": None}
    assert (await acme.get(f"/api/v1/sites/{site['id']}")).json() == site
    assert (await acme.harness.http.get("/p/acme-mugs/")).status_code == 404


async def test_published_site_is_served_with_its_marker_and_content(acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    published = await acme.post(f"/api/v1/sites/{site['id']}/publish")
    assert published.status_code == 200
    body = published.json()
    assert (body["status"], body["version"], body["url"]) == ("published", 1, site["url"])
    assert body["published_at"] is not None
    page = await acme.harness.http.get(path_of(body["url"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert f'<meta name="funnel-site" content="{site["id"]}">' in html
    for text in ("Classic sales page", "Acme mugs", "The last mug you will buy", "Blue mug", "$20.00"):
        assert text in html
    assert "Matching saucer" in html
    assert "$8.50" in html
    assert "<script" not in html


def offer_block(**overrides: Any) -> dict[str, Any]:
    return {
        "offer_id": "ofr_2",
        "headline": "Add a saucer",
        "product_title": "Saucer",
        "variant_title": "Blue",
        "image": {"url": "https://cdn.example.com/saucer.png", "alt": "A blue saucer"},
        "original_price": "56.00",
        "price": "47.60",
        "saving": "8.40",
        "available": True,
        "stock": 3,
        "call_to_action": "Yes, add it",
        "discount_type": "percentage",  # a key blocks do not know: not shown
        **overrides,
    }


async def published_page(acme: Merchant, content: dict[str, Any]) -> str:
    site = await acme.created("/api/v1/sites", site_body(content={**site_body()["content"], **content}))
    published = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    return str((await acme.harness.http.get(path_of(published["url"]))).text)


async def test_offer_blocks_show_prices_in_the_pages_currency_and_locale(acme: Merchant) -> None:
    html = await published_page(
        acme, {"currency": "EUR", "locale": "de-DE", "main_offer": offer_block(), "upsells": []}
    )
    main = html.split('class="offer main-offer"', 1)[1]
    assert '<strong class="offer-price">47,60\xa0€</strong>' in main
    assert '<s class="original-price">56,00\xa0€</s>' in main
    assert "You save 8,40\xa0€" in main
    assert "Saucer – Blue" in main
    assert "Only 3 left" in main
    assert "Yes, add it" in main
    assert '<img src="https://cdn.example.com/saucer.png" alt="A blue saucer"' in main
    assert "discount_type" not in html
    assert "percentage" not in html
    assert '<html lang="de">' in html


async def test_a_sold_out_offer_block_says_so_and_cannot_be_bought(acme: Merchant) -> None:
    html = await published_page(
        acme,
        {
            "main_offer": offer_block(headline="", available=False, stock=0, call_to_action="Sold out"),
            "upsells": [],
        },
    )
    main = html.split('class="offer main-offer"', 1)[1]
    assert "<h2>Saucer</h2>" in main
    assert '<p class="product">Blue</p>' in main  # under the product's own title, the variant
    assert "Sold out" in main
    assert 'class="buy"' not in main


async def test_a_downsell_waits_hidden_until_an_upsell_is_declined(acme: Merchant) -> None:
    html = await published_page(
        acme,
        {
            "main_offer": offer_block(offer_id="ofr_1"),
            "upsells": [offer_block(offer_id="ofr_2")],
            "downsell": offer_block(offer_id="ofr_3", headline="Just the saucer, then?", price="39.00"),
        },
    )
    upsell = html.split('class="offer upsell"', 1)[1].split("</section>", 1)[0]
    assert '<a class="decline" href="#downsell" data-fs-action="decline">No, thanks</a>' in upsell
    downsell = html.split('class="offer downsell"', 1)[1].split("</section>", 1)[0]
    assert "Just the saucer, then?" in downsell
    assert '<section class="offer downsell" id="downsell" data-fs-offer="ofr_3">' in html
    # Shown by CSS :target, without script.
    assert ".downsell{display:none}.downsell:target{display:block}" in html
    assert "<script" not in html


async def test_without_an_upsell_to_decline_no_downsell_is_shown(acme: Merchant) -> None:
    html = await published_page(
        acme, {"main_offer": offer_block(), "upsells": [], "downsell": offer_block(offer_id="ofr_3")}
    )
    assert 'class="offer downsell"' not in html
    assert 'href="#downsell"' not in html


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"locale": "xx-nope"}, "content.locale"),
        ({"currency": "euro"}, "content.currency"),
        ({"downsell": "a saucer"}, "content.downsell"),
    ],
)
async def test_content_in_an_unknown_locale_or_currency_is_422(
    acme: Merchant, content: dict[str, Any], field: str
) -> None:
    body = site_body(content={**site_body()["content"], **content})
    assert list(errors_of(await acme.post("/api/v1/sites", body))) == [field]


async def test_republishing_unchanged_keeps_the_version(templates: Harness, acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    first = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    templates.clock.advance(10)
    again = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    assert (again["version"], again["published_at"]) == (1, first["published_at"])
    assert again["unpublished_changes"] is False


async def test_put_then_publish_bumps_the_version_and_serves_the_new_content(acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    await acme.post(f"/api/v1/sites/{site['id']}/publish")
    content = {**site_body()["content"], "title": "Acme mugs, now in red"}
    updated = await acme.put(f"/api/v1/sites/{site['id']}", {"content": content, "template_id": "tpl_story"})
    assert updated.status_code == 200
    assert (updated.json()["unpublished_changes"], updated.json()["version"]) == (True, 1)
    live = await acme.harness.http.get("/p/acme-mugs/")
    assert "Acme mugs, now in red" not in live.text  # not live until published
    republished = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    assert republished["version"] == 2
    page = (await acme.harness.http.get("/p/acme-mugs/")).text
    assert "Acme mugs, now in red" in page
    assert ">Story<" in page
    assert '<meta name="funnel-site-version" content="2">' in page


async def test_changing_host_releases_the_old_subdomain(templates: Harness, acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body("old-name"))
    await acme.post(f"/api/v1/sites/{site['id']}/publish")
    moved = await acme.put(
        f"/api/v1/sites/{site['id']}", {"host": {"kind": "subdomain", "subdomain": "new-name"}}
    )
    assert moved.json()["url"] == f"{TEMPLATES_URL}/p/new-name/"
    assert (await templates.http.get("/p/old-name/")).status_code == 404
    assert (await templates.http.get("/p/new-name/")).status_code == 200
    other = await templates.merchant("other.myshopify.com")
    assert (await other.get("/api/v1/hosts/subdomains/old-name")).json()["available"] is True
    assert (await other.post("/api/v1/sites", site_body("old-name"))).status_code == 201


async def test_subdomain_held_by_someone_else_is_409_subdomain_taken(
    templates: Harness, acme: Merchant
) -> None:
    await acme.created("/api/v1/sites", site_body())
    other = await templates.merchant("other.myshopify.com")
    response = await other.post("/api/v1/sites", site_body())
    assert response.status_code == 409
    assert response.json()["error"] == "subdomain_taken"
    assert "site_id" not in response.json()
    seeded = await other.post("/api/v1/sites", site_body("demo"))
    assert (seeded.status_code, seeded.json()["error"]) == (409, "subdomain_taken")


async def test_site_created_again_is_409_conflict_and_one_site(templates: Harness, acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    again = await acme.post("/api/v1/sites", site_body())
    assert (again.status_code, again.json()["error"]) == (409, "conflict")
    assert again.json()["existing_id"] == site["id"]
    assert [s["id"] for s in (await templates.control("GET", "sites"))["data"]] == [site["id"]]
    await acme.post(f"/api/v1/sites/{site['id']}/publish")
    await acme.post(f"/api/v1/sites/{site['id']}/publish")
    writes = (await templates.control("GET", "counters"))["writes"]
    assert writes["POST /api/v1/sites"]["responses"] == {"201": 1, "409": 1}
    assert writes["POST /api/v1/sites/{site_id}/publish"]["responses"] == {"200": 2}


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"host": {"kind": "subdomain", "subdomain": "Bad_Name"}}, "host.subdomain"),
        ({"host": {"kind": "subdomain", "subdomain": "admin"}}, "host.subdomain"),
        ({"host": {"kind": "custom_domain", "domain": "https://shop.example.com"}}, "host.domain"),
        ({"host": {"kind": "custom_domain", "domain": "localhost"}}, "host.domain"),
        ({"host": {"kind": "ftp"}}, "host.kind"),
        ({"template_id": "tpl_nope"}, "template_id"),
        ({"content": {"title": "", "main_offer": {}}}, "content.title"),
        ({"content": {"title": "T", "main_offer": "mug"}}, "content.main_offer"),
    ],
)
async def test_invalid_site_is_422(acme: Merchant, overrides: dict[str, Any], field: str) -> None:
    assert list(errors_of(await acme.post("/api/v1/sites", site_body(**overrides)))) == [field]


async def test_custom_domain_site_is_pending_dns_and_viewable_in_the_sandbox(acme: Merchant) -> None:
    host = {"kind": "custom_domain", "domain": "Shop.Example.com"}
    site = await acme.created("/api/v1/sites", site_body(host=host))
    assert site["host"] == {
        "kind": "custom_domain",
        "domain": "shop.example.com",
        "dns_status": "pending",
        "cname_target": "sites.127.0.0.1",
    }
    assert site["url"] == "https://shop.example.com/"
    published = (await acme.post(f"/api/v1/sites/{site['id']}/publish")).json()
    page = await acme.harness.http.get(path_of(published["view_url"]))
    assert page.status_code == 200
    assert f'content="{site["id"]}"' in page.text
    check = (await acme.get("/api/v1/hosts/domains/shop.example.com")).json()
    assert (check["available"], check["reason"]) == (False, "yours")


async def test_another_accounts_site_is_404(templates: Harness, acme: Merchant) -> None:
    site = await acme.created("/api/v1/sites", site_body())
    other = await templates.merchant("other.myshopify.com")
    assert (await other.get(f"/api/v1/sites/{site['id']}")).status_code == 404
    assert (await other.put(f"/api/v1/sites/{site['id']}", {"content": site["content"]})).status_code == 404
    assert (await other.post(f"/api/v1/sites/{site['id']}/publish")).status_code == 404
    assert (await other.get("/api/v1/sites")).json()["data"] == []


async def test_page_content_is_escaped(acme: Merchant) -> None:
    content = {**site_body()["content"], "title": "<script>alert(1)</script>"}
    site = await acme.created("/api/v1/sites", site_body(content=content))
    await acme.post(f"/api/v1/sites/{site['id']}/publish")
    page = (await acme.harness.http.get("/p/acme-mugs/")).text
    assert "<script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page

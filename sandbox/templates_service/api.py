"""The template service's merchant API: templates, hosts, sites and publishing, plus the
public routes that serve published pages and template previews.

API routes take the merchant's account token (JWT bearer grant). Sites belong to the
account whose token created them; another account's ids answer 404. Creating a site is
once per `external_id` and account (409 `conflict` with `existing_id`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from litestar import Request, Response, get, post, put
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.clock import iso
from sandbox.common.errors import ApiError, FieldError, json_object_body, not_found, validation_failed
from sandbox.common.pages import html_page
from sandbox.common.records import Fields, conflict, new_id, page_body
from sandbox.templates_service.catalogue import TEMPLATES, Template, preview_svg, template
from sandbox.templates_service.hosts import (
    availability,
    cname_target,
    domain_problem,
    holder_of,
    host_json,
    read_host,
    site_url,
    subdomain_problem,
    view_url,
)
from sandbox.templates_service.render import PAGE_HEADERS, VISITOR_COOKIE, babel_locale, render_site
from sandbox.templates_service.runtime import TemplatesSandbox
from sandbox.templates_service.state import Host, HostKind, Publication, Site

TEMPLATES_READ = "templates:read"
SITES_READ = "sites:read"
SITES_WRITE = "sites:write"
MAX_CONTENT_BYTES = 64 * 1024
MAX_UPSELLS = 10
CURRENCY = re.compile(r"\A[A-Z]{3}\Z")


def site_json(site: Site, public_base: str) -> dict[str, Any]:
    published = site.published
    return {
        "id": site.id,
        "external_id": site.external_id,
        "template_id": site.template_id,
        "host": host_json(site.host, public_base),
        "content": site.content,
        "status": site.status.value,
        "url": site_url(site.host, public_base),
        "view_url": view_url(site.host, public_base),
        "version": published.version if published is not None else 0,
        "published_at": iso(published.published_at) if published is not None else None,
        "unpublished_changes": site.unpublished_changes,
        "created_at": iso(site.created_at),
        "updated_at": iso(site.updated_at),
    }


def read_content(f: Fields) -> dict[str, Any] | None:
    """`content`: `title` (1..200), `headline` (<= 300), `main_offer` (object),
    `upsells` (list of objects, <= 10), `downsell` (object or null: shown when an upsell is
    declined), `crm_campaign_id` (string or null), `currency`
    (ISO 4217, optional), `locale` (a BCP 47 tag CLDR knows, optional); other keys are kept
    as sent."""
    c = f.nested("content")
    if c is None:
        return None
    title = c.text("title", max_length=200)
    headline = c.text("headline", max_length=300, min_length=0, default="")
    main_offer = c.body.get("main_offer")
    if main_offer is None:
        c.fail("main_offer", "This field is required.")
    elif not isinstance(main_offer, dict):
        c.fail("main_offer", "Must be an object.")
    upsells = c.body.get("upsells", [])
    if upsells is None:
        upsells = []
    if not isinstance(upsells, list) or not all(isinstance(u, dict) for u in upsells):
        c.fail("upsells", "Must be a list of objects.")
    elif len(upsells) > MAX_UPSELLS:
        c.fail("upsells", f"At most {MAX_UPSELLS} upsells.")
    downsell = c.body.get("downsell")
    if downsell is not None and not isinstance(downsell, dict):
        c.fail("downsell", "Must be an object or null.")
    campaign = c.optional_text("crm_campaign_id", max_length=64)
    currency = c.body.get("currency")
    if currency is not None and not (isinstance(currency, str) and CURRENCY.match(currency)):
        c.fail("currency", "Must be an ISO 4217 code such as USD.")
    locale = c.body.get("locale")
    if locale is not None and babel_locale(locale) is None:
        c.fail("locale", "Must be a locale such as en-US or de-DE.")
    if len(json.dumps(c.body)) > MAX_CONTENT_BYTES:
        f.fail("content", f"The content must be at most {MAX_CONTENT_BYTES // 1024} KB as JSON.")
    return {
        **c.body,
        "title": title,
        "headline": headline,
        "upsells": upsells,
        "crm_campaign_id": campaign,
    }


def read_template_id(f: Fields) -> str:
    template_id = f.text("template_id", max_length=64)
    if template_id and not f.failed("template_id") and template(template_id) is None:
        f.fail("template_id", "No template with this id: choose one from GET /api/v1/templates.")
    return template_id


def host_taken(host: Host, holder_site: str | None, owner_is_caller: bool) -> ApiError:
    what = "subdomain" if host.kind is HostKind.SUBDOMAIN else "domain"
    name = host.subdomain if host.kind is HostKind.SUBDOMAIN else host.domain
    body: dict[str, Any] = {
        "error": f"{what}_taken",
        "message": f"The {what} {name} is already used by "
        + ("another of your sites." if owner_is_caller else "someone else."),
        what: name,
    }
    if owner_is_caller:
        body["site_id"] = holder_site
    return ApiError(409, body)


def api_handlers(sandbox: TemplatesSandbox) -> list[ControllerRouterHandler]:
    def base() -> str:
        return sandbox.config.public_base

    # -- templates ----------------------------------------------------------------------------

    @get("/api/v1/templates")
    async def list_templates(request: Request[Any, Any, Any]) -> dict[str, Any]:
        sandbox.authenticate_member(request, TEMPLATES_READ)
        category = request.query_params.get("category")
        chosen = [t for t in TEMPLATES if category is None or t.category == category]
        return page_body(chosen, request, lambda t: t.as_json(base()))

    @get("/api/v1/templates/{template_id:str}")
    async def get_template(request: Request[Any, Any, Any], template_id: FromPath[str]) -> dict[str, Any]:
        sandbox.authenticate_member(request, TEMPLATES_READ)
        found = template(template_id)
        if found is None:
            raise not_found(f"No template {template_id}.")
        return found.as_json(base())

    # -- hosts --------------------------------------------------------------------------------

    @get("/api/v1/hosts/subdomains/{name:str}")
    async def check_subdomain(request: Request[Any, Any, Any], name: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, SITES_READ)
        problem = subdomain_problem(name)
        if problem is not None:
            raise validation_failed([FieldError("name", problem)])
        host = Host(HostKind.SUBDOMAIN, subdomain=name)
        return {
            "name": name,
            **availability(host, sandbox.state.sites.values(), owner),
            "url": site_url(host, base()),
        }

    @get("/api/v1/hosts/domains/{domain:str}")
    async def check_domain(request: Request[Any, Any, Any], domain: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, SITES_READ)
        domain = domain.lower().rstrip(".")
        problem = domain_problem(domain)
        if problem is not None:
            raise validation_failed([FieldError("domain", problem)])
        host = Host(HostKind.CUSTOM_DOMAIN, domain=domain)
        return {
            "domain": domain,
            **availability(host, sandbox.state.sites.values(), owner),
            "dns_status": "pending",
            "cname_target": cname_target(base()),
        }

    # -- sites --------------------------------------------------------------------------------

    def owned_site(owner: str, site_id: str) -> Site:
        site = sandbox.site(owner, site_id)
        if site is None:
            raise not_found(f"No site {site_id}.")
        return site

    def check_host_free(host: Host, owner: str, site_id: str | None) -> None:
        holder = holder_of(host, sandbox.state.sites.values(), except_site=site_id)
        if holder is not None:
            raise host_taken(host, holder.site_id, holder.owner_id == owner)

    @post("/api/v1/sites", status_code=201)
    async def create_site(request: Request[Any, Any, Any]) -> Response[Any]:
        owner = sandbox.authenticate_member(request, SITES_WRITE)
        f = Fields(await json_object_body(request, optional=False))
        external_id = f.text("external_id", max_length=255)
        template_id = read_template_id(f)
        host = read_host(f)
        content = read_content(f)
        f.raise_if_any()
        assert host is not None
        assert content is not None
        # No await from here to the insert: two creates cannot both take the name.
        existing = next(
            (s for s in sandbox.state.sites.values() if s.owner_id == owner and s.external_id == external_id),
            None,
        )
        if existing is not None:
            raise conflict("A site with this external_id already exists.", existing.id)
        check_host_free(host, owner, None)
        now = sandbox.now()
        site = Site(
            id=new_id("site"),
            seq=sandbox.take_seq(),
            owner_id=owner,
            external_id=external_id,
            template_id=template_id,
            host=host,
            content=content,
            created_at=now,
            updated_at=now,
        )
        sandbox.state.sites[site.id] = site
        await sandbox.save()
        return Response(content=site_json(site, base()), status_code=201)

    @get("/api/v1/sites")
    async def list_sites(request: Request[Any, Any, Any]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, SITES_READ)
        external_id = request.query_params.get("external_id")
        sites = [
            s
            for s in sandbox.state.sites.values()
            if s.owner_id == owner and (external_id is None or s.external_id == external_id)
        ]
        return page_body(sites, request, lambda s: site_json(s, base()))

    @get("/api/v1/sites/{site_id:str}")
    async def get_site(request: Request[Any, Any, Any], site_id: FromPath[str]) -> dict[str, Any]:
        owner = sandbox.authenticate_member(request, SITES_READ)
        return site_json(owned_site(owner, site_id), base())

    @put("/api/v1/sites/{site_id:str}")
    async def update_site(request: Request[Any, Any, Any], site_id: FromPath[str]) -> dict[str, Any]:
        """Any of `template_id`, `host`, `content` (each replaced whole); `external_id`, if
        sent, must be the site's own."""
        owner = sandbox.authenticate_member(request, SITES_WRITE)
        owned_site(owner, site_id)
        body = await json_object_body(request, optional=False)
        f = Fields(body)
        site = owned_site(owner, site_id)
        if not any(key in body for key in ("template_id", "host", "content")):
            f.fail("body", "Send at least one of template_id, host, content.")
        if "external_id" in body and body["external_id"] != site.external_id:
            f.fail("external_id", "A site's external_id cannot change.")
        template_id = read_template_id(f) if "template_id" in body else site.template_id
        host = read_host(f) if "host" in body else site.host
        content = read_content(f) if "content" in body else site.content
        f.raise_if_any()
        assert host is not None
        assert content is not None
        if host != site.host:
            check_host_free(host, owner, site.id)
        if (template_id, host, content) != (site.template_id, site.host, site.content):
            # A new host takes effect at once (the old one is released); template and
            # content changes go live at the next publish.
            site.template_id, site.host, site.content = template_id, host, content
            site.updated_at = sandbox.now()
            await sandbox.save()
        return site_json(site, base())

    @post("/api/v1/sites/{site_id:str}/publish", status_code=200)
    async def publish_site(request: Request[Any, Any, Any], site_id: FromPath[str]) -> dict[str, Any]:
        """Publishes the site as it is now. Unchanged since the last publish: the same
        version again (idempotent); changed: the next version."""
        owner = sandbox.authenticate_member(request, SITES_WRITE)
        site = owned_site(owner, site_id)
        fingerprint = site.fingerprint()
        previous = site.published
        if previous is None or previous.fingerprint != fingerprint:
            site.published = Publication(
                version=(previous.version if previous is not None else 0) + 1,
                template_id=site.template_id,
                content=json.loads(json.dumps(site.content)),
                fingerprint=fingerprint,
                published_at=sandbox.now(),
            )
            await sandbox.save()
        return site_json(site, base())

    @post("/api/v1/sites/{site_id:str}/unpublish", status_code=200)
    async def unpublish_site(request: Request[Any, Any, Any], site_id: FromPath[str]) -> dict[str, Any]:
        """Takes the site's page offline; it keeps its host, content and template, and publishing
        again brings it back. Unpublishing an unpublished site changes nothing."""
        owner = sandbox.authenticate_member(request, SITES_WRITE)
        site = owned_site(owner, site_id)
        if site.published is not None:
            site.published = None
            site.updated_at = sandbox.now()
            await sandbox.save()
        return site_json(site, base())

    return [
        list_templates,
        get_template,
        check_subdomain,
        check_domain,
        create_site,
        list_sites,
        get_site,
        update_site,
        publish_site,
        unpublish_site,
    ]


# -- public pages -----------------------------------------------------------------------------


def public_handlers(sandbox: TemplatesSandbox) -> list[ControllerRouterHandler]:
    def serve(host: Host, visitor: str | None = None) -> Response[Any]:
        site = next((s for s in sandbox.state.sites.values() if s.host == host), None)
        if site is None or site.published is None:
            return _not_published()
        t = template(site.published.template_id)
        assert t is not None  # the catalogue only grows
        return render_site(site, site.published, t, visitor)

    @get("/p/{subdomain:str}")
    async def subdomain_page(subdomain: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        return serve(Host(HostKind.SUBDOMAIN, subdomain=subdomain), request.cookies.get(VISITOR_COOKIE))

    @get("/d/{domain:str}")
    async def domain_page(domain: FromPath[str], request: Request[Any, Any, Any]) -> Response[Any]:
        return serve(
            Host(HostKind.CUSTOM_DOMAIN, domain=domain.lower().rstrip(".")),
            request.cookies.get(VISITOR_COOKIE),
        )

    @get("/previews/{name:str}")
    async def preview(name: FromPath[str]) -> Response[Any]:
        found: Template | None = template(name.removesuffix(".svg")) if name.endswith(".svg") else None
        if found is None:
            raise not_found(f"No preview {name}.")
        return Response(
            content=preview_svg(found),
            media_type="image/svg+xml",
            headers={
                "Cache-Control": "public, max-age=3600",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return [subdomain_page, domain_page, preview]


def _not_published() -> Response[Any]:
    body = "<h1>No site here yet</h1><p>This address has no published funnel page.</p>"
    return html_page("Not found", body, status_code=404, headers=PAGE_HEADERS)

"""Where sites live: subdomains of the service, or the merchant's own domain.

A subdomain site is served at `{public_url}/p/{subdomain}/`. A custom domain is accepted
as given (only its format is checked; lower-cased), reported with `dns_status: pending`
and the CNAME target `sites.{public host}`; the sandbox shows it at `/d/{domain}/`.
A host belongs to the site that has it: changing a site's host releases the old one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sandbox.common.records import Fields
from sandbox.templates_service.state import Host, HostKind, Site

SUBDOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?$")
DOMAIN_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
RESERVED_SUBDOMAINS = frozenset({"www", "admin", "api", "app", "shop"})
# Held by a seeded account of another merchant: never available to anyone here.
SEEDED_SUBDOMAINS = frozenset({"taken-shop", "demo"})
SEEDED_OWNER = "acc_seeded_other_merchant"


def subdomain_problem(name: str) -> str | None:
    if not SUBDOMAIN.match(name):
        return (
            "Use one character, or 3 to 63 lower-case letters, digits and hyphens that start "
            "and end with a letter or digit."
        )
    return None


def domain_problem(domain: str) -> str | None:
    if "://" in domain or domain.startswith("//"):
        return "Give the host name only, without http:// or https://."
    if any(c in domain for c in "/?#@: "):
        return "Give the host name only: no path, port, user or spaces."
    labels = domain.rstrip(".").split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(DOMAIN_LABEL.match(label) for label in labels):
        return "Must be a host name such as shop.example.com."
    if labels[-1].isdigit():
        return "Must be a host name, not an IP address."
    return None


def read_host(f: Fields, field: str = "host") -> Host | None:
    """The `host` object of a site request; errors go to `f`."""
    nested = f.nested(field)
    if nested is None:
        return None
    kind = nested.choice("kind", [k.value for k in HostKind])
    if kind == HostKind.SUBDOMAIN:
        name = nested.text("subdomain", max_length=63)
        if name and not nested.failed("subdomain"):
            problem = subdomain_problem(name)
            if problem is None and name in RESERVED_SUBDOMAINS:
                problem = f"“{name}” is reserved: choose another subdomain."
            if problem is not None:
                nested.fail("subdomain", problem)
        return Host(HostKind.SUBDOMAIN, subdomain=name)
    if kind == HostKind.CUSTOM_DOMAIN:
        domain = nested.text("domain", max_length=253).lower().rstrip(".")
        if domain and not nested.failed("domain"):
            problem = domain_problem(domain)
            if problem is not None:
                nested.fail("domain", problem)
        return Host(HostKind.CUSTOM_DOMAIN, domain=domain)
    return None


@dataclass(frozen=True)
class Holder:
    owner_id: str
    site_id: str | None  # None for seeded holds


def holder_of(host: Host, sites: Iterable[Site], *, except_site: str | None = None) -> Holder | None:
    """Who holds `host` now (a site, or a seeded account), other than `except_site`."""
    if host.kind is HostKind.SUBDOMAIN and host.subdomain in SEEDED_SUBDOMAINS:
        return Holder(SEEDED_OWNER, None)
    for site in sites:
        if site.id != except_site and site.host == host:
            return Holder(site.owner_id, site.id)
    return None


def availability(host: Host, sites: Iterable[Site], owner_id: str) -> dict[str, Any]:
    """`available`, a machine `reason` (null, `reserved`, `taken`, `yours`) and, when the
    caller's own site holds it, that `site_id`."""
    if host.kind is HostKind.SUBDOMAIN and host.subdomain in RESERVED_SUBDOMAINS:
        return {"available": False, "reason": "reserved", "site_id": None}
    holder = holder_of(host, sites)
    if holder is None:
        return {"available": True, "reason": None, "site_id": None}
    if holder.owner_id == owner_id:
        return {"available": False, "reason": "yours", "site_id": holder.site_id}
    return {"available": False, "reason": "taken", "site_id": None}


def cname_target(public_base: str) -> str:
    return f"sites.{urlsplit(public_base).hostname or 'localhost'}"


def host_json(host: Host, public_base: str) -> dict[str, Any]:
    if host.kind is HostKind.SUBDOMAIN:
        return {"kind": host.kind.value, "subdomain": host.subdomain}
    return {
        "kind": host.kind.value,
        "domain": host.domain,
        "dns_status": "pending",
        "cname_target": cname_target(public_base),
    }


def site_url(host: Host, public_base: str) -> str:
    """The address the real service would give the site."""
    if host.kind is HostKind.SUBDOMAIN:
        return f"{public_base}/p/{host.subdomain}/"
    return f"https://{host.domain}/"


def view_url(host: Host, public_base: str) -> str:
    """Where the sandbox serves the site now (for a custom domain, without DNS)."""
    if host.kind is HostKind.SUBDOMAIN:
        return f"{public_base}/p/{host.subdomain}/"
    return f"{public_base}/d/{host.domain}/"

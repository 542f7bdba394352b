"""What the template service sandbox keeps: OAuth tokens, merchant accounts and their sites.

The template catalogue is fixed (`sandbox.templates_service.catalogue`), not state. New
fields need defaults, so state files written before they existed keep loading.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from sandbox.common.directory import Directory
from sandbox.common.oauth import OAuthState

STATE_VERSION = 1


class HostKind(enum.StrEnum):
    SUBDOMAIN = "subdomain"
    CUSTOM_DOMAIN = "custom_domain"


class SiteStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


@dataclass
class Host:
    kind: HostKind
    subdomain: str | None = None  # kind == subdomain
    domain: str | None = None  # kind == custom_domain, lower case

    def as_input(self) -> dict[str, Any]:
        if self.kind is HostKind.SUBDOMAIN:
            return {"kind": self.kind.value, "subdomain": self.subdomain}
        return {"kind": self.kind.value, "domain": self.domain}


@dataclass
class Publication:
    """What went live: the template and content at publish time, and their version."""

    version: int
    template_id: str
    content: dict[str, Any]
    fingerprint: str  # of template, host and content: an unchanged site republishes as is
    published_at: float


@dataclass
class Site:
    id: str
    seq: int
    owner_id: str  # the account whose token created it
    external_id: str
    template_id: str
    host: Host
    content: dict[str, Any]
    created_at: float
    updated_at: float
    published: Publication | None = None

    def fingerprint(self) -> str:
        canonical = json.dumps(
            {"template_id": self.template_id, "host": self.host.as_input(), "content": self.content},
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def status(self) -> SiteStatus:
        return SiteStatus.DRAFT if self.published is None else SiteStatus.PUBLISHED

    @property
    def unpublished_changes(self) -> bool:
        return self.published is None or self.published.fingerprint != self.fingerprint()


@dataclass
class TemplatesState:
    version: int = STATE_VERSION
    oauth: OAuthState = field(default_factory=OAuthState)
    accounts: Directory = field(default_factory=Directory)
    sites: dict[str, Site] = field(default_factory=dict)
    next_seq: int = 1

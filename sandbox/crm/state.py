"""What the CRM sandbox keeps: OAuth tokens, IAM users and login links.

`version` guards the state file; new fields need defaults so older files still load.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from sandbox.common.clock import iso
from sandbox.common.directory import Directory
from sandbox.common.oauth import OAuthState

STATE_VERSION = 1


class LinkStatus(enum.StrEnum):
    ACTIVE = "active"
    USED = "used"
    EXPIRED = "expired"


@dataclass
class LoginLink:
    """A single-use sign-in link. Only the SHA-256 of its token is kept."""

    id: str
    token_hash: str
    client_id: str
    user_id: str
    redirect_path: str
    created_at: float
    expires_at: float
    used_at: float | None = None

    def status(self, now: float) -> LinkStatus:
        # A used link reads "used" even once expired: that is what the user did.
        if self.used_at is not None:
            return LinkStatus.USED
        return LinkStatus.EXPIRED if now >= self.expires_at else LinkStatus.ACTIVE

    def as_json(self, now: float) -> dict[str, Any]:
        """For the control API: status and times, never the token."""
        return {
            "id": self.id,
            "user_id": self.user_id,
            "redirect_path": self.redirect_path,
            "status": self.status(now).value,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "used_at": iso(self.used_at) if self.used_at is not None else None,
        }


@dataclass
class CrmState:
    version: int = STATE_VERSION
    oauth: OAuthState = field(default_factory=OAuthState)
    users: Directory = field(default_factory=Directory)
    # Keyed by the token's SHA-256.
    login_links: dict[str, LoginLink] = field(default_factory=dict)

"""The running CRM sandbox: users come from the shared directory, plus login links."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import ClassVar

from sandbox.common.directory import Directory, Member
from sandbox.common.members import MemberSandbox
from sandbox.common.oauth import hash_token
from sandbox.crm.config import CrmSandboxConfig
from sandbox.crm.state import STATE_VERSION, CrmState, LinkStatus, LoginLink

# Used and expired links stay listed this long in the control API, then go.
LINK_RETENTION = 24 * 3600


class SignIn(enum.Enum):
    SIGNED_IN = "signed_in"
    ALREADY_USED = "already_used"
    EXPIRED = "expired"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SignInResult:
    outcome: SignIn
    link: LoginLink | None = None
    user: Member | None = None


@dataclass(frozen=True)
class MintedLink:
    url: str  # holds the token: returned once to the caller, never stored or logged
    link: LoginLink


class CrmSandbox(MemberSandbox[CrmState]):
    STATE_VERSION: ClassVar[int] = STATE_VERSION
    config: CrmSandboxConfig

    def __init__(self, config: CrmSandboxConfig) -> None:
        super().__init__(config)

    def new_state(self) -> CrmState:
        return CrmState()

    def state_type(self) -> type[CrmState]:
        return CrmState

    def directory(self) -> Directory:
        return self.state.users

    # -- login links ------------------------------------------------------------------------

    def mint_login_link(self, *, client_id: str, user_id: str, redirect_path: str) -> MintedLink:
        now = self.now()
        self._prune_links(now)
        token = secrets.token_urlsafe(32)
        link = LoginLink(
            id="ll_" + secrets.token_hex(8),
            token_hash=hash_token(token),
            client_id=client_id,
            user_id=user_id,
            redirect_path=redirect_path,
            created_at=now,
            expires_at=now + self.config.login_link_ttl,
        )
        self.state.login_links[link.token_hash] = link
        return MintedLink(url=f"{self.config.public_base}/login/{token}", link=link)

    def consume_login_link(self, token: str) -> SignInResult:
        """Use a link once. Check and mark happen with no await between: single use holds."""
        link = self.state.login_links.get(hash_token(token))
        if link is None:
            return SignInResult(SignIn.UNKNOWN)
        now = self.now()
        status = link.status(now)
        if status is LinkStatus.USED:
            return SignInResult(SignIn.ALREADY_USED, link)
        if status is LinkStatus.EXPIRED:
            return SignInResult(SignIn.EXPIRED, link)
        user = self.state.users.get(link.user_id, link.client_id)
        if user is None:  # the user went away (reset) after the link was made
            return SignInResult(SignIn.UNKNOWN)
        link.used_at = now
        return SignInResult(SignIn.SIGNED_IN, link, user)

    def _prune_links(self, now: float) -> None:
        self.state.login_links = {
            h: link for h, link in self.state.login_links.items() if link.expires_at + LINK_RETENTION > now
        }

"""The running CRM sandbox: users come from the shared directory, plus login links, the
users' resources (products, campaigns, offers, payment processors) and screen sessions."""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from typing import ClassVar

from sandbox.common.directory import Directory, Member
from sandbox.common.members import MemberSandbox
from sandbox.common.oauth import hash_token
from sandbox.common.records import new_id
from sandbox.crm.config import CrmSandboxConfig
from sandbox.crm.state import (
    STATE_VERSION,
    Campaign,
    CrmSession,
    CrmState,
    LinkStatus,
    LoginLink,
    Offer,
    PaymentProcessor,
    ProcessorStatus,
    Product,
)

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

    # -- the users' resources ---------------------------------------------------------------

    def take_seq(self) -> int:
        seq = self.state.next_seq
        self.state.next_seq += 1
        return seq

    def product(self, owner_id: str, product_id: str) -> Product | None:
        product = self.state.products.get(product_id)
        return product if product is not None and product.owner_id == owner_id else None

    def campaign(self, owner_id: str, campaign_id: str) -> Campaign | None:
        campaign = self.state.campaigns.get(campaign_id)
        return campaign if campaign is not None and campaign.owner_id == owner_id else None

    def offer(self, campaign: Campaign, offer_id: str) -> Offer | None:
        offer = self.state.offers.get(offer_id)
        return offer if offer is not None and offer.campaign_id == campaign.id else None

    def processor(self, owner_id: str, processor_id: str) -> PaymentProcessor | None:
        processor = self.state.processors.get(processor_id)
        return processor if processor is not None and processor.owner_id == owner_id else None

    def add_processor(
        self, owner_id: str, *, name: str, kind: str, status: ProcessorStatus = ProcessorStatus.ACTIVE
    ) -> PaymentProcessor:
        processor = PaymentProcessor(
            id=new_id("pp"),
            seq=self.take_seq(),
            owner_id=owner_id,
            name=name,
            kind=kind,
            status=status,
            created_at=self.now(),
        )
        self.state.processors[processor.id] = processor
        return processor

    # -- screen sessions --------------------------------------------------------------------

    def open_session(self, link: LoginLink) -> str:
        """A session for the link's user; returns the cookie value (only its hash is kept)."""
        now = self.now()
        self.state.sessions = {h: s for h, s in self.state.sessions.items() if s.expires_at > now}
        cookie = secrets.token_urlsafe(32)
        session = CrmSession(
            token_hash=hash_token(cookie),
            client_id=link.client_id,
            user_id=link.user_id,
            csrf_token=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + self.config.session_ttl,
        )
        self.state.sessions[session.token_hash] = session
        return cookie

    def session_for(self, cookie: str | None) -> tuple[CrmSession, Member] | None:
        if not cookie:
            return None
        session = self.state.sessions.get(hash_token(cookie))
        if session is None or session.expires_at <= self.now():
            return None
        user = self.state.users.get(session.user_id, session.client_id)
        return (session, user) if user is not None else None

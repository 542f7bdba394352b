"""Members: the CRM's IAM users and the template service's merchant accounts.

Both services provision a merchant the same way (an external id, which is the shop
domain, an email, a name and the shop domain), answer a repeated external id with 409
and the existing id, and list members with cursor pagination. Each member belongs to the
client that created it; other clients cannot see it or get tokens for it.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from sandbox.common.clock import iso
from sandbox.common.errors import FieldError

SHOP_DOMAIN = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


@dataclass
class Member:
    id: str
    seq: int  # creation order; pages and cursors follow it
    client_id: str
    external_id: str
    email: str
    name: str
    shop_domain: str
    created_at: float

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "external_id": self.external_id,
            "email": self.email,
            "name": self.name,
            "shop_domain": self.shop_domain,
            "created_at": iso(self.created_at),
        }


@dataclass
class Directory:
    members: dict[str, Member] = field(default_factory=dict)
    next_seq: int = 1

    def get(self, member_id: str, client_id: str) -> Member | None:
        member = self.members.get(member_id)
        return member if member is not None and member.client_id == client_id else None

    def by_external_id(self, external_id: str, client_id: str) -> Member | None:
        for member in self.members.values():
            if member.client_id == client_id and member.external_id == external_id:
                return member
        return None

    def add(self, data: MemberInput, *, client_id: str, id_prefix: str, now: float) -> Member:
        member = Member(
            id=f"{id_prefix}_{secrets.token_hex(10)}",
            seq=self.next_seq,
            client_id=client_id,
            external_id=data.external_id,
            email=data.email,
            name=data.name,
            shop_domain=data.shop_domain,
            created_at=now,
        )
        self.next_seq += 1
        self.members[member.id] = member
        return member

    def page(
        self, *, client_id: str, external_id: str | None, limit: int, after: int
    ) -> tuple[list[Member], int | None]:
        """Members after the cursor's seq in creation order, and the next cursor's seq."""
        matching = sorted(
            (
                m
                for m in self.members.values()
                if m.client_id == client_id
                and m.seq > after
                and (external_id is None or m.external_id == external_id)
            ),
            key=lambda m: m.seq,
        )
        page = matching[:limit]
        more = len(matching) > limit
        return page, (page[-1].seq if more else None)


@dataclass(frozen=True)
class MemberInput:
    external_id: str
    email: str
    name: str
    shop_domain: str


def validate_member(body: dict[str, Any]) -> MemberInput | list[FieldError]:
    errors: list[FieldError] = []

    def text(name: str, max_length: int) -> str:
        value = body.get(name)
        if value is None:
            errors.append(FieldError(name, "This field is required."))
            return ""
        if not isinstance(value, str):
            errors.append(FieldError(name, "Must be a string."))
            return ""
        if not value.strip():
            errors.append(FieldError(name, "Must not be blank."))
        elif len(value) > max_length:
            errors.append(FieldError(name, f"Must be at most {max_length} characters."))
        return value.strip()

    external_id = text("external_id", 255)
    email = text("email", 254)
    name = text("name", 200)
    shop_domain = text("shop_domain", 255)
    if email and not any(e.field == "email" for e in errors) and not EMAIL.match(email):
        errors.append(FieldError("email", "Must be an email address."))
    if (
        shop_domain
        and not any(e.field == "shop_domain" for e in errors)
        and not SHOP_DOMAIN.match(shop_domain)
    ):
        errors.append(FieldError("shop_domain", "Must be a *.myshopify.com domain."))
    if errors:
        return errors
    return MemberInput(external_id, email, name, shop_domain)


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"after:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """The seq a cursor stands for; None if it is not one of ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    prefix, _, number = raw.partition(":")
    if prefix != "after" or not number.isdigit():
        return None
    return int(number)


def parse_page_args(limit: str | None, cursor: str | None) -> tuple[int, int] | list[FieldError]:
    """(limit, after-seq) from the query, or what is wrong with it."""
    errors: list[FieldError] = []
    size = DEFAULT_PAGE_SIZE
    if limit is not None:
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_PAGE_SIZE:
            errors.append(FieldError("limit", f"Must be an integer from 1 to {MAX_PAGE_SIZE}."))
        else:
            size = int(limit)
    after = 0
    if cursor:
        decoded = decode_cursor(cursor)
        if decoded is None:
            errors.append(FieldError("cursor", "Is not a cursor this API returned."))
        else:
            after = decoded
    return errors if errors else (size, after)

"""The provisioning API both services share, over a `Directory` of members.

`POST /api/v1/{resource}` (app token) creates; the same external id again is 409 with
the existing id, never a second member. `GET /api/v1/{resource}?external_id=&limit=&cursor=`
(app token) lists; `GET /api/v1/{resource}/{id}` (app token, or that member's own token).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any, TypeVar

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.types import ControllerRouterHandler

from sandbox.common.directory import Directory, encode_cursor, parse_page_args, validate_member
from sandbox.common.errors import (
    ApiError,
    forbidden,
    invalid_token,
    json_object_body,
    not_found,
    validation_failed,
)
from sandbox.common.oauth import TokenKind, TokenRecord
from sandbox.common.runtime import OAuthSandbox, SandboxState

S = TypeVar("S", bound=SandboxState)


class MemberSandbox(OAuthSandbox[S]):
    """A sandbox whose token subjects are the members of one directory."""

    @abstractmethod
    def directory(self) -> Directory: ...

    def subject_exists(self, client_id: str, subject: str) -> bool:
        return self.directory().get(subject, client_id) is not None

    def authenticate_member(self, request: Request[Any, Any, Any], scope: str) -> str:
        """A member's own token (JWT bearer grant) with `scope`: the id of the member, who
        owns whatever the request reads or writes. App tokens are refused (401)."""
        token: TokenRecord = self.authenticate(request, kinds=(TokenKind.USER,), scope=scope)
        subject = token.subject
        if subject is None or self.directory().get(subject, token.client_id) is None:
            raise invalid_token("The token's user no longer exists.", self.config.realm)
        return subject


@dataclass(frozen=True)
class MemberResource:
    resource: str  # "users", "accounts": the URL segment
    singular: str  # "user", "account": used in messages
    id_prefix: str  # "usr", "acc"
    read_scope: str
    write_scope: str


def member_handlers(sandbox: MemberSandbox[Any], spec: MemberResource) -> list[ControllerRouterHandler]:
    base = f"/api/v1/{spec.resource}"

    @post(base, status_code=201)
    async def create_member(request: Request[Any, Any, Any]) -> Response[Any]:
        token = sandbox.authenticate(request, kinds=(TokenKind.APP,), scope=spec.write_scope)
        data = validate_member(await json_object_body(request, optional=False))
        if isinstance(data, list):
            raise validation_failed(data)
        directory = sandbox.directory()
        # No await between the lookup and the insert: concurrent creates cannot both pass.
        existing = directory.by_external_id(data.external_id, token.client_id)
        if existing is not None:
            raise ApiError(
                409,
                {
                    "error": "conflict",
                    "message": f"A {spec.singular} with this external_id already exists.",
                    "existing_id": existing.id,
                },
            )
        member = directory.add(data, client_id=token.client_id, id_prefix=spec.id_prefix, now=sandbox.now())
        await sandbox.save()
        return Response(content=member.as_json(), status_code=201)

    @get(base)
    async def list_members(request: Request[Any, Any, Any]) -> dict[str, Any]:
        token = sandbox.authenticate(request, kinds=(TokenKind.APP,), scope=spec.read_scope)
        # Read by hand rather than as typed parameters: bad values answer the API's 422.
        query = request.query_params
        external_id = query.get("external_id")
        args = parse_page_args(query.get("limit"), query.get("cursor"))
        if isinstance(args, list):
            raise validation_failed(args)
        size, after = args
        members, next_seq = sandbox.directory().page(
            client_id=token.client_id, external_id=external_id, limit=size, after=after
        )
        return {
            "data": [m.as_json() for m in members],
            "next_cursor": encode_cursor(next_seq) if next_seq is not None else None,
        }

    @get(f"{base}/{{member_id:str}}")
    async def get_member(request: Request[Any, Any, Any], member_id: FromPath[str]) -> dict[str, Any]:
        token = sandbox.authenticate(request)
        if token.kind is TokenKind.APP:
            sandbox.require_scope(token, spec.read_scope)
        if token.kind is TokenKind.USER and token.subject != member_id:
            raise forbidden(f"A {spec.singular} token can only read its own {spec.singular}.")
        member = sandbox.directory().get(member_id, token.client_id)
        if member is None:
            raise not_found(f"No {spec.singular} {member_id}.")
        return member.as_json()

    return [create_member, list_members, get_member]

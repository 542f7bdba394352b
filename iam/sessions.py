"""Litestar session stores backed by tables: one for merchants, one for admins.

Sessions live in the app's database so every app process sees the same ones and
uninstalling a shop can end all of its sessions in one statement. A row is keyed by the
SHA-256 of the cookie's session id, never the id itself: a copy of the table signs no one in.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.csrf import generate_csrf_token
from litestar.middleware.session.server_side import ServerSideSessionBackend, ServerSideSessionConfig
from litestar.stores.base import Store
from litestar.types import Empty, Message, Scope, ScopeSession
from piccolo.table import Table

from iam.tables import AdminSession, MerchantSession
from lib.clock import utcnow

SESSION_SHOP_KEY = "shop"


def stored_key(session_id: str) -> str:
    """The row key of a session id: its SHA-256, so the table alone holds no usable cookie."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def _shop_of(value: bytes) -> str | None:
    try:
        data = json.loads(value)
    except ValueError:
        return None
    shop = data.get(SESSION_SHOP_KEY) if isinstance(data, dict) else None
    return shop if isinstance(shop, str) else None


class DatabaseSessionStore(Store):
    def __init__(self, table: type[MerchantSession] | type[AdminSession] = MerchantSession) -> None:
        self.table = table

    async def set(self, key: str, value: str | bytes, expires_in: int | timedelta | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        if isinstance(expires_in, int):
            expires_in = timedelta(seconds=expires_in)
        expires_at = utcnow() + expires_in if expires_in is not None else None
        table: type[Table] = self.table
        values: dict[str, Any] = {"key": stored_key(key), "data": data, "expires_at": expires_at}
        if table is MerchantSession:
            values["shop_domain"] = _shop_of(data)
        columns = [table._meta.get_column_by_name(name) for name in values if name != "key"]
        await table.insert(table(**values)).on_conflict(
            target=table._meta.get_column_by_name("key"), action="DO UPDATE", values=columns
        )

    async def get(self, key: str, renew_for: int | timedelta | None = None) -> bytes | None:
        row = (
            await self.table.select(self.table.data, self.table.expires_at)
            .where(self.table.key == stored_key(key))
            .first()
        )
        if row is None:
            return None
        if row["expires_at"] is not None and row["expires_at"] <= utcnow():
            await self.delete(key)
            return None
        if renew_for is not None:
            await self.set(key, row["data"], renew_for)
        return bytes(row["data"])

    async def delete(self, key: str) -> None:
        await self.table.delete().where(self.table.key == stored_key(key))

    async def delete_all(self) -> None:
        await self.table.delete(force=True)

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await self.table.select(self.table.expires_at).where(self.table.key == stored_key(key)).first()
        if row is None or row["expires_at"] is None:
            return None
        return max(0, int((row["expires_at"] - utcnow()).total_seconds()))


async def end_sessions_of_shop(shop_domain: str) -> int:
    deleted = (
        await MerchantSession.delete()
        .where(MerchantSession.shop_domain == shop_domain)
        .returning(MerchantSession.id)
    )
    return len(deleted)


ROTATE_SESSION = "rotate_session_id"


def rotate_session_id(scope: Scope) -> None:
    """Asks for a fresh session id in this response (sign-in): an id planted earlier is useless."""
    scope.setdefault("state", {})[ROTATE_SESSION] = True


def _renew_csrf_cookie(message: Message, connection: ASGIConnection[Any, Any, Any, Any]) -> None:
    """A new CSRF token with the new session (sign-in): a token known before it is useless after.

    Sign-ins answer with a redirect, so no page of this response holds the old token. A browser
    that brought no token gets a fresh one from the CSRF middleware in this same response.
    """
    csrf = connection.scope["app"].csrf_config
    if csrf is None or csrf.cookie_name not in connection.cookies:
        return
    cookie = Cookie(
        key=csrf.cookie_name,
        value=generate_csrf_token(secret=csrf.secret),
        path=csrf.cookie_path,
        secure=csrf.cookie_secure,
        httponly=csrf.cookie_httponly,
        samesite=csrf.cookie_samesite,
        domain=csrf.cookie_domain,
    )
    MutableScopeHeaders.from_message(message).add("Set-Cookie", cookie.to_header(header=""))


class RotatingSessionBackend(ServerSideSessionBackend):
    def get_session_id(self, connection: ASGIConnection[Any, Any, Any, Any]) -> str:
        state = connection.scope.setdefault("state", {})
        if not state.get(ROTATE_SESSION):
            return super().get_session_id(connection)
        if "rotated_session_id" not in state:
            state["rotated_session_id"] = self.generate_session_id()
        return str(state["rotated_session_id"])

    async def store_in_message(
        self, scope_session: ScopeSession, message: Message, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> None:
        previous = connection.cookies.get(self.config.key)
        had_session = bool(previous) and previous != "null"
        store = self.config.get_store_from_app(connection.scope["app"])
        rotating = bool(connection.scope.get("state", {}).get(ROTATE_SESSION))
        if rotating:
            _renew_csrf_cookie(message, connection)
        if rotating and had_session:
            await self.delete(str(previous), store=store)
        if scope_session is Empty or not scope_session:
            # Nothing to keep: no row and no cookie for a visitor who never signed in; a session
            # that was emptied (sign-out) loses its row and its cookie.
            if had_session:
                await self.delete(str(previous), store=store)
                cookie_params = {
                    name: getattr(self.config, name)
                    for name in ("path", "domain", "secure", "httponly", "samesite")
                    if getattr(self.config, name) is not None
                }
                ended = Cookie(value="null", key=self.config.key, expires=0, **cookie_params)
                MutableScopeHeaders.from_message(message).add("Set-Cookie", ended.to_header(header=""))
            return
        await super().store_in_message(scope_session, message, connection)


class RotatingSessionConfig(ServerSideSessionConfig):
    _backend_class = RotatingSessionBackend

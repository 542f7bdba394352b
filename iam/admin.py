"""Admin users: argon2id passwords, lockout after repeated failures, and the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from iam.tables import AdminUser, AuditEntry
from lib.clock import utcnow
from lib.db import write_transaction

MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 12
EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verifying against this when the email is unknown keeps both answers equally slow.
_UNKNOWN_USER_HASH = _hasher.hash("no such admin user")


class AdminError(ValueError):
    """The admin account cannot be made as asked; the message says why."""


async def create_admin(email: str, password: str) -> int:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise AdminError("that is not an email address")
    if len(password) < PASSWORD_MIN_LENGTH:
        raise AdminError(f"the password must be at least {PASSWORD_MIN_LENGTH} characters")
    if await AdminUser.exists().where(AdminUser.email == email):
        raise AdminError(f"an admin with the email {email} already exists")
    rows = await AdminUser.insert(AdminUser(email=email, password_hash=_hasher.hash(password))).returning(
        AdminUser.id
    )
    return int(rows[0]["id"])


@dataclass(frozen=True)
class LoginResult:
    admin_id: int | None
    locked_until: datetime | None = None


async def authenticate(email: str, password: str) -> LoginResult:
    """Checks the password; five failures in a row lock the account for 15 minutes."""
    email = email.strip().lower()
    async with write_transaction():
        admin = await AdminUser.select().where(AdminUser.email == email).first()
        if admin is None:
            _verify(_UNKNOWN_USER_HASH, password)
            return LoginResult(None)
        now = utcnow()
        if admin["locked_until"] is not None and admin["locked_until"] > now:
            return LoginResult(None, admin["locked_until"])
        if not _verify(admin["password_hash"], password):
            failures = admin["failed_logins"] + 1
            locked_until = now + LOCKOUT if failures >= MAX_FAILED_LOGINS else None
            await AdminUser.update(
                {
                    AdminUser.failed_logins: 0 if locked_until else failures,
                    AdminUser.locked_until: locked_until,
                }
            ).where(AdminUser.id == admin["id"])
            return LoginResult(None, locked_until)
        values: dict[Any, Any] = {
            AdminUser.failed_logins: 0,
            AdminUser.locked_until: None,
            AdminUser.last_login_at: now,
        }
        if _hasher.check_needs_rehash(admin["password_hash"]):
            values[AdminUser.password_hash] = _hasher.hash(password)
        await AdminUser.update(values).where(AdminUser.id == admin["id"])
        return LoginResult(int(admin["id"]))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def admin_email(admin_id: int) -> str | None:
    row = await AdminUser.select(AdminUser.email).where(AdminUser.id == admin_id).first()
    return str(row["email"]) if row else None


async def record_audit(
    actor: str, action: str, subject: str, before: dict[str, Any], after: dict[str, Any]
) -> None:
    await AuditEntry.insert(
        AuditEntry(actor=actor, action=action, subject=subject, before=before, after=after)
    )


async def audit_log(limit: int = 200) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = (
        await AuditEntry.select().order_by(AuditEntry.id, ascending=False).limit(limit).output(load_json=True)
    )
    return rows

"""Admin users: argon2id passwords, throttled sign-in, and the audit log."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from iam.tables import AdminSignInThrottle, AdminUser, AuditEntry
from lib.clock import utcnow
from lib.db import write_transaction

PASSWORD_MIN_LENGTH = 12
EMAIL = re.compile(r"\A[^@\s]+@[^@\s]+\.[^@\s]+\Z")

# The one hasher every password check goes through (tests count its verify calls).
password_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the email is unknown or the attempt is throttled, so every refusal
# costs one argon2 verification, as a real password check does: the timing tells nothing.
_DUMMY_HASH = password_hasher.hash("no such admin user")


@dataclass(frozen=True)
class Throttle:
    """After `free` failures in a row, each further failure makes the next attempt wait
    base**k seconds (k = failures beyond `free`, from 0), at most `cap`."""

    prefix: str
    free: int
    base: int
    cap: timedelta

    def wait(self, failures: int) -> timedelta:
        beyond = failures - self.free
        if beyond < 0:
            return timedelta(0)
        # Capped as whole seconds first, so a long run of failures cannot overflow a timedelta.
        return timedelta(seconds=min(self.base**beyond, int(self.cap.total_seconds())))


# Trade-off: the per-account delay guards one password against guesses spread over many
# addresses, but anyone who knows an admin's email can trigger it, so it must never become a
# lock: it grows slowly and stays short (at most a minute), and attempts refused during a wait
# neither count nor extend it. An attacker with many addresses thus slows guessing of one
# account to about one guess a minute, and can at worst keep the real admin waiting a minute
# at a time by failing once a minute. The per-source delay only hurts the source's own
# clients, so it grows faster and much longer: one address gets about ten free tries, then
# waits up to an hour.
ACCOUNT_THROTTLE = Throttle(prefix="account:", free=5, base=2, cap=timedelta(minutes=1))
SOURCE_THROTTLE = Throttle(prefix="source:", free=10, base=4, cap=timedelta(hours=1))
# Failures older than this are forgotten: the next one counts from the start again.
FORGET_FAILURES_AFTER = timedelta(hours=24)
# The Varchar columns' length; a longer email or address is cut, so a row always fits.
_KEY_VALUE_LENGTH = 255


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
    rows = await AdminUser.insert(
        AdminUser(email=email, password_hash=password_hasher.hash(password))
    ).returning(AdminUser.id)
    return int(rows[0]["id"])


@dataclass(frozen=True)
class LoginResult:
    admin_id: int | None
    throttled: bool = False  # for the server's log only: the person signing in is never told


async def authenticate(email: str, password: str, source: str) -> LoginResult:
    """Checks the password of a sign-in from `source` (the client address).

    Every attempt runs one argon2 verification, and every refusal looks the same to the
    caller, whether the email is unknown, the password wrong, or the attempt throttled. Failed
    and throttled attempts are written to the audit log.
    """
    email = email.strip().lower()
    keys = [
        ACCOUNT_THROTTLE.prefix + email[:_KEY_VALUE_LENGTH],
        SOURCE_THROTTLE.prefix + source[:_KEY_VALUE_LENGTH],
    ]
    actor = email[:_KEY_VALUE_LENGTH]
    async with write_transaction():
        now = utcnow()
        throttles = await _throttle_rows(keys)
        waits_until = max(
            (row["next_allowed_at"] for row in throttles.values() if row["next_allowed_at"] is not None),
            default=None,
        )
        admin = await AdminUser.select().where(AdminUser.email == email).first()
        if waits_until is not None and waits_until > now:
            # Refused unchecked, even with the right password, so guessing during a wait gains
            # nothing; it neither counts as a failure nor extends the wait.
            _verify(_DUMMY_HASH, password)
            await record_audit(
                actor,
                "admin.login_throttled",
                actor,
                {},
                {"source": source, "until": waits_until.isoformat()},
            )
            return LoginResult(None, throttled=True)
        right = _verify(admin["password_hash"] if admin else _DUMMY_HASH, password)
        if admin is None or not right:
            await _count_failure(throttles[keys[0]], ACCOUNT_THROTTLE, now)
            await _count_failure(throttles[keys[1]], SOURCE_THROTTLE, now)
            await record_audit(actor, "admin.login_failed", actor, {}, {"source": source})
            return LoginResult(None)
        await AdminSignInThrottle.delete().where(AdminSignInThrottle.key.is_in(keys))
        values: dict[Any, Any] = {AdminUser.last_login_at: now}
        if password_hasher.check_needs_rehash(admin["password_hash"]):
            values[AdminUser.password_hash] = password_hasher.hash(password)
        await AdminUser.update(values).where(AdminUser.id == admin["id"])
        return LoginResult(int(admin["id"]))


async def _throttle_rows(keys: list[str]) -> dict[str, dict[str, Any]]:
    """The throttle rows of `keys`, made if missing and locked until the transaction ends, so
    concurrent attempts on one account or source are counted one after the other."""
    await AdminSignInThrottle.insert(*(AdminSignInThrottle(key=key) for key in keys)).on_conflict(
        target=AdminSignInThrottle.key, action="DO NOTHING"
    )
    query = AdminSignInThrottle.select().where(AdminSignInThrottle.key.is_in(keys))
    if AdminSignInThrottle._meta.db.engine_type != "sqlite":  # SQLite's BEGIN IMMEDIATE already serialises
        query = query.lock_rows()
    rows: list[dict[str, Any]] = await query
    return {row["key"]: row for row in rows}


async def _count_failure(row: dict[str, Any], throttle: Throttle, now: datetime) -> None:
    recent = row["last_failure_at"] is not None and now - row["last_failure_at"] < FORGET_FAILURES_AFTER
    failures = (row["failures"] if recent else 0) + 1
    wait = throttle.wait(failures)
    await AdminSignInThrottle.update(
        {
            AdminSignInThrottle.failures: failures,
            AdminSignInThrottle.last_failure_at: now,
            AdminSignInThrottle.next_allowed_at: now + wait if wait else None,
        }
    ).where(AdminSignInThrottle.id == row["id"])


def _verify(password_hash: str, password: str) -> bool:
    try:
        return password_hasher.verify(password_hash, password)
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

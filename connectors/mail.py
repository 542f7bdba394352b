"""Sending email through SMTP (aiosmtplib): the alerts' one way out.

`SMTP_URL` says where: `smtp://[user:password@]host[:port]` (STARTTLS when the server offers
it, port 587 by default) or `smtps://…` (TLS from the start, port 465). Empty: no email is
sent, and the alerts say so in the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from connectors.errors import ExternalServiceError

SYSTEM = "Email"


@dataclass(frozen=True)
class Mailer:
    url: str  # SMTP_URL; "" when email is not configured
    sender: str
    timeout_seconds: float = 10.0

    @property
    def configured(self) -> bool:
        return bool(self.url)

    async def send(self, to: list[str], subject: str, text: str, *, message_id: str) -> None:
        """Sends one plain-text message. `message_id` is stable for one digest, so a repeat
        after a failure between sending and recording it is recognisable as the same mail."""
        parts = urlsplit(self.url)
        implicit_tls = parts.scheme == "smtps"
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(to)
        message["Subject"] = subject
        message["Message-ID"] = message_id
        message.set_content(text)
        try:
            await aiosmtplib.send(
                message,
                hostname=parts.hostname or "localhost",
                port=parts.port or (465 if implicit_tls else 587),
                username=unquote(parts.username) if parts.username else None,
                password=unquote(parts.password) if parts.password else None,
                use_tls=implicit_tls,
                timeout=self.timeout_seconds,
            )
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise ExternalServiceError(SYSTEM, f"sending failed: {type(exc).__name__}: {exc}") from exc

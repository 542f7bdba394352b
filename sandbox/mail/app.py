"""`create_mail_sandbox(config)`: a local SMTP server (aiosmtpd) as a Litestar app.

SMTP on `config.smtp_port` (started and stopped in the app's lifespan, in its event loop):
every message is accepted and kept, newest first, as a mail catcher does; a recipient in the
reserved `.invalid` domain is refused (550), as a real server refuses an unknown domain. Over HTTP:
`GET /` lists what was received (the page a developer reads), `GET /messages/{id}` shows one,
`GET /_sandbox/messages` gives them as JSON (tests), `POST /_sandbox/reset` forgets them,
`GET /healthz`. No authentication: it is for development and tests on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import escape
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from litestar import Litestar, Response, get, post
from litestar.datastructures import State
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from sandbox.common.app import health_handler
from sandbox.common.pages import html_page, table

STATE_KEY = "mail_sandbox"
MAX_KEPT = 1000


@dataclass(frozen=True)
class MailSandboxConfig:
    host: str = "127.0.0.1"
    # 0: any free port; `MailSandbox.smtp_port` says which once started.
    smtp_port: int = 0


@dataclass(frozen=True)
class ReceivedMail:
    id: int
    received_at: datetime
    mail_from: str
    rcpt_tos: tuple[str, ...]
    subject: str
    message_id: str
    text: str
    raw: bytes = field(repr=False)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "receivedAt": self.received_at.isoformat(),
            "from": self.mail_from,
            "to": list(self.rcpt_tos),
            "subject": self.subject,
            "messageId": self.message_id,
            "text": self.text,
        }


def _text_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""


class MailSandbox:
    def __init__(self, config: MailSandboxConfig) -> None:
        self.config = config
        self.received: deque[ReceivedMail] = deque(maxlen=MAX_KEPT)
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.smtp_port: int | None = None

    # aiosmtpd's handler hooks. RCPT: an address in the reserved `.invalid` domain (RFC 2606)
    # cannot exist, and a real server refuses it as it refuses an unknown domain.
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower().rstrip(">").endswith(".invalid"):
            return "550 5.1.2 Bad destination mailbox address: no such domain"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    # DATA: called once per message.
    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        raw_bytes = raw if isinstance(raw, bytes) else raw.encode()
        message = message_from_bytes(raw_bytes, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.appendleft(
            ReceivedMail(
                id=next(self._ids),
                received_at=datetime.now(UTC),
                mail_from=str(envelope.mail_from),
                rcpt_tos=tuple(envelope.rcpt_tos),
                subject=str(message.get("Subject", "")),
                message_id=str(message.get("Message-ID", "")),
                text=_text_of(message),
                raw=raw_bytes,
            )
        )
        return "250 Message accepted for delivery"

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(self, hostname="mail-sandbox.local"), self.config.host, self.config.smtp_port
        )
        self.smtp_port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    def find(self, mail_id: int) -> ReceivedMail:
        for mail in self.received:
            if mail.id == mail_id:
                return mail
        raise NotFoundException(detail=f"No message {mail_id}")


def create_mail_sandbox(config: MailSandboxConfig | None = None) -> Litestar:
    sandbox = MailSandbox(config or MailSandboxConfig())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        await sandbox.start()
        try:
            yield
        finally:
            await sandbox.stop()

    @get("/")
    async def inbox() -> Response[Any]:
        rows = [
            [
                mail.received_at.strftime("%Y-%m-%d %H:%M:%S"),
                ", ".join(mail.rcpt_tos),
                mail.subject,
            ]
            for mail in sandbox.received
        ]
        links = "".join(
            f'<li><a href="/messages/{mail.id}">{escape(mail.subject or "(no subject)")}</a></li>'
            for mail in sandbox.received
        )
        body = (
            "<h1>Mail sandbox</h1>"
            f'<p class="muted">SMTP on {escape(sandbox.config.host)}:{sandbox.smtp_port}; '
            f"{len(sandbox.received)} message(s) received, newest first.</p>"
            + table(["Received (UTC)", "To", "Subject"], rows, "Nothing received yet.")
            + (f"<h2>Open a message</h2><ul>{links}</ul>" if links else "")
        )
        return html_page("Mail sandbox", body)

    @get("/messages/{mail_id:int}")
    async def one_message(mail_id: FromPath[int]) -> Response[Any]:
        mail = sandbox.find(mail_id)
        body = (
            f'<p><a href="/">All messages</a></p><h1>{escape(mail.subject or "(no subject)")}</h1>'
            f"<p>From {escape(mail.mail_from)} to {escape(', '.join(mail.rcpt_tos))}<br>"
            f'<span class="muted">{escape(mail.received_at.isoformat())} · '
            f"{escape(mail.message_id)}</span></p>"
            f'<pre style="white-space:pre-wrap">{escape(mail.text)}</pre>'
        )
        return html_page(mail.subject or "Message", body)

    @get("/_sandbox/messages")
    async def messages_json() -> dict[str, Any]:
        return {"messages": [mail.as_json() for mail in sandbox.received], "smtpPort": sandbox.smtp_port}

    @post("/_sandbox/reset", status_code=200)
    async def reset() -> dict[str, str]:
        sandbox.received.clear()
        return {"status": "reset"}

    return Litestar(
        route_handlers=[inbox, one_message, messages_json, reset, health_handler("mail")],
        lifespan=[lifespan],
        state=State({STATE_KEY: sandbox}),
        openapi_config=None,
        logging_config=None,
    )


def mail_sandbox_of(app: Litestar) -> MailSandbox:
    """The running sandbox behind an app made by create_mail_sandbox (for tests)."""
    sandbox = app.state[STATE_KEY]
    assert isinstance(sandbox, MailSandbox)
    return sandbox

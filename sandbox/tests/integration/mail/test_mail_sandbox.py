"""The mail sandbox takes SMTP and lists what it received, as a page and as JSON."""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator
from email.message import EmailMessage

import aiosmtplib
import pytest
from litestar import Litestar

from sandbox.mail import create_mail_sandbox, mail_sandbox_of
from sandbox.tests.asgi_support import asgi_client, lifespan_of


@pytest.fixture
async def mail_app() -> AsyncIterator[Litestar]:
    app = create_mail_sandbox()
    async with lifespan_of(app):
        yield app


async def send(app: Litestar, subject: str, to: str = "merchant@shop.test") -> None:
    message = EmailMessage()
    message["From"] = "alerts@app.test"
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = "<one@app.test>"
    message.set_content("Your sync keeps failing.\n<b>not markup</b>")
    port = mail_sandbox_of(app).smtp_port
    assert port is not None
    await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False)


async def test_a_message_sent_over_smtp_is_listed_as_json_and_on_the_page(mail_app: Litestar) -> None:
    await send(mail_app, "Sync alert")
    async with asgi_client(mail_app, "http://mail.test") as client:
        listed = (await client.get("/_sandbox/messages")).json()["messages"]
        assert [(m["subject"], m["to"], m["messageId"]) for m in listed] == [
            ("Sync alert", ["merchant@shop.test"], "<one@app.test>")
        ]
        assert "Your sync keeps failing." in listed[0]["text"]
        page = await client.get("/")
        assert page.status_code == 200
        assert "Sync alert" in page.text
        assert "merchant@shop.test" in page.text
        one = await client.get(f"/messages/{listed[0]['id']}")
        assert "&lt;b&gt;not markup&lt;/b&gt;" in one.text  # shown as text, never as HTML


async def test_reset_forgets_what_was_received(mail_app: Litestar) -> None:
    await send(mail_app, "First")
    async with asgi_client(mail_app, "http://mail.test") as client:
        assert (await client.post("/_sandbox/reset")).status_code == 200
        assert (await client.get("/_sandbox/messages")).json()["messages"] == []
        assert "Nothing received yet" in (await client.get("/")).text


async def test_a_recipient_in_a_domain_that_cannot_exist_is_refused(mail_app: Litestar) -> None:
    with pytest.raises(aiosmtplib.SMTPRecipientsRefused):
        await send(mail_app, "Nowhere", to="owner@gone.invalid")
    assert mail_sandbox_of(mail_app).received == deque()

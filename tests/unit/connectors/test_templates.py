"""The page service's live-page fetch (connectors/templates.py, the publish saga's last check):
only the service's own origin, and no redirect followed."""

from __future__ import annotations

import httpx
import pytest
from joserfc.jwk import ECKey

from connectors.errors import Rejected
from connectors.templates import TemplatesClient

SERVICE = "http://templates.test"


def client_answering(requested: list[str]) -> TemplatesClient:
    def answer(request: httpx.Request) -> httpx.Response:
        requested.append(str(request.url))
        if request.url.host != "templates.test":
            return httpx.Response(200, text="elsewhere")
        if request.url.path == "/p/moved/":
            return httpx.Response(302, headers={"location": "http://169.254.169.254/latest/meta-data/"})
        return httpx.Response(200, text="the funnel page")

    return TemplatesClient(
        base_url=SERVICE,
        client_id="app",
        client_secret="secret",
        signing_key=ECKey.generate_key("P-256"),
        transport=httpx.MockTransport(answer),
    )


async def test_the_page_on_the_service_is_fetched() -> None:
    requested: list[str] = []
    assert await client_answering(requested).fetch_page(f"{SERVICE}/p/shop/") == (200, "the funnel page")
    assert requested == [f"{SERVICE}/p/shop/"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://templates.test/p/shop/",
        "http://templates.test:8080/p/shop/",
        "http://templates.test.evil.example/p/shop/",
        "not a url at all",
    ],
)
async def test_an_address_off_the_service_is_not_fetched(url: str) -> None:
    requested: list[str] = []
    with pytest.raises(Rejected):
        await client_answering(requested).fetch_page(url)
    assert requested == []


async def test_a_redirect_is_not_followed() -> None:
    requested: list[str] = []
    status, _ = await client_answering(requested).fetch_page(f"{SERVICE}/p/moved/")
    assert status == 302
    assert requested == [f"{SERVICE}/p/moved/"]

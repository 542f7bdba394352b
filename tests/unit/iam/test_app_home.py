"""Which requests are app-home requests, and the package's answers adapted only where Shopify's
stand-ins run (iam/app_home.py)."""

from __future__ import annotations

import pytest
from shopify_app import Res

from iam.app_home import SHOPIFY_ADMIN_ORIGIN, SHOPIFY_APP_BRIDGE_URL, for_here, is_app_home_request

PATCH_PAGE = Res(
    status=200,
    body=f'<script data-api-key="key" src="{SHOPIFY_APP_BRIDGE_URL}"></script>',
    headers={
        "Content-Type": "text/html",
        "Link": f'<{SHOPIFY_APP_BRIDGE_URL}>; rel="preload"; as="script";',
        "Content-Security-Policy": "frame-ancestors https://demo.myshopify.com https://admin.shopify.com;",
    },
)


def test_with_shopifys_own_settings_the_packages_answer_is_returned_untouched() -> None:
    assert for_here(PATCH_PAGE, SHOPIFY_APP_BRIDGE_URL, SHOPIFY_ADMIN_ORIGIN) is PATCH_PAGE


def test_with_the_sandboxs_stand_ins_app_bridge_and_the_admin_origin_are_theirs() -> None:
    here = for_here(PATCH_PAGE, "http://127.0.0.1:8101/cdn/app-bridge.js", "http://127.0.0.1:8101")
    assert here.body == '<script data-api-key="key" src="http://127.0.0.1:8101/cdn/app-bridge.js"></script>'
    assert here.headers["Content-Security-Policy"] == (
        "frame-ancestors https://demo.myshopify.com http://127.0.0.1:8101;"
    )
    assert here.headers["Link"] == '<http://127.0.0.1:8101/cdn/app-bridge.js>; rel="preload"; as="script"'
    assert here.status == 200


@pytest.mark.parametrize(
    ("headers", "query", "embedded"),
    [
        ({"authorization": "Bearer x"}, {}, True),
        ({}, {"id_token": "x"}, True),
        ({}, {"embedded": "1"}, True),
        ({"sec-fetch-dest": "iframe"}, {}, True),
        ({"sec-fetch-dest": "document"}, {"shop": "demo.myshopify.com"}, False),
        ({}, {}, False),
    ],
)
def test_a_request_is_the_app_homes_when_it_comes_from_inside_the_admins_iframe(
    headers: dict[str, str], query: dict[str, str], embedded: bool
) -> None:
    assert is_app_home_request(headers, query) is embedded

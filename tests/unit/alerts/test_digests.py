"""Digest periods and the link that re-authorises: pure parts of alerts/digests.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from alerts.digests import AlertConfig, period_start, reauthorise_url
from connectors.mail import Mailer
from iam.tables import ShopConnection

CONFIG = AlertConfig(Mailer("", ""), "https://app.test", "https://admin.shopify.com")


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),  # noqa: DTZ001 - hypothesis takes naive bounds
    st.sampled_from([timedelta(minutes=5), timedelta(hours=1), timedelta(days=1)]),
)
def test_a_moment_lies_in_the_period_that_starts_at_its_period_start(
    now: datetime, interval: timedelta
) -> None:
    start = period_start(now, interval)
    assert start <= now < start + interval
    assert period_start(start, interval) == start


def test_the_reauthorise_link_opens_the_app_in_the_shop_s_admin_or_the_token_form() -> None:
    assert (
        reauthorise_url(CONFIG, "demo-store.myshopify.com", ShopConnection.OAUTH)
        == "https://admin.shopify.com/store/demo-store/apps/funnelsync"
    )
    assert reauthorise_url(CONFIG, "demo-store.myshopify.com", ShopConnection.ACCESS_TOKEN) == (
        "https://app.test/connect/"
    )

"""The beacon token and what makes two events one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from analytics.beacon import Signed, event_key, is_bot, read_token, sign_token
from analytics.tables import EventKind

KEY = b"k" * 32
AT = datetime(2026, 12, 1, 10, tzinfo=UTC)


@given(st.text(min_size=1, max_size=60), st.integers(min_value=1, max_value=2**31), st.text(max_size=20))
def test_a_signed_token_reads_back_as_signed(shop: str, funnel_id: int, variant: str) -> None:
    assert read_token(KEY, sign_token(KEY, shop, funnel_id, variant)) == Signed(shop, funnel_id, variant)


def test_a_token_under_another_key_or_edited_reads_as_nothing() -> None:
    token = sign_token(KEY, "a.myshopify.com", 1)
    payload, mac = token.split(".")
    other_payload = sign_token(KEY, "b.myshopify.com", 1).split(".")[0]

    assert read_token(b"x" * 32, token) is None
    assert read_token(KEY, f"{other_payload}.{mac}") is None  # another shop under this signature
    assert read_token(KEY, payload) is None
    assert read_token(KEY, "not-a-token") is None


def test_crawlers_and_agentless_requests_are_bots_browsers_are_not() -> None:
    assert is_bot("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert is_bot("facebookexternalhit/1.1")
    assert is_bot("")
    assert not is_bot(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148"
    )


def test_views_within_the_reload_window_share_a_key_accepts_are_their_event_id() -> None:
    view = event_key(1, EventKind.PAGE_VIEW, "v1", "", "e1", AT, 1800)
    assert view == event_key(1, EventKind.PAGE_VIEW, "v1", "", "e2", AT + timedelta(minutes=10), 1800)
    assert view != event_key(1, EventKind.PAGE_VIEW, "v1", "", "e1", AT + timedelta(minutes=40), 1800)
    assert view != event_key(2, EventKind.PAGE_VIEW, "v1", "", "e1", AT, 1800)
    accept = event_key(1, EventKind.OFFER_ACCEPT, "v1", "41", "e1", AT, 1800)
    assert accept == event_key(1, EventKind.OFFER_ACCEPT, "v1", "41", "e1", AT + timedelta(days=1), 1800)
    assert accept != event_key(1, EventKind.OFFER_ACCEPT, "v1", "41", "e2", AT, 1800)

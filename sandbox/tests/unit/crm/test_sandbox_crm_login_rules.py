"""CRM rules that need no server: link lifetime cap, link status, redirect paths."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.crm.app import validate_redirect_path
from sandbox.crm.config import CrmSandboxConfig
from sandbox.crm.state import LinkStatus, LoginLink


@pytest.mark.parametrize("ttl", [0, 61, 3600])
def test_login_link_lifetime_above_60_seconds_is_refused(ttl: int) -> None:
    with pytest.raises(ValueError, match="login_link_ttl"):
        CrmSandboxConfig(login_link_ttl=ttl)


def make_link(used_at: float | None = None) -> LoginLink:
    return LoginLink("ll_1", "hash", "client", "usr_1", "/", 100.0, 160.0, used_at)


def test_link_is_active_until_its_expiry_instant() -> None:
    assert make_link().status(159.9) is LinkStatus.ACTIVE
    assert make_link().status(160.0) is LinkStatus.EXPIRED


def test_used_link_reads_used_even_after_expiry() -> None:
    assert make_link(used_at=120.0).status(500.0) is LinkStatus.USED


def test_link_json_never_holds_the_token_hash() -> None:
    assert "hash" not in make_link().as_json(100.0).values()


@pytest.mark.parametrize("path", ["/", "/settings/payment-processors", "/a?b=c#d"])
def test_paths_on_the_crm_are_accepted(path: str) -> None:
    assert validate_redirect_path(path) == path


def test_missing_redirect_path_means_the_home_page() -> None:
    assert validate_redirect_path(None) == "/"


@given(st.text(max_size=80))
def test_accepted_paths_never_leave_the_crm(path: str) -> None:
    result = validate_redirect_path(path)
    if isinstance(result, str):
        assert result.startswith("/")
        assert not result.startswith("//")
        assert "\\" not in result
        assert all(ord(c) >= 0x20 for c in result)

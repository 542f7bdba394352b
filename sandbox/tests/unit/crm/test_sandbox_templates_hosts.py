"""Template-service host rules: subdomain and domain formats, who holds a host."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sandbox.templates_service.hosts import (
    RESERVED_SUBDOMAINS,
    availability,
    cname_target,
    domain_problem,
    subdomain_problem,
)
from sandbox.templates_service.state import Host, HostKind, Site

CONTRACT = re.compile(r"^[a-z0-9](?:[a-z0-9-]{1,61}[a-z0-9])?$")


@given(st.text(alphabet="abcXYZ019-_.", max_size=70))
def test_subdomain_rule_is_exactly_the_documented_pattern(name: str) -> None:
    assert (subdomain_problem(name) is None) == bool(CONTRACT.match(name))


@pytest.mark.parametrize("domain", ["shop.example.com", "a.b", "xn--bcher-kva.example"])
def test_host_names_with_a_dot_are_custom_domains(domain: str) -> None:
    assert domain_problem(domain) is None


@pytest.mark.parametrize(
    "domain",
    ["https://shop.example.com", "shop.example.com/path", "localhost", "shop.example.com:8443", "-a.example",
     "127.0.0.1", "a..example"],
)  # fmt: skip
def test_malformed_custom_domains_say_why(domain: str) -> None:
    assert domain_problem(domain) is not None


def site(site_id: str, owner: str, subdomain: str) -> Site:
    return Site(
        site_id, 1, owner, "e", "tpl_minimal", Host(HostKind.SUBDOMAIN, subdomain=subdomain), {}, 0, 0
    )


def test_availability_reasons() -> None:
    sites = [site("site_1", "acc_me", "mine"), site("site_2", "acc_other", "theirs")]

    def check(name: str) -> tuple[object, object]:
        answer = availability(Host(HostKind.SUBDOMAIN, subdomain=name), sites, "acc_me")
        return answer["available"], answer["reason"]

    assert check("mine") == (False, "yours")
    assert check("theirs") == (False, "taken")
    assert check("demo") == (False, "taken")
    assert check("free") == (True, None)
    assert all(check(name) == (False, "reserved") for name in RESERVED_SUBDOMAINS)


def test_cname_target_is_under_the_public_host() -> None:
    assert cname_target("https://templates.example.com:8443") == "sites.templates.example.com"

"""lib.paths.local_path: only a path of this app passes, whatever else a query can hold."""

from __future__ import annotations

import pytest

from lib.paths import local_path


@pytest.mark.parametrize("path", ["/funnels/7/review", "/billing/?outcome=active", "/app/"])
def test_a_path_of_ours_passes_as_it_is(path: str) -> None:
    assert local_path(path) == path


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "funnels/7/review",  # relative
        "https://evil.test/",
        "//evil.test/",
        "/\\evil.test/",
        "\\\\evil.test",
        "/\tevil",  # browsers drop tabs and newlines: "/\t/evil" would become "//evil"
        "/\t/evil.test",
        "/x\r\nSet-Cookie: a=b",
        "javascript:alert(1)",
        "/review#top",
        "/" + "a" * 600,
    ],
)
def test_anything_a_browser_could_read_as_another_site_is_refused(value: str | None) -> None:
    assert local_path(value) is None

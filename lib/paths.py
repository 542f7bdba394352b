"""Paths the app may send a merchant back to (`then` after billing): ours, never another site's.

A path comes from a query string or a form, so anyone can write one. Only an absolute path on
our own origin passes; anything a browser could read as another host (`//evil`, `/\\evil`,
`https://…`, control characters that browsers strip) is refused, not repaired.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LENGTH = 512


def local_path(value: str | None) -> str | None:
    """`value` when it is a path of this app (with its query, without a fragment), else None."""
    if not value or len(value) > MAX_LENGTH or not value.startswith("/"):
        return None
    if (
        value.startswith("//")
        or "\\" in value
        or any(ord(char) < 0x21 or ord(char) == 0x7F for char in value)
    ):
        return None
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or parts.fragment or not parts.path.startswith("/"):
        return None
    return value

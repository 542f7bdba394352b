"""Security headers on every answer, pages and errors alike."""

from __future__ import annotations

import httpx


async def test_security_headers_on_pages_and_errors(client: httpx.AsyncClient) -> None:
    for path in ("/", "/missing"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"

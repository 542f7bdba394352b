"""Typed async clients for the external systems, one httpx.AsyncClient each."""

"""Calls made with a token someone else keeps: the one retry a refused token earns.

The clients here speak HTTP and are told which token to send; where tokens are stored,
how they are refreshed and who may hold them is the identity layer's business. It hands
the bound clients a `TokenSource`, and this module holds the policy they share.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from connectors.errors import Unauthorized

P = ParamSpec("P")
T = TypeVar("T")


class TokenSource(Protocol):
    """The token to send now. Told the token the service just refused, it answers a fresh
    one (or the one another caller already put in its place), never the refused one again."""

    def __call__(self, *, refused_token: str | None = None) -> Awaitable[str]: ...


async def with_token(
    tokens: TokenSource, call: Callable[Concatenate[str, P], Awaitable[T]], *args: P.args, **kwargs: P.kwargs
) -> T:
    """Runs `call(token, ...)`; when the service answers 401, once more with a fresh token.

    A 401 means the request was not carried out, so sending it again is safe; a second 401
    is not a stale token but a revoked grant or a wrong secret, and goes to the caller.
    """
    token = await tokens()
    try:
        return await call(token, *args, **kwargs)
    except Unauthorized:
        fresh = await tokens(refused_token=token)
    return await call(fresh, *args, **kwargs)

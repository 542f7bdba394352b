"""GraphQL errors the Admin API raises from resolvers, worded as Shopify words them."""

from __future__ import annotations

from graphql import GraphQLError

from sandbox.shopify.models import gid_kind, parse_gid


def access_denied(field: str, scope: str) -> GraphQLError:
    return GraphQLError(
        f"Access denied for {field} field. Required access: `{scope}` access scope.",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": f"`{scope}` access scope.",
        },
    )


def invalid_id(value: str) -> GraphQLError:
    return GraphQLError(f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"})


def numeric_id(value: str, kind: str) -> int | None:
    """The id in a global id of `kind`; a string that is no global id at all is an error."""
    if gid_kind(value) is None:
        raise invalid_id(value)
    return parse_gid(value, kind)

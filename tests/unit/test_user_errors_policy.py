"""One policy for Shopify's userErrors: connectors/shopify.py turns them into UserErrors, and no
other product module reads them (a caller that needs a particular refusal catches UserErrors)."""

from __future__ import annotations

import ast

from tests.support.environment import PROJECT_DIR
from tests.support.source import LAYERS, modules_of

THE_ONE_PLACE = PROJECT_DIR / "connectors" / "shopify.py"


def reads_user_errors(tree: ast.AST) -> bool:
    """A `"userErrors"` key anywhere (GraphQL documents only name the field inside a query)."""
    return any(isinstance(node, ast.Constant) and node.value == "userErrors" for node in ast.walk(tree))


def test_only_the_shopify_connector_reads_user_errors() -> None:
    readers = {
        str(path.relative_to(PROJECT_DIR))
        for package in LAYERS
        for path in modules_of(package)
        if reads_user_errors(ast.parse(path.read_text(), filename=str(path)))
    }
    assert readers == {str(THE_ONE_PLACE.relative_to(PROJECT_DIR))}

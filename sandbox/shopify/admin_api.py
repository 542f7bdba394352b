"""`POST /shops/{shop}/admin/api/{version}/graphql.json`: the Admin GraphQL endpoint.

Order of checks, as Shopify answers them: unknown version or shop (404), injected
faults, access token (401), request body (400), GraphQL syntax and validation (200 with
`errors`), single-query cost limit, the shop's bucket (THROTTLED), then execution, the
refund of unused cost, webhooks for what changed, and saving the state.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSyntaxError,
    OperationType,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from litestar import Request, Response, post
from litestar.params import FromPath

from sandbox.shopify.bucket import LeakyBucket
from sandbox.shopify.config import SUPPORTED_API_VERSIONS
from sandbox.shopify.cost import actual_cost, requested_cost
from sandbox.shopify.faults import FaultKind, PathKind
from sandbox.shopify.resolvers import Root
from sandbox.shopify.runtime import RequestContext, SandboxDep
from sandbox.shopify.schema import resolve_field, resolve_type

MAX_QUERY_COST = 1000
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"


def json_response(
    body: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response[bytes]:
    return Response(
        content=json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode(),
        status_code=status_code,
        media_type="application/json; charset=utf-8",
        headers=headers,
    )


def cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": bucket.status().as_json(),
        }
    }


def internal_error_body(request_id: str) -> dict[str, Any]:
    return {
        "errors": [
            {
                "message": "Internal error. Looks like something went wrong on our end.\n"
                f"Request ID: {request_id} (include this in support requests).",
                "extensions": {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
            }
        ]
    }


def max_cost_message(cost: int) -> str:
    # Shopify's wording, so an app that matches on it behaves the same here.
    return (
        f"Query cost is {cost}, which exceeds the single query max cost limit "
        f"({MAX_QUERY_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how "
        "the\ncost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used "
        "instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api "
        "for usage details.\n"
    )


def _read_body(raw: bytes, content_type: str) -> tuple[str, dict[str, Any] | None, str | None]:
    """Query, variables and operation name from a JSON or application/graphql body."""
    if content_type.startswith("application/graphql"):
        return raw.decode("utf-8", errors="replace"), None, None
    payload = json.loads(raw)
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        raise ValueError("query missing")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        raise ValueError("variables must be an object")
    operation_name = payload.get("operationName")
    return payload["query"], variables, operation_name if isinstance(operation_name, str) else None


def _mutation_counter(ctx: RequestContext) -> Callable[..., Any]:
    """resolve_field, also counting each top-level mutation as applied or refused (the
    control API's `/writes`), whatever the client selected of its payload."""

    def resolve(source: Any, info: GraphQLResolveInfo[Any], **args: Any) -> Any:
        value = resolve_field(source, info, **args)
        if info.path.prev is None:
            ctx.record_mutation(info.field_name, value)
        return value

    return resolve


def errors_response(
    errors: list[GraphQLError], code: str, bucket: LeakyBucket, headers: dict[str, str]
) -> Response[bytes]:
    """A request refused before execution: HTTP 200, `errors`, nothing charged."""
    formatted = []
    for error in errors:
        item = error.formatted
        item.setdefault("extensions", {"code": code})
        formatted.append(item)
    return json_response({"errors": formatted, "extensions": cost_extension(0, 0, bucket)}, 200, headers)


@post("/shops/{shop_domain:str}/admin/api/{api_version:str}/graphql.json", status_code=200)
async def admin_graphql(
    shop_domain: FromPath[str],
    api_version: FromPath[str],
    request: Request[Any, Any, Any],
    sandbox: SandboxDep,
) -> Response[bytes]:
    request_id = str(uuid.uuid4())
    headers = {"X-Request-Id": request_id, "X-Shopify-API-Version": api_version}
    shop = sandbox.store.shop(shop_domain)
    if api_version not in SUPPORTED_API_VERSIONS or shop is None:
        return json_response({"errors": "Not Found"}, 404, headers)

    fault = sandbox.faults.take(
        shop.domain, PathKind.GRAPHQL, (FaultKind.HTTP_500, FaultKind.TIMEOUT, FaultKind.THROTTLE)
    )
    if fault is not None and fault.kind is FaultKind.HTTP_500:
        return json_response(internal_error_body(request_id), 500, headers)
    if fault is not None and fault.kind is FaultKind.TIMEOUT:
        await sandbox.config.fault_sleep(fault.seconds)  # the server stalls; the client gives up
    bucket = sandbox.bucket(shop)
    if fault is not None and fault.kind is FaultKind.THROTTLE:
        bucket.drain()

    # Unknown, revoked and expired tokens all get the same answer, as on Shopify.
    token = sandbox.oauth.authenticate(shop, request.headers.get("x-shopify-access-token", ""))
    if token is None:
        return json_response({"errors": INVALID_TOKEN}, 401, headers)

    try:
        query, variables, operation_name = _read_body(
            await request.body(), request.headers.get("content-type", "application/json")
        )
    except (ValueError, UnicodeDecodeError):
        return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers)

    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        return errors_response([exc], "GRAPHQL_PARSE_FAILED", bucket, headers)
    validation_errors = validate(sandbox.schema, document)
    if validation_errors:
        return errors_response(validation_errors, "GRAPHQL_VALIDATION_FAILED", bucket, headers)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = (
            f'Unknown operation named "{operation_name}".'
            if operation_name
            else "An operation name is required"
        )
        return errors_response([GraphQLError(message)], "BAD_REQUEST", bucket, headers)
    if operation.operation is OperationType.SUBSCRIPTION:
        return errors_response(
            [GraphQLError("Subscriptions are not supported")], "BAD_REQUEST", bucket, headers
        )

    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    requested = requested_cost(sandbox.schema, operation, fragments, variables)
    if requested > MAX_QUERY_COST:
        error = {
            "message": max_cost_message(requested),
            "extensions": {
                "code": "MAX_COST_EXCEEDED",
                "cost": requested,
                "maxCost": MAX_QUERY_COST,
            },
        }
        return json_response(
            {"errors": [error], "extensions": cost_extension(requested, None, bucket)}, 200, headers
        )
    if not bucket.try_take(requested):
        throttled = {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
        }
        return json_response(
            {"errors": [throttled], "extensions": cost_extension(requested, None, bucket)},
            200,
            headers,
        )

    ctx = RequestContext(
        sandbox=sandbox, shop=shop, scopes=frozenset(token.scopes), api_version=api_version, token=token
    )
    result: ExecutionResult = execute_sync(
        sandbox.schema,
        document,
        root_value=Root(ctx),
        context_value=ctx,
        variable_values=variables,
        operation_name=operation_name,
        field_resolver=(
            _mutation_counter(ctx) if operation.operation is OperationType.MUTATION else resolve_field
        ),
        type_resolver=resolve_type,
    )
    actual = actual_cost(sandbox.schema, operation, fragments, variables, result.data)
    actual = min(actual, requested)
    bucket.refund(requested - actual)

    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [e.formatted for e in result.errors]
    body["data"] = result.data
    body["extensions"] = cost_extension(requested, actual, bucket)

    for topic, payload in ctx.events:
        sandbox.emit(shop, topic, payload)
    if ctx.changed:
        await sandbox.save()
    mutations = (
        [field.name.value for field in operation.selection_set.selections if isinstance(field, FieldNode)]
        if operation.operation is OperationType.MUTATION
        else []
    )
    lost = sandbox.faults.take(shop.domain, PathKind.GRAPHQL, (FaultKind.LOST_ANSWER,), mutations)
    if lost is not None:
        await sandbox.config.fault_sleep(lost.seconds)  # applied; the answer comes too late
    return json_response(body, 200, headers)

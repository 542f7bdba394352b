"""Bulk query operations: `bulkOperationRunQuery`, the JSONL result and `bulk_operations/finish`.

As on Shopify: the query must have exactly one top-level connection (not `node`/`nodes`),
at most five connections, nested at most two deep, and the node holding a nested
connection must select `id`. `first` (and the other paging arguments) are ignored inside
a bulk query: every record is returned. The result is JSON Lines: one line per node, a
nested connection's nodes on lines of their own after their parent's line, carrying the
parent's id as `__parentId` (the connection fields are left out of the parent's line).
Since 2026-01 a node's lines come right after it only with `groupObjects: true`; by default
each batch's lines are written level by level (its top-level nodes, then their children,
...), so a child is after its parent but rarely next to it, as in Shopify's ungrouped files.

The query runs in a background task, 250 root objects at a time through the normal
resolvers (scopes apply: a missing one fails the operation with ACCESS_DENIED), each
batch appended to the result file as it is produced. The operation completes no sooner
than `config.bulk_operation_duration` after it was created, then `bulk_operations/finish`
goes to the shop's subscriptions and the file is served at
`{public_url}/_sandbox/bulk/{id}.jsonl` (the stand-in for Shopify's signed storage URL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    execute_sync,
    get_named_type,
    is_interface_type,
    is_object_type,
    parse,
    validate,
    visit,
)

from sandbox.shopify.models import BulkOperation, Shop, gid, utcnow
from sandbox.shopify.pagination import unbounded_pages
from sandbox.shopify.payloads import bulk_operation_finish_payload
from sandbox.shopify.schema import resolve_field, resolve_type

if TYPE_CHECKING:
    from sandbox.shopify.runtime import RequestContext, ShopifySandbox

logger = logging.getLogger("sandbox.shopify.bulk")

TOPIC = "bulk_operations/finish"
BATCH_SIZE = 250
MAX_CONNECTIONS = 5
# Connections in one chain: products > variants is fine, a third level is refused.
MAX_NESTING = 2
PAGING_ARGUMENTS = frozenset({"first", "last", "after", "before"})
ACTIVE_STATUSES = frozenset({"CREATED", "RUNNING", "CANCELING"})
_PAGE_INFO_KEY = "_bulkPageInfo"
IN_PROGRESS = "A bulk query operation for this app and shop is already in progress"


class BulkQueryError(Exception):
    """A bulk query Shopify refuses: the message becomes a userError on `query`."""


class _Canceled(Exception):
    """bulkOperationCancel asked the running operation to stop."""


# -- the query plan -------------------------------------------------------------------


@dataclass
class NodePlan:
    """What to take out of one node (or object inside it): the connections below it."""

    connections: dict[str, ConnectionPlan] = field(default_factory=dict)
    # Response keys of object fields with connections further down.
    objects: dict[str, NodePlan] = field(default_factory=dict)
    selects_id: bool = False

    def merge(self, other: NodePlan) -> None:
        self.connections.update(other.connections)
        for key, sub in other.objects.items():
            if key in self.objects:
                self.objects[key].merge(sub)
            else:
                self.objects[key] = sub
        self.selects_id = self.selects_id or other.selects_id


@dataclass
class ConnectionPlan:
    name: str
    # Response keys: `edges` aliases with their `node` aliases, and `nodes` aliases.
    edges: dict[str, list[str]] = field(default_factory=dict)
    nodes: list[str] = field(default_factory=list)
    child: NodePlan = field(default_factory=NodePlan)


@dataclass
class BulkQuery:
    """A validated bulk query, ready to run batch by batch."""

    # Without paging arguments on any connection (see _strip_paging).
    document: DocumentNode
    operation_index: int
    top_index: int
    top_key: str
    plan: ConnectionPlan

    def batch(self, cursor: str | None) -> DocumentNode:
        """The document asking for the next BATCH_SIZE root objects after `cursor`, with
        the root connection's pageInfo under a private key."""
        operation = self.document.definitions[self.operation_index]
        assert isinstance(operation, OperationDefinitionNode)
        top = operation.selection_set.selections[self.top_index]
        assert isinstance(top, FieldNode)
        assert top.selection_set is not None
        arguments = [
            *(top.arguments or ()),
            ArgumentNode(name=NameNode(value="first"), value=IntValueNode(value=str(BATCH_SIZE))),
        ]
        if cursor is not None:
            arguments.append(ArgumentNode(name=NameNode(value="after"), value=StringValueNode(value=cursor)))
        selections = (*top.selection_set.selections, *_PAGE_INFO.selection_set.selections)
        top = replace(
            top, arguments=tuple(arguments), selection_set=replace(top.selection_set, selections=selections)
        )
        root_selections = list(operation.selection_set.selections)
        root_selections[self.top_index] = top
        operation = replace(
            operation, selection_set=replace(operation.selection_set, selections=tuple(root_selections))
        )
        definitions = list(self.document.definitions)
        definitions[self.operation_index] = operation
        return replace(self.document, definitions=tuple(definitions))


def _page_info_operation() -> OperationDefinitionNode:
    operation = parse(f"{{ {_PAGE_INFO_KEY}: pageInfo {{ hasNextPage endCursor }} }}").definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    return operation


_PAGE_INFO = _page_info_operation()


def _strip_paging(schema: GraphQLSchema, document: DocumentNode) -> DocumentNode:
    """Every connection without first/last/after/before: a bulk query returns every
    record whatever the query says, as Shopify ignores `first` in bulk queries."""
    type_info = TypeInfo(schema)

    class Strip(Visitor):
        def leave_field(self, node: FieldNode, *_args: Any) -> FieldNode | None:
            named = get_named_type(type_info.get_type())
            if named is None or not _is_connection(named):
                return None
            kept = tuple(a for a in node.arguments or () if a.name.value not in PAGING_ARGUMENTS)
            return replace(node, arguments=kept)

    stripped = visit(document, TypeInfoVisitor(type_info, Strip()))
    assert isinstance(stripped, DocumentNode)
    return stripped


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _is_connection(named: Any) -> bool:
    return is_object_type(named) and str(named.name).endswith("Connection")


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.schema = schema
        self.fragments = fragments
        self.connections = 0

    def node_plan(self, selection_set: SelectionSetNode | None, parent: Any, depth: int) -> NodePlan:
        plan = NodePlan()
        if selection_set is None:
            return plan
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                self._field(plan, selection, parent, depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = self.schema.get_type(condition.name.value) if condition else parent
                plan.merge(self.node_plan(selection.selection_set, target, depth))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value)
                    plan.merge(self.node_plan(fragment.selection_set, target, depth))
        return plan

    def _field(self, plan: NodePlan, node: FieldNode, parent: Any, depth: int) -> None:
        name = node.name.value
        if name == "id" and (node.alias is None or node.alias.value == "id"):
            plan.selects_id = True
        if not (is_object_type(parent) or is_interface_type(parent)):
            return
        definition = parent.fields.get(name)
        if definition is None:
            return
        named = get_named_type(definition.type)
        if _is_connection(named):
            plan.connections[_key(node)] = self.connection_plan(node, named, depth + 1)
        elif node.selection_set is not None:
            sub = self.node_plan(node.selection_set, named, depth)
            if sub.connections or sub.objects:
                plan.objects[_key(node)] = sub

    def connection_plan(self, node: FieldNode, connection: Any, depth: int) -> ConnectionPlan:
        self.connections += 1
        if depth > MAX_NESTING:
            raise BulkQueryError(
                f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_NESTING}."
            )
        plan = ConnectionPlan(node.name.value)
        item_type = get_named_type(connection.fields["nodes"].type)
        for selection in self._fields(node.selection_set, connection):
            if selection.name.value == "nodes":
                plan.nodes.append(_key(selection))
                child = self.node_plan(selection.selection_set, item_type, depth)
                self._check_ids(child)
                plan.child.merge(child)
            elif selection.name.value == "edges":
                edge_type = get_named_type(connection.fields["edges"].type)
                node_keys = plan.edges.setdefault(_key(selection), [])
                for inner in self._fields(selection.selection_set, edge_type):
                    if inner.name.value == "node":
                        node_keys.append(_key(inner))
                        child = self.node_plan(inner.selection_set, item_type, depth)
                        self._check_ids(child)
                        plan.child.merge(child)
        return plan

    def _fields(self, selection_set: SelectionSetNode | None, parent: Any) -> Iterator[FieldNode]:
        """The fields of a selection set, through fragments."""
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                yield selection
            elif isinstance(selection, InlineFragmentNode):
                yield from self._fields(selection.selection_set, parent)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    yield from self._fields(fragment.selection_set, parent)

    @staticmethod
    def _check_ids(plan: NodePlan) -> None:
        nested = list(plan.connections) + [k for k, sub in plan.objects.items() if _has_connections(sub)]
        if nested and not plan.selects_id:
            raise BulkQueryError(
                "The parent 'node' field for a nested connection must select the 'id' field without "
                "an alias and must be of 'ID' return type. Connection fields without 'id': "
                + ", ".join(nested)
                + "."
            )


def _has_connections(plan: NodePlan) -> bool:
    return bool(plan.connections) or any(_has_connections(sub) for sub in plan.objects.values())


def plan_bulk_query(schema: GraphQLSchema, query: str) -> BulkQuery:
    """Parse and check a bulk query; raises BulkQueryError with Shopify's message."""
    try:
        document = parse(query)
    except GraphQLSyntaxError as exc:
        raise BulkQueryError(f"Invalid bulk query: {exc.message}") from exc
    errors = validate(schema, document)
    if errors:
        raise BulkQueryError(f"Invalid bulk query: {errors[0].message}")
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        raise BulkQueryError("Invalid bulk query: a bulk query must hold exactly one query operation.")
    operation = operations[0]
    if operation.variable_definitions:
        raise BulkQueryError("Invalid bulk query: bulk queries cannot use variables.")
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    planner = _Planner(schema, fragments)
    top = [
        s
        for s in operation.selection_set.selections
        if not (isinstance(s, FieldNode) and s.name.value == "__typename")
    ]
    if not all(isinstance(s, FieldNode) for s in top):
        raise BulkQueryError("Invalid bulk query: the top-level connection must be selected directly.")
    top_fields = [s for s in top if isinstance(s, FieldNode)]
    if any(s.name.value in ("node", "nodes") for s in top_fields):
        raise BulkQueryError("Bulk queries cannot contain a top-level `node` or `nodes` field.")
    root = schema.query_type
    assert root is not None
    connections = [
        s
        for s in top_fields
        if s.name.value in root.fields and _is_connection(get_named_type(root.fields[s.name.value].type))
    ]
    if not connections:
        raise BulkQueryError("Bulk queries must contain at least one connection.")
    if len(top_fields) != 1:
        raise BulkQueryError("Bulk queries must contain exactly one top-level field: a connection.")
    top_field = connections[0]
    named = get_named_type(root.fields[top_field.name.value].type)
    plan = planner.connection_plan(top_field, named, 1)
    if planner.connections > MAX_CONNECTIONS:
        raise BulkQueryError(f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections.")
    stripped = _strip_paging(schema, document)
    return BulkQuery(
        document=stripped,
        operation_index=document.definitions.index(operation),
        top_index=list(operation.selection_set.selections).index(top_field),
        top_key=_key(top_field),
        plan=plan,
    )


# -- flattening -----------------------------------------------------------------------


def _connection_nodes(value: object, plan: ConnectionPlan) -> Iterator[dict[str, Any]]:
    if not isinstance(value, Mapping):
        return
    seen = False
    for edges_key, node_keys in plan.edges.items():
        for edge in value.get(edges_key) or ():
            for node_key in node_keys:
                node = edge.get(node_key) if isinstance(edge, Mapping) else None
                if isinstance(node, dict):
                    seen = True
                    yield node
    if seen:
        return
    for nodes_key in plan.nodes:
        for node in value.get(nodes_key) or ():
            if isinstance(node, dict):
                yield node


def _strip(obj: dict[str, Any], plan: NodePlan) -> tuple[dict[str, Any], list[tuple[object, ConnectionPlan]]]:
    """A copy of `obj` without its connections, and the connections taken out."""
    line = dict(obj)
    taken: list[tuple[object, ConnectionPlan]] = []
    for key, connection in plan.connections.items():
        if key in line:
            taken.append((line.pop(key), connection))
    for key, sub in plan.objects.items():
        value = line.get(key)
        if isinstance(value, dict):
            line[key], more = _strip(value, sub)
            taken += more
        elif isinstance(value, list):
            stripped = []
            for item in value:
                if isinstance(item, dict):
                    item, more = _strip(item, sub)
                    taken += more
                stripped.append(item)
            line[key] = stripped
    return line, taken


def flatten(value: object, plan: ConnectionPlan, parent_id: str | None = None) -> Iterator[dict[str, Any]]:
    """JSONL lines for a connection's nodes: each node, then its nested nodes."""
    for node in _connection_nodes(value, plan):
        line, children = _strip(node, plan.child)
        if parent_id is not None:
            line["__parentId"] = parent_id
        yield line
        own_id = node.get("id")
        for child_value, child_plan in children:
            yield from flatten(child_value, child_plan, own_id if isinstance(own_id, str) else None)


def ungrouped(lines: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """A batch's lines without `groupObjects`: each nesting level after the one above it."""
    depth: dict[str, int] = {}
    levels: list[list[dict[str, Any]]] = []
    for line in lines:
        parent = line.get("__parentId")
        level = 0 if parent is None else depth.get(str(parent), 0) + 1
        own_id = line.get("id")
        if isinstance(own_id, str):
            depth[own_id] = level
        while len(levels) <= level:
            levels.append([])
        levels[level].append(line)
    return [line for level in levels for line in level]


def encode_line(line: Mapping[str, Any]) -> bytes:
    return json.dumps(line, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


# -- running --------------------------------------------------------------------------


def _error_code(errors: list[GraphQLError]) -> str:
    codes = {(e.extensions or {}).get("code") for e in errors}
    return "ACCESS_DENIED" if "ACCESS_DENIED" in codes else "INTERNAL_SERVER_ERROR"


class BulkOperations:
    """Runs the bulk operations of every shop and keeps their result files."""

    def __init__(self, sandbox: ShopifySandbox) -> None:
        self._sandbox = sandbox
        self._tasks: dict[int, asyncio.Task[None]] = {}
        # Set by bulkOperationCancel; the run stops at its next batch or wait.
        self._cancel_requests: dict[int, asyncio.Event] = {}
        self._dir: Path | None = None
        self._own_dir = False

    # -- files ----------------------------------------------------------------------

    def directory(self) -> Path:
        if self._dir is None:
            config = self._sandbox.config
            if config.bulk_dir is not None:
                self._dir = config.bulk_dir
            elif config.state_file is not None:
                self._dir = config.state_file.parent / "shopify-bulk"
            else:
                self._dir = Path(tempfile.mkdtemp(prefix="shopify-sandbox-bulk-"))
                self._own_dir = True
            self._dir.mkdir(parents=True, exist_ok=True)
        return self._dir

    def path(self, operation_id: int) -> Path:
        return self.directory() / f"{operation_id}.jsonl"

    def url(self, operation_id: int) -> str:
        return f"{self._sandbox.config.public_base}/_sandbox/bulk/{operation_id}.jsonl"

    # -- lifecycle ------------------------------------------------------------------

    def recover(self) -> None:
        """After a restart from a state file nothing is running any more: fail what was."""
        for shop in self._sandbox.store.shops.values():
            for operation in shop.bulk_operations.values():
                if operation.status in ACTIVE_STATUSES:
                    operation.status, operation.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
                    operation.completed_at = utcnow()

    async def _cancel_all(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._cancel_requests.clear()

    async def stop(self) -> None:
        await self._cancel_all()
        if self._own_dir and self._dir is not None:
            await asyncio.to_thread(shutil.rmtree, self._dir, True)
            self._dir, self._own_dir = None, False

    async def reset(self) -> None:
        await self._cancel_all()
        if self._dir is not None and self._dir.exists():
            for path in self._dir.glob("*.jsonl"):
                path.unlink(missing_ok=True)

    # -- operations -----------------------------------------------------------------

    def current(self, shop: Shop, kind: str = "QUERY") -> BulkOperation | None:
        operations = [o for o in shop.bulk_operations.values() if o.type == kind]
        return max(operations, key=lambda o: o.id) if operations else None

    def running(self, shop: Shop) -> BulkOperation | None:
        return next(
            (o for o in shop.bulk_operations.values() if o.type == "QUERY" and o.status in ACTIVE_STATUSES),
            None,
        )

    def start(
        self,
        ctx: RequestContext,
        query: str,
        plan: BulkQuery,
        root_factory: Callable[[Any], object],
        *,
        group_objects: bool = False,
    ) -> BulkOperation:
        operation = BulkOperation(
            id=self._sandbox.store.allocate_id(), status="CREATED", query=query, created_at=utcnow()
        )
        ctx.shop.bulk_operations[operation.id] = operation
        self._cancel_requests[operation.id] = asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self._run(ctx, operation, plan, root_factory, group_objects), name=f"shopify-bulk-{operation.id}"
        )
        self._tasks[operation.id] = task
        task.add_done_callback(lambda _t: self._finished(operation.id))
        return operation

    def _finished(self, operation_id: int) -> None:
        self._tasks.pop(operation_id, None)
        self._cancel_requests.pop(operation_id, None)

    def cancel(self, operation: BulkOperation) -> None:
        """CANCELING now; CANCELED (and `bulk_operations/finish`) once the run has stopped."""
        operation.status = "CANCELING"
        request = self._cancel_requests.get(operation.id)
        if request is not None:
            request.set()

    def _check_cancel(self, operation: BulkOperation) -> None:
        request = self._cancel_requests.get(operation.id)
        if request is not None and request.is_set():
            raise _Canceled

    async def _run(
        self,
        ctx: RequestContext,
        operation: BulkOperation,
        plan: BulkQuery,
        root_factory: Callable[[Any], object],
        group_objects: bool,
    ) -> None:
        started = time.monotonic()
        shop = ctx.shop
        try:
            await asyncio.sleep(0)
            self._check_cancel(operation)
            operation.status = "RUNNING"
            failure = await self._write(ctx, operation, plan, root_factory, group_objects)
            if failure is None:
                wait = self._sandbox.config.bulk_operation_duration - (time.monotonic() - started)
                request = self._cancel_requests.get(operation.id)
                if wait > 0 and request is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(request.wait(), timeout=wait)
                self._check_cancel(operation)
                operation.status = "COMPLETED"
                operation.has_file = operation.object_count > 0
            else:
                operation.status, operation.error_code = "FAILED", failure
                operation.partial = operation.object_count > 0
        except _Canceled:
            operation.status = "CANCELED"
            operation.partial = operation.object_count > 0
        except Exception:
            logger.exception("bulk operation %s failed", operation.id)
            operation.status, operation.error_code = "FAILED", "INTERNAL_SERVER_ERROR"
            operation.partial = operation.object_count > 0
        operation.completed_at = utcnow()
        self._sandbox.emit(shop, TOPIC, bulk_operation_finish_payload(operation))
        await self._sandbox.save()

    async def _write(
        self,
        ctx: RequestContext,
        operation: BulkOperation,
        plan: BulkQuery,
        root_factory: Callable[[Any], object],
        group_objects: bool,
    ) -> str | None:
        """Run the query batch by batch, appending lines to the file; an error code or None."""
        path = self.path(operation.id)
        cursor: str | None = None
        # Opened and closed on the loop: a cancelled task must never leave the file open.
        out = path.open("wb")
        try:
            while True:
                self._check_cancel(operation)
                result = self._batch(ctx, plan, cursor, root_factory)
                if result.errors:
                    return _error_code(list(result.errors))
                connection = (result.data or {}).get(plan.top_key)
                chunk = bytearray()
                lines = flatten(connection, plan.plan)
                for line in lines if group_objects else ungrouped(lines):
                    chunk += encode_line(line)
                    operation.object_count += 1
                    if "__parentId" not in line:
                        operation.root_object_count += 1
                # Each batch goes to the file as it is produced (off the event loop).
                await asyncio.to_thread(out.write, bytes(chunk))
                operation.file_size = (operation.file_size or 0) + len(chunk)
                page = connection.get(_PAGE_INFO_KEY) if isinstance(connection, Mapping) else None
                if not page or not page.get("hasNextPage"):
                    return None
                cursor = page.get("endCursor")
        finally:
            out.close()

    def _batch(
        self, ctx: RequestContext, plan: BulkQuery, cursor: str | None, root_factory: Callable[[Any], object]
    ) -> ExecutionResult:
        with unbounded_pages():
            return execute_sync(
                self._sandbox.schema,
                plan.batch(cursor),
                root_value=root_factory(ctx),
                context_value=ctx,
                field_resolver=resolve_field,
                type_resolver=resolve_type,
            )


def bulk_operation_view(operations: BulkOperations, operation: BulkOperation) -> dict[str, Any]:
    """The GraphQL `BulkOperation` (a dict keyed by field name)."""
    done = operation.status not in ACTIVE_STATUSES
    return {
        "__typename": "BulkOperation",
        "id": gid("BulkOperation", operation.id),
        "type": operation.type,
        "status": operation.status,
        "errorCode": operation.error_code,
        "objectCount": operation.object_count,
        "rootObjectCount": operation.root_object_count,
        "fileSize": operation.file_size if done and operation.object_count else None,
        "url": operations.url(operation.id) if operation.has_file else None,
        "partialDataUrl": operations.url(operation.id) if operation.partial else None,
        "query": operation.query,
        "createdAt": operation.created_at,
        "completedAt": operation.completed_at,
    }


def find_operation(sandbox: ShopifySandbox, operation_id: int) -> BulkOperation | None:
    for shop in sandbox.store.shops.values():
        operation = shop.bulk_operations.get(operation_id)
        if operation is not None:
            return operation
    return None

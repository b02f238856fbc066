"""What one client may ask of the API: request size, parse once, cost and rate per viewer.

Everything here runs before any resolver, and the size checks before authentication: an
unauthenticated client must not be able to make the event loop (which ingestion shares) parse
megabytes or sum millions of buckets.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterator, Mapping, MutableMapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    EnumValueNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    ValueNode,
    VariableNode,
    Visitor,
    get_operation_ast,
    parse,
    visit,
)
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from ..auth import client_key
from ..domain.consumption import MAX_BUCKETS, BucketWidth
from ..domain.ratelimit import RateLimiter
from ..errors import BadUserInput, RateLimited

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_COST",
    "MAX_QUERY_CHARS",
    "MAX_WS_MESSAGE_BYTES",
    "BodyLimit",
    "ParseOnce",
    "RateLimited",
    "RequestBudget",
    "ValidateOnce",
    "operation_size",
    "parse_document",
    "per_address",
    "refusal",
]

MAX_BODY_BYTES = 1024 * 1024  # an importSensors of 1,000 sensors is ~300 KB
MAX_QUERY_CHARS = 16_000  # 2,000 tokens of hand-written GraphQL with comments fit in 16 KB
MAX_WS_MESSAGE_BYTES = 64 * 1024  # a subscribe message: a small document and its variables
MAX_COST = 20_000  # buckets and page items per request: two years of hourly buckets
DEFAULT_PAGE = 100


# --- Size, before anything else -------------------------------------------------------------

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyLimit:
    """ASGI middleware: an HTTP request body over ``limit`` bytes is answered 413 before the
    application sees any of it (so before authentication, JSON decoding or GraphQL parsing)."""

    def __init__(self, app: ASGIApp, limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await _too_large(send, self.limit)
            return
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await _too_large(send, self.limit)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


async def _too_large(send: Send, limit: int) -> None:
    text = f"Request body larger than {limit} bytes".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(text)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": text})


def check_query_size(query: str | None) -> None:
    """BAD_USER_INPUT on ``query`` when the document is larger than we parse."""
    if query is not None and len(query) > MAX_QUERY_CHARS:
        raise BadUserInput("query", f"the document is longer than {MAX_QUERY_CHARS} characters")


# --- Parse once -------------------------------------------------------------------------------


CACHED_QUERY_CHARS = 4_000  # dashboards' documents are small; a big one is parsed each time


def parse_document(query: str, max_tokens: int) -> DocumentNode:
    """Parse a document (at most ``MAX_QUERY_CHARS``). Small ones are remembered (the last 256):
    dashboards send the same few again and again, and a live subscription is looked at twice (to
    share it, then to run it); big ones are not, so the cache stays a few megabytes."""
    check_query_size(query)
    if len(query) > CACHED_QUERY_CHARS:
        return parse(query, max_tokens=max_tokens)
    return _cached_parse(query, max_tokens)


@lru_cache(maxsize=256)
def _cached_parse(query: str, max_tokens: int) -> DocumentNode:
    return parse(query, max_tokens=max_tokens)


class ParseOnce(SchemaExtension):
    """Hand Strawberry the cached parse (a syntax error is left to Strawberry to report, with
    the same token limit, so a document refused here is never parsed whole there)."""

    def __init__(self, max_tokens: int) -> None:
        self.max_tokens = max_tokens

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.max_tokens
        if context.query and context.graphql_document is None:
            try:
                context.graphql_document = parse_document(context.query, self.max_tokens)
            except GraphQLError:
                pass
        yield


class ValidateOnce(SchemaExtension):
    """Validation remembered per document: a small document that passed validation with the
    same rules passes again (validation is a function of the document and the rules alone), so
    the dashboards' few documents are validated once, not on every request (a quarter of a
    small query's time). Only successes are remembered: an error is never shared between
    requests. Runs after every extension that adds rules or refuses the operation.

    ``limits``: rule classes every operation is validated with besides GraphQL's own (depth,
    aliases), made once rather than per request."""

    MAX_REMEMBERED = 512

    def __init__(self, limits: tuple[type, ...], remembered: OrderedDict[Hashable, None]) -> None:
        self.limits = limits
        self.remembered = remembered  # the schema's, shared by every request

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query
        if context.pre_execution_errors is None and document is not None:
            rules = (*context.validation_rules, *self.limits)
            key = (query, rules) if query and len(query) <= CACHED_QUERY_CHARS else None
            if key is not None and key in self.remembered:
                self.remembered.move_to_end(key)
                context.pre_execution_errors = []
            else:
                errors = validate_document(context.schema._schema, document, rules)
                context.pre_execution_errors = errors
                if key is not None and not errors:
                    self.remembered[key] = None
                    if len(self.remembered) > self.MAX_REMEMBERED:
                        self.remembered.popitem(last=False)
        yield


# --- Cost and rate ----------------------------------------------------------------------------


def _argument(node: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    """A literal or variable argument as the client wrote it (None when absent or complex)."""
    for argument in node.arguments or ():
        if argument.name.value == name:
            return _value(argument.value, variables)
    return None


def _value(node: ValueNode, variables: dict[str, Any]) -> Any:
    if isinstance(node, VariableNode):
        return variables.get(node.name.value)
    if isinstance(node, StringValueNode | EnumValueNode):
        return node.value
    if isinstance(node, IntValueNode):
        return int(node.value) if len(node.value) < 12 else None
    return None


def _buckets(node: FieldNode, variables: dict[str, Any]) -> int:
    """How many buckets a series asks for; the most allowed when it cannot be told here (the
    resolver will refuse what is malformed)."""
    try:
        start = datetime.fromisoformat(str(_argument(node, "from", variables)))
        end = datetime.fromisoformat(str(_argument(node, "to", variables)))
        width = BucketWidth(str(_argument(node, "bucket", variables)))
        count = math.ceil((end - start) / width.nominal)
    except (TypeError, ValueError, OverflowError):
        return MAX_BUCKETS
    return min(max(count, 1), MAX_BUCKETS)


SERIES_FIELDS = frozenset({"readingSeries", "readingSeriesChart", "buildingConsumption"})
# A statement reads a whole building's meters over up to two years: at most two an operation
# (they are also limited per user: resolvers/statement.py).
WHOLE_BUILDING_FIELDS = frozenset({"consumptionStatement"})
PAGED_FIELDS = frozenset({"sensors", "readings", "alerts", "rejectedMessages"})
MAX_EXPANDED_FIELDS = 5_000  # fields of an operation once its fragments are expanded
MAX_FIELD_DEPTH = 20


class _TooBig(Exception):
    pass


def _field_cost(node: FieldNode, variables: dict[str, Any]) -> int:
    name = node.name.value
    if name in SERIES_FIELDS:
        return _buckets(node, variables)
    if name in WHOLE_BUILDING_FIELDS:
        return MAX_COST // 2
    first = _argument(node, "first", variables)
    if isinstance(first, float) and first.is_integer():
        first = int(first)
    if isinstance(first, int) and not isinstance(first, bool) and first > 0:
        return first
    if name in PAGED_FIELDS or any(a.name.value == "first" for a in node.arguments or ()):
        return DEFAULT_PAGE
    return 1


def operation_size(
    document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None
) -> tuple[int, int]:
    """(cost, fields) of the operation with its fragments expanded: the buckets and page items it
    asks for, summed over every field and alias, and how many fields that is. Each fragment is
    measured once, so a document that doubles at every level costs its own size to measure; a
    fragment cycle or a depth beyond reason counts as too big (validation would refuse it
    anyway, but only after expanding it)."""
    operations = (
        [get_operation_ast(document, operation_name)]
        if operation_name
        else [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    )
    fragments = {
        d.name.value: d.selection_set
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    given = variables or {}
    measured: dict[str, tuple[int, int]] = {}
    measuring: set[str] = set()

    def walk(selection_set: SelectionSetNode | None, depth: int) -> tuple[int, int]:
        if selection_set is None:
            return 0, 0
        if depth > MAX_FIELD_DEPTH:
            raise _TooBig
        cost = fields = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                below = walk(selection.selection_set, depth + 1)
                cost, fields = (
                    cost + _field_cost(selection, given) + below[0],
                    fields + 1 + below[1],
                )
            elif isinstance(selection, InlineFragmentNode):
                below = walk(selection.selection_set, depth)
                cost, fields = cost + below[0], fields + below[1]
            elif isinstance(selection, FragmentSpreadNode):
                below = spread(selection.name.value, depth)
                cost, fields = cost + below[0], fields + below[1]
            if fields > MAX_EXPANDED_FIELDS:
                raise _TooBig
        return cost, fields

    def spread(name: str, depth: int) -> tuple[int, int]:
        if name not in measured:
            if name in measuring:
                raise _TooBig  # a cycle
            measuring.add(name)
            measured[name] = walk(fragments.get(name), depth)
            measuring.discard(name)
        return measured[name]

    try:
        sizes = [walk(op.selection_set, 0) for op in operations if op is not None]
    except _TooBig:
        return MAX_COST + 1, MAX_EXPANDED_FIELDS + 1
    return max(sizes, default=(0, 0))


MAX_STRING_CHARS = 10_000  # no argument of ours is longer; each field has its own, smaller bound


def _bad_text(value: str) -> str | None:
    if "\x00" in value:
        return "must not contain NUL characters"
    if len(value) > MAX_STRING_CHARS:
        return f"must be at most {MAX_STRING_CHARS} characters"
    return None


def _field(path: str) -> str:
    """A field as resolvers name it: an input object's fields without ``input.``."""
    return path.removeprefix("input.")


def _check_json(value: Any, path: str) -> None:
    if isinstance(value, str):
        if problem := _bad_text(value):
            raise BadUserInput(_field(path), problem)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_json(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_json(item, f"{path}[{i}]")


def _check_value(
    node: ValueNode, path: str, variables: dict[str, Any], defaults: Mapping[str, ValueNode]
) -> None:
    if isinstance(node, VariableNode):
        name = node.name.value
        if name in variables:
            _check_json(variables[name], path)
        elif name in defaults:
            _check_value(defaults[name], path, variables, defaults)
    elif isinstance(node, StringValueNode):
        if problem := _bad_text(node.value):
            raise BadUserInput(_field(path), problem)
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            _check_value(field.value, f"{path}.{field.name.value}", variables, defaults)
    elif isinstance(node, ListValueNode):
        for i, item in enumerate(node.values):
            _check_value(item, f"{path}[{i}]", variables, defaults)


def check_text_inputs(document: DocumentNode, variables: dict[str, Any] | None) -> None:
    """BAD_USER_INPUT naming the argument (as in ``input.note``) of any text that holds a NUL
    character (PostgreSQL text cannot) or exceeds every bound of ours, before any resolver:
    literals, variables, and variables' default values."""
    given = variables or {}
    defaults = {
        d.variable.name.value: d.default_value
        for op in document.definitions
        if isinstance(op, OperationDefinitionNode)
        for d in op.variable_definitions or ()
        if d.default_value is not None
    }

    class Arguments(Visitor):
        def enter_argument(self, node: ArgumentNode, *_: object) -> None:
            _check_value(node.value, node.name.value, given, defaults)

    visit(document, Arguments())


Keyed = tuple[RateLimiter, str] | None


def refusal(
    keyed: Keyed,
    document: DocumentNode,
    operation_name: str | None,
    variables: Any,
) -> GraphQLError | None:
    """Why an operation is refused before validation and execution, or None: variables that are
    no JSON object, the caller's rate (RATE_LIMITED), a document that expands beyond reason, a
    text no field accepts, or a cost over ``MAX_COST`` (BAD_USER_INPUT)."""
    if variables is not None and not isinstance(variables, dict):
        return BadUserInput("variables", "must be a JSON object")
    if keyed is not None:
        limiter, key = keyed
        if not limiter.allow(key, time.monotonic()):
            return RateLimited()
    cost, fields = operation_size(document, operation_name, variables)
    if fields > MAX_EXPANDED_FIELDS:
        return BadUserInput(
            "query", f"expands to more than {MAX_EXPANDED_FIELDS} fields with its fragments"
        )
    try:
        check_text_inputs(document, variables)
    except BadUserInput as error:
        return error
    if cost > MAX_COST:
        return BadUserInput(
            "query",
            f"asks for {cost} buckets and items, more than {MAX_COST}: "
            "split it into smaller requests",
        )
    return None


class RequestBudget(SchemaExtension):
    """Apply :func:`refusal` before validation (so before any expensive rule runs), for every
    operation this schema executes; ``limiter_for`` gives the caller's limiter and key (the
    viewer's user id, else the client address), or None when the caller was already counted."""

    def __init__(self, limiter_for: Callable[[Any], Keyed]) -> None:
        self.limiter_for = limiter_for

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is not None and context.pre_execution_errors is None:
            error = refusal(
                self.limiter_for(context.context),
                context.graphql_document,
                context.operation_name,
                context.variables,
            )
            if error is not None:
                context.pre_execution_errors = [error]
        yield


Handler = Callable[[Request], Awaitable[Response]]


def per_address(handler: Handler, rate: float, burst: float) -> Handler:
    """``handler`` behind a token bucket per client address: a flood is answered 429 before it
    costs anything (a Prometheus scrape, a probe and a person come far below these rates)."""
    limiter = RateLimiter(rate, burst, max_keys=100_000)

    async def limited(request: Request) -> Response:
        client = request.client
        if not limiter.allow(client_key(client.host if client else "?"), time.monotonic()):
            return PlainTextResponse(
                "too many requests", status_code=429, headers={"Retry-After": "1"}
            )
        return await handler(request)

    return limited

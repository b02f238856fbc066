"""Turn every GraphQL error into one with ``extensions.code`` (SPEC §4), masking the unexpected.

* Our own errors (:class:`~koprogo_graph.errors.KoprogoError`) pass through unchanged.
* Errors without an original exception come from parsing, validation or variable coercion: the
  client sent something wrong. They become ``BAD_USER_INPUT`` and name the field when we can tell.
* Anything else is a bug or an outage: the client sees ``INTERNAL`` and nothing more; the log
  gets the details.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

from graphql import ArgumentNode, DocumentNode, GraphQLError, Node, ObjectFieldNode, visit
from graphql.language import Visitor
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError

__all__ = ["ErrorCodes", "is_expected"]

log = logging.getLogger("koprogo_graph.graphql")

# graphql-core 3.3 says "invalid value at .input.type"; 3.2 said "at 'input.type'".
_AT_PATH = re.compile(r"\bat '?\.?([\w.\[\]]+)'?")
_NAMED = re.compile(r"(?:[Aa]rgument|[Ff]ield|[Vv]ariable) '\$?([\w.]+)'")


# Strawberry's own refusals of what the client asked (a query on a subscriptions-only transport).
_CLIENT_MISTAKES = (InvalidOperationTypeError, CannotGetOperationTypeError)


def is_expected(error: GraphQLError) -> bool:
    """True for errors the client caused or is meant to see."""
    # graphql-core reports bad variables as a GraphQLError wrapping another GraphQLError.
    original = error.original_error
    return original is None or isinstance(original, (GraphQLError, *_CLIENT_MISTAKES))


class _FindField(Visitor):
    def __init__(self, target: Node) -> None:
        super().__init__()
        self.target = target
        self.name: str | None = None

    def enter_argument(self, node: ArgumentNode, *_: object) -> None:
        if node.value is self.target:
            self.name = node.name.value

    def enter_object_field(self, node: ObjectFieldNode, *_: object) -> None:
        if node.value is self.target:
            self.name = node.name.value


def _field_name(error: GraphQLError, document: DocumentNode | None) -> str | None:
    if match := _AT_PATH.search(error.message):
        return match.group(1).split(".")[-1].split("[")[0]
    if document is not None and error.nodes:
        finder = _FindField(error.nodes[0])
        visit(document, finder)
        if finder.name:
            return finder.name
    if match := _NAMED.search(error.message):
        return match.group(1).split(".")[-1]
    return None


class ErrorCodes(SchemaExtension):
    """Schema extension: code every error, mask the unexpected ones (what Strawberry's
    MaskErrors does, through the extension hooks only, so that no private method of it is
    overridden)."""

    def __init__(self) -> None:
        self._stream_result_processed = False

    def on_operation(self) -> Iterator[None]:
        self._stream_result_processed = False
        yield
        # A streamed operation's results were coded one by one, before each was sent.
        if self._stream_result_processed:
            return
        result = self.execution_context.result
        self._code_result(getattr(result, "initial_result", None) or result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._stream_result_processed = True
        self._code_result(result)
        for part in (
            getattr(result, "incremental", None) or (),
            getattr(result, "completed", None) or (),
        ):
            for item in part:
                self._code_result(item)
        yield None

    def _code_result(self, result: Any) -> None:
        # An attribute lookup, not a runtime Protocol check (paid for each live event).
        if errors := getattr(result, "errors", None):
            result.errors = self.coded(errors)

    def coded(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        """Each error with its code (and the field it is about, when we can tell); the
        unexpected ones masked."""
        document = getattr(self.execution_context, "graphql_document", None)
        out = []
        for error in errors:
            if not is_expected(error):
                out.append(_masked(error))
                continue
            if isinstance(error.original_error, InvalidOperationTypeError):
                error.message = (
                    f"{error.original_error.operation_type.value} operations are not served "
                    "here: subscriptions over websockets, queries and mutations over HTTP"
                )
            if "code" not in (error.extensions or {}):
                extensions = {"code": "BAD_USER_INPUT"}
                if field := _field_name(error, document):
                    extensions["field"] = field
                error.extensions = extensions
            out.append(error)
        return out


def _masked(error: GraphQLError) -> GraphQLError:
    return GraphQLError(
        message="Internal error",
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=None,
        extensions={"code": "INTERNAL"},
    )

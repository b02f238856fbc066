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

from graphql import ArgumentNode, DocumentNode, GraphQLError, Node, ObjectFieldNode, visit
from graphql.language import Visitor
from strawberry.extensions import MaskErrors
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


class ErrorCodes(MaskErrors):
    """Schema extension: code every error, mask the unexpected ones."""

    def __init__(self) -> None:
        super().__init__(
            should_mask_error=lambda e: not is_expected(e), error_message="Internal error"
        )

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL"}
        return masked

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        document = getattr(self.execution_context, "graphql_document", None)
        for error in errors:
            if isinstance(error.original_error, InvalidOperationTypeError):
                error.message = (
                    f"{error.original_error.operation_type.value} operations are not served "
                    "here: subscriptions over websockets, queries and mutations over HTTP"
                )
            if is_expected(error) and "code" not in (error.extensions or {}):
                extensions = {"code": "BAD_USER_INPUT"}
                if field := _field_name(error, document):
                    extensions["field"] = field
                error.extensions = extensions
        return super()._process_errors(errors)

    def _process_result(self, result: object) -> None:
        # MaskErrors tests every result against a runtime Protocol (slow, and paid for each
        # live event); an attribute lookup tells the same.
        if errors := getattr(result, "errors", None):
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]

"""How much of the schema an anonymous client may discover in production.

In production, introspection and "Did you mean ...?" suggestions are for authenticated viewers
(the KoproGo frontend, a partner with a token in GraphiQL's header editor), unless the operator
opens them to everyone (``KOPROGO_INTROSPECTION=true``). Development, tests and the demo keep
them open.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

from ..errors import Unauthenticated

__all__ = ["SchemaExposure", "without_suggestions"]

_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    return _SUGGESTION.sub("", message)


def _anonymous_in_production(context: Any) -> bool:
    settings = getattr(context, "settings", None)
    if settings is None or settings.environment != "production" or settings.introspection:
        return False
    try:
        context.viewer  # noqa: B018 - raises without a valid token
    except Unauthenticated:
        return True
    return False


class SchemaExposure(SchemaExtension):
    """Refuse introspection and strip suggestions for anonymous clients in production."""

    def on_validate(self) -> Iterator[None]:
        closed = _anonymous_in_production(self.execution_context.context)
        if closed:
            self.execution_context.validation_rules = (
                *self.execution_context.validation_rules,
                NoSchemaIntrospectionCustomRule,
            )
        yield
        if closed:
            for error in self.execution_context.pre_execution_errors or ():
                _strip(error)

    def on_execute(self) -> Iterator[None]:
        yield
        # Variable coercion errors ("Value 'X' does not exist in 'Enum' enum. Did you mean...").
        result = self.execution_context.result
        if _anonymous_in_production(self.execution_context.context):
            for error in getattr(result, "errors", None) or ():
                _strip(error)


def _strip(error: GraphQLError) -> None:
    error.message = without_suggestions(error.message)

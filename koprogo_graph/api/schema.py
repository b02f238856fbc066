"""The GraphQL schema: Query, Mutation and Subscription merged from the resolver modules."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Hashable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, QueryDepthLimiter
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType

# First: the domain enums get their GraphQL definitions (with descriptions) before any resolver
# annotation naming them is resolved (which would define them a second time, bare).
from ..schema import enums as _enums  # noqa: F401

# isort: split
from ..errors import KoprogoError
from ..resolvers.aggregates import AggregateMutation, AggregateQuery
from ..resolvers.alerts import AlertMutation, AlertQuery
from ..resolvers.allocation import AllocationMutation, AllocationQuery
from ..resolvers.buildings import BuildingMutation, BuildingQuery
from ..resolvers.credentials import CredentialsMutation, CredentialsQuery
from ..resolvers.owners import OwnerMutation, OwnerQuery
from ..resolvers.readings import ReadingQuery
from ..resolvers.sensors import SensorMutation, SensorQuery, ViewerQuery
from ..resolvers.statement import StatementQuery
from ..resolvers.subscriptions import LiveSubscription
from ..schema.context import Context
from .errors import ErrorCodes, is_expected
from .executor import Executor
from .exposure import SchemaExposure
from .limits import (
    ParseOnce,
    RequestBudget,
    ValidateOnce,
    check_query_size,
    parse_document,
    refusal,
)
from .live import after_gap, shared_key, shared_results

__all__ = ["build_schema"]

log = logging.getLogger("koprogo_graph.graphql")

# Each resolver module contributes its root fields here.
QUERIES: tuple[type, ...] = (
    ViewerQuery,
    BuildingQuery,
    SensorQuery,
    ReadingQuery,
    AlertQuery,
    AggregateQuery,
    CredentialsQuery,
    AllocationQuery,
    StatementQuery,
    OwnerQuery,
)
MUTATIONS: tuple[type, ...] = (
    BuildingMutation,
    SensorMutation,
    AlertMutation,
    AggregateMutation,
    CredentialsMutation,
    AllocationMutation,
    OwnerMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (LiveSubscription,)

MAX_DEPTH = 10
MAX_TOKENS = 2_000
MAX_ALIASES = 30
# Depth and alias limits as validation rules, made once (Strawberry's extensions would make
# new rule classes for every request, and so defeat remembering validations).
LIMIT_RULES: tuple[type, ...] = (
    *QueryDepthLimiter(max_depth=MAX_DEPTH).validation_rules,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
)


class _Schema(strawberry.Schema):
    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Identical subscriptions share one execution (both websocket protocols come here)."""
        try:
            check_query_size(query)
            document = parse_document(query, MAX_TOKENS) if query else None
        except KoprogoError as error:
            return _refused(error)
        except GraphQLError:
            document = None  # a syntax error: the normal path reports it
        if document is not None:
            # Websocket operations are counted here, once, whether they then share a stream
            # (which runs no extension for them) or not (RequestBudget skips websockets).
            keyed = (
                context_value.rate_limiter_and_key(websocket=True)
                if isinstance(context_value, Context)
                else None
            )
            if refused := refusal(keyed, document, operation_name, variable_values):
                return _refused(refused)
        key = shared_key(context_value, query, variable_values, operation_name, MAX_TOKENS)
        if key is None or not isinstance(context_value, Context) or context_value.live is None:
            return await super().stream(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
        viewer_context = context_value
        run_alone = super().stream

        async def open_upstream(ready: Callable[[], None]) -> StreamResult:
            context = viewer_context.for_shared_stream(ready)
            results = await run_alone(
                query,
                variable_values,
                context,
                root_value,
                operation_name,
                operation_extensions,
                allowed_operation_types,
            )
            return shared_results(results, context)

        return context_value.live.join(
            key,
            open_upstream,
            is_final=lambda result: isinstance(result, PreExecutionError),
            after_gap=after_gap,
        )

    async def execute(self, query: str | None, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            check_query_size(query)
        except KoprogoError as error:
            return ExecutionResult(data=None, errors=[error])
        return await super().execute(query, *args, **kwargs)

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the client's business; only the unexpected deserve a traceback.
        for error in errors:
            if not is_expected(error):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def _root(name: str, parts: tuple[type, ...], description: str) -> type:
    """A root type made of each resolver module's fields (as strawberry.tools.merge_types does,
    with a description)."""
    return strawberry.type(type(name, parts, {}), description=description)


def _limiter_and_key(context: Any) -> Any:
    return context.rate_limiter_and_key() if isinstance(context, Context) else None


async def _refused(error: GraphQLError) -> AsyncGenerator[PreExecutionError, None]:
    yield PreExecutionError(data=None, errors=[error])


def build_schema(executor: type = Executor) -> strawberry.Schema:
    """Build the schema with its hardening extensions (fresh instances per operation).
    ``executor``: graphql-core's execution context class (tests compare with Strawberry's)."""
    validated: OrderedDict[Hashable, None] = OrderedDict()  # documents that passed (ValidateOnce)
    return _Schema(
        query=_root("Query", QUERIES, "What you can read, always of your own organization."),
        mutation=_root("Mutation", MUTATIONS, "What you can change (mostly syndic, superadmin)."),
        subscription=_root(
            "Subscription", SUBSCRIPTIONS, "Live events of your organization, over a websocket."
        ),
        execution_context_class=executor,
        extensions=[
            lambda: ParseOnce(MAX_TOKENS),
            SchemaExposure,
            lambda: RequestBudget(_limiter_and_key),
            # Last of those that add rules or refuse: it validates (or remembers it did).
            lambda: ValidateOnce(LIMIT_RULES, validated),
            ErrorCodes,
        ],
    )

"""The GraphQL schema: Query, Mutation and Subscription merged from the resolver modules."""

from __future__ import annotations

import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from ..resolvers.aggregates import AggregateMutation, AggregateQuery
from ..resolvers.alerts import AlertMutation, AlertQuery
from ..resolvers.readings import ReadingQuery
from ..resolvers.sensors import SensorMutation, SensorQuery, ViewerQuery
from ..resolvers.subscriptions import LiveSubscription
from .errors import ErrorCodes, is_expected

__all__ = ["build_schema"]

log = logging.getLogger("koprogo_graph.graphql")

# Each resolver module contributes its root fields here.
QUERIES: tuple[type, ...] = (ViewerQuery, SensorQuery, ReadingQuery, AlertQuery, AggregateQuery)
MUTATIONS: tuple[type, ...] = (SensorMutation, AlertMutation, AggregateMutation)
SUBSCRIPTIONS: tuple[type, ...] = (LiveSubscription,)

MAX_DEPTH = 10
MAX_TOKENS = 2_000
MAX_ALIASES = 30


class _Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Expected errors are the client's business; only the unexpected deserve a traceback.
        for error in errors:
            if not is_expected(error):
                log.error("unexpected error at %s", error.path, exc_info=error.original_error)


def build_schema() -> strawberry.Schema:
    """Build the schema with its hardening extensions (fresh instances per operation)."""
    return _Schema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=MAX_DEPTH),
            lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
            lambda: MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            ErrorCodes,
        ],
    )

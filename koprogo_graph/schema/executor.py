"""The GraphQL executor, with a fix for a memory leak of graphql-core 3.3 in subscriptions.

graphql-core memoizes collected subfields in a dict keyed by the identity of each field list.
A subscription executes every event with a shallow copy of its executor, so all events share
that dict, and every event adds entries (each keeping its field list alive) that no later event
can hit: about 1 KB per event and subscription, forever (measured with tracemalloc: 10,000
events, +10,000 entries; the growing heap also made full garbage collections last ~150 ms).
Each event gets a memo of its own here.
"""

from __future__ import annotations

from typing import Any

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

__all__ = ["Executor"]


class Executor(StrawberryGraphQLCoreExecutionContext):
    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        return executor

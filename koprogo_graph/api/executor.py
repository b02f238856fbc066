"""The GraphQL executor: per-event execution of subscriptions, fixed and made cheap.

* graphql-core 3.3 memoizes collected subfields in a dict keyed by the identity of each field
  list. A subscription executes every event with a shallow copy of its executor, so all events
  share that dict, and every event adds entries (each keeping its field list alive) that no later
  event can hit: about 1 KB per event and subscription, forever (tracemalloc: 2,000 events,
  +2.4 MB; the growing heap also made full garbage collections last ~150 ms). Each event gets a
  memo of its own here.
* A selection of leaf fields read from the event object's attributes, the usual dashboard
  subscription, is computed by a plan (event_plan.py) instead of field by field.
"""

from __future__ import annotations

from typing import Any

from graphql import ExecutionResult
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from .event_plan import EventPlan, plan_event

__all__ = ["Executor"]

_UNPLANNED = object()


class Executor(StrawberryGraphQLCoreExecutionContext):
    _plan: Any = _UNPLANNED  # the subscription's EventPlan (or None), made once
    _event_plan: EventPlan | None = None  # set on per-event copies only

    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        assert isinstance(executor, Executor)  # graphql-core copies with type(self)
        # private-api: graphql-core 3.3 gives every per-event copy the one subfield memo, which
        # grows forever, and has no public way to give each its own;
        # tests/unit/test_live_memory.py fails without this line.
        executor._relevant_sub_fields = {}
        if self._plan is _UNPLANNED:
            self._plan = plan_event(self.schema, self.operation, self.middleware_manager)
        executor._event_plan = self._plan
        return executor

    def execute_operation(self, serially: bool | None = None) -> Any:
        if self._event_plan is not None:
            data = self._event_plan.run(self.root_value)
            if data is not None:
                return ExecutionResult(data, None)
        return super().execute_operation(serially)

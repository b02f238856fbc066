"""A per-event fast path for the common live subscription: leaf fields of the event's object.

A dashboard widget selects a few scalar fields of each reading, `readingAdded { sensorId
timestamp value quality }`. graphql-core executes such a selection field by field, about
250 µs per event here, and a subscription pays it for every event. When every selected field
is a leaf (scalar or enum) read straight from an attribute of the object, the result is each
attribute through its type's own ``serialize``: the plan below does exactly that, in a few µs.

Anything else goes through graphql-core as usual, so results and errors are those graphql-core
gives: nested objects, fields with resolvers, arguments, directives, fragments, lists,
duplicate response keys, schema extensions that wrap resolvers; and, event by event, a null in
a non-null field or a value its serializer refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeGuard

from graphql import (
    FieldNode,
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    get_nullable_type,
    is_non_null_type,
)
from strawberry.types.field import StrawberryField

__all__ = ["EventPlan", "plan_event"]

_BACKREF = "strawberry-definition"  # where Strawberry keeps a GraphQL field's definition


@dataclass(frozen=True, slots=True)
class _Leaf:
    key: str  # the response key (alias or name)
    attribute: str | None  # the Python attribute; None for __typename
    type: GraphQLScalarType | GraphQLEnumType | None
    non_null: bool
    typename: str | None = None


@dataclass(frozen=True, slots=True)
class EventPlan:
    root_key: str
    leaves: tuple[_Leaf, ...]

    def run(self, payload: Any) -> dict[str, Any] | None:
        """The event's ``data``, or None when graphql-core must decide (a null in a non-null
        field, a value the serializer refuses: graphql-core reports those as errors)."""
        result: dict[str, Any] = {}
        for leaf in self.leaves:
            if leaf.typename is not None:
                result[leaf.key] = leaf.typename
                continue
            value = getattr(payload, leaf.attribute)  # type: ignore[arg-type]
            if value is None:
                if leaf.non_null:
                    return None
                result[leaf.key] = None
                continue
            try:
                serialized = leaf.type.serialize(value)  # type: ignore[union-attr]
            except Exception:
                return None
            if serialized is None or serialized is Undefined:
                return None
            result[leaf.key] = serialized
        return {self.root_key: result}


def plan_event(
    schema: GraphQLSchema, operation: OperationDefinitionNode, middleware: Any
) -> EventPlan | None:
    """The fast plan of a subscription operation, or None when graphql-core must run it."""
    if operation.operation is not OperationType.SUBSCRIPTION or schema.subscription_type is None:
        return None
    if getattr(middleware, "middlewares", ()):  # extensions that wrap every resolver
        return None
    selections = operation.selection_set.selections
    if len(selections) != 1 or not _plain(selections[0], allow_arguments=True):
        return None
    root = selections[0]
    root_field = schema.subscription_type.fields.get(root.name.value)
    if root_field is None or root.selection_set is None:
        return None
    object_type = get_nullable_type(root_field.type)
    if not isinstance(object_type, GraphQLObjectType):
        return None
    leaves = []
    for node in root.selection_set.selections:
        if not _plain(node, allow_arguments=False) or node.selection_set is not None:
            return None
        leaf = _leaf(object_type, node)
        if leaf is None:
            return None
        leaves.append(leaf)
    if len({leaf.key for leaf in leaves}) != len(leaves):
        return None  # the same key twice: graphql-core's field merging decides
    return EventPlan(root_key=_key(root), leaves=tuple(leaves))


def _plain(node: Any, *, allow_arguments: bool) -> TypeGuard[FieldNode]:
    return (
        isinstance(node, FieldNode)
        and not node.directives
        and (allow_arguments or not node.arguments)
    )


def _key(node: FieldNode) -> str:
    return node.alias.value if node.alias else node.name.value


def _leaf(object_type: GraphQLObjectType, node: FieldNode) -> _Leaf | None:
    name = node.name.value
    if name == "__typename":
        return _Leaf(_key(node), None, None, True, typename=object_type.name)
    field = object_type.fields.get(name)
    if field is None:
        return None
    definition = (
        (field.extensions or {}).get(_BACKREF) if isinstance(field.extensions, Mapping) else None
    )
    if (
        not isinstance(definition, StrawberryField)
        or definition.base_resolver is not None
        or definition.extensions
        or definition.permission_classes
    ):
        return None
    leaf_type = get_nullable_type(field.type)
    if not isinstance(leaf_type, GraphQLScalarType | GraphQLEnumType):
        return None
    return _Leaf(_key(node), definition.python_name, leaf_type, is_non_null_type(field.type))

"""The rules of graphql-schema-linter (all but its ordering rules), on the schema a partner
introspects: everything described (descriptions capitalised), names cased as GraphQL expects,
Relay connections and PageInfo complete, deprecations explained."""

from __future__ import annotations

import re

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    get_named_type,
)
from graphql import build_schema as from_sdl

from koprogo_graph.api.schema import build_schema

SCHEMA = from_sdl(str(build_schema()))
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}
TYPES = {n: t for n, t in SCHEMA.type_map.items() if not n.startswith("__") and n not in BUILT_IN}
CAMEL = re.compile(r"^[a-z][a-zA-Z0-9]*$")


def _described(text: str | None) -> bool:
    return bool(text and text.strip()) and text.strip()[0] == text.strip()[0].upper()


def test_types_fields_arguments_and_values_are_described_with_a_capital():
    undescribed = []
    for name, t in TYPES.items():
        if not _described(t.description):
            undescribed.append(name)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field_name, field in t.fields.items():
                if not _described(field.description):
                    undescribed.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not _described(arg.description):
                        undescribed.append(f"{name}.{field_name}({arg_name})")
        if isinstance(t, GraphQLEnumType):
            undescribed += [
                f"{name}.{v}" for v, d in t.values.items() if not _described(d.description)
            ]
    assert undescribed == []


def test_names_are_cased_as_graphql_expects():
    wrong = []
    for name, t in TYPES.items():
        if not name[0].isupper():
            wrong.append(name)
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            wrong += [f"{name}.{f}" for f in t.fields if not CAMEL.match(f)]
            for field_name, field in t.fields.items():
                wrong += [
                    f"{name}.{field_name}({a})"
                    for a in getattr(field, "args", {})
                    if not CAMEL.match(a)
                ]
        if isinstance(t, GraphQLEnumType):
            wrong += [f"{name}.{v}" for v in t.values if v != v.upper()]
    assert wrong == []


def _is(type_: object, name: str, non_null: bool = True) -> bool:
    if non_null:
        if not isinstance(type_, GraphQLNonNull):
            return False
        type_ = type_.of_type
    return get_named_type(type_).name == name and not isinstance(type_, GraphQLList)


def test_relay_connections_and_page_info_are_complete():
    page_info = TYPES["PageInfo"]
    assert _is(page_info.fields["hasNextPage"].type, "Boolean")
    assert _is(page_info.fields["hasPreviousPage"].type, "Boolean")
    assert _is(page_info.fields["startCursor"].type, "String", non_null=False)
    assert _is(page_info.fields["endCursor"].type, "String", non_null=False)
    connections = [t for n, t in TYPES.items() if n.endswith("Connection")]
    assert connections
    for connection in connections:
        assert _is(connection.fields["pageInfo"].type, "PageInfo"), connection.name
        edges = connection.fields["edges"].type
        assert isinstance(edges, GraphQLNonNull) and isinstance(edges.of_type, GraphQLList)
        edge = get_named_type(edges)
        assert edge.name.endswith("Edge") and _is(edge.fields["cursor"].type, "String")
        assert "node" in edge.fields
    for root in (SCHEMA.query_type,):
        for name, field in root.fields.items():
            if get_named_type(field.type).name.endswith("Connection"):
                assert {"first", "after"} <= set(field.args), name


def test_deprecations_say_why_and_every_type_is_used():
    for name, t in TYPES.items():
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in t.fields.items():
                if field.deprecation_reason is not None:
                    assert field.deprecation_reason.strip(), f"{name}.{field_name}"
    used = set()
    for t in TYPES.values():
        if isinstance(t, GraphQLObjectType | GraphQLInterfaceType | GraphQLInputObjectType):
            for field in t.fields.values():
                used.add(get_named_type(field.type).name)
                used.update(
                    get_named_type(a.type).name for a in getattr(field, "args", {}).values()
                )
    roots = {SCHEMA.query_type.name, SCHEMA.mutation_type.name, SCHEMA.subscription_type.name}
    unused = [
        n
        for n, t in TYPES.items()
        if n not in used | roots and not isinstance(t, GraphQLScalarType)
    ]
    assert unused == []

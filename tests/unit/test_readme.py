"""The README's GraphQL blocks paste into GraphiQL as they are: they parse, validate against the
schema, and name their operations when a block holds several (GraphiQL refuses otherwise)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from graphql import OperationDefinitionNode, parse, validate
from graphql import build_schema as from_sdl

from koprogo_graph.api.schema import build_schema

README = Path(__file__).resolve().parents[2] / "README.md"
SCHEMA = from_sdl(str(build_schema()))  # the SDL a client introspects
BLOCKS = re.findall(r"```graphql\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_has_graphql_examples():
    assert len(BLOCKS) >= 2


@pytest.mark.parametrize("block", BLOCKS)
def test_each_readme_block_is_valid_against_the_schema(block):
    document = parse(block)
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > 1:
        assert all(op.name is not None for op in operations), "name every operation"
    assert validate(SCHEMA, document) == []

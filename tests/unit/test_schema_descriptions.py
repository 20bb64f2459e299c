"""The schema is the contract: every type, field and argument is described."""

from __future__ import annotations

from pathlib import Path

from graphql import GraphQLInputObjectType, GraphQLObjectType, build_schema

SDL = Path(__file__).resolve().parents[2] / "schema.graphql"
BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}


def test_every_type_field_and_argument_has_a_description() -> None:
    schema = build_schema(SDL.read_text())
    missing: list[str] = []
    for name, gql_type in schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        if not gql_type.description:
            missing.append(name)
        if isinstance(gql_type, GraphQLObjectType | GraphQLInputObjectType):
            for field_name, field in gql_type.fields.items():
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                for arg_name, arg in getattr(field, "args", {}).items():
                    if not arg.description:
                        missing.append(f"{name}.{field_name}({arg_name})")
    assert missing == []

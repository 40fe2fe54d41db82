"""schema.subgraph.graphql is the subgraph the code builds, and the subgraph is the standalone schema plus federation
(keys, `@shareable`, `_entities`, `_service`) and nothing else; building it leaves the standalone schema untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import (
    BREAK,
    REMOVE,
    DirectiveNode,
    DocumentNode,
    FieldDefinitionNode,
    SchemaDefinitionNode,
    TypeDefinitionNode,
    Visitor,
    build_ast_schema,
    lexicographic_sort_schema,
    parse,
    print_schema,
    visit,
)

from schema.federation import schema as subgraph
from schema.root import schema as standalone

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "schema.subgraph.graphql"
EXPORT = ".venv/bin/python -c 'from schema.federation import schema; print(schema.as_str())' > schema.subgraph.graphql"
FEDERATION_TYPES = {"_Any", "_Entity", "_Service"}
FEDERATION_FIELDS = {"_entities", "_service"}


class _WithoutFederation(Visitor):
    def enter_schema_definition(self, *_: Any) -> object:
        return REMOVE

    def enter_directive(self, node: DirectiveNode, *_: Any) -> object:
        return REMOVE if node.name.value in ("key", "shareable", "link") else None

    def enter(self, node: Any, *_: Any) -> object:
        if isinstance(node, TypeDefinitionNode) and node.name.value in FEDERATION_TYPES:
            return REMOVE
        if isinstance(node, FieldDefinitionNode) and node.name.value in FEDERATION_FIELDS:
            return REMOVE
        return None


class _HasDirective(Visitor):
    found = False

    def enter_directive(self, *_: Any) -> object:
        self.found = True
        return BREAK


def _canonical(document: DocumentNode) -> str:
    return print_schema(lexicographic_sort_schema(build_ast_schema(document)))


def test_subgraph_file_matches_the_code() -> None:
    assert SDL.exists(), f"schema.subgraph.graphql is missing: run `{EXPORT}`"
    assert SDL.read_text().strip() == subgraph.as_str().strip(), f"schema.subgraph.graphql drifted: run `{EXPORT}`"


def test_the_subgraph_is_the_standalone_schema_plus_federation() -> None:
    stripped = visit(parse(subgraph.as_str()), _WithoutFederation())
    assert not [d for d in stripped.definitions if isinstance(d, SchemaDefinitionNode)]
    assert _canonical(stripped) == _canonical(parse(standalone.as_str()))


def test_the_standalone_schema_carries_no_federation_directive() -> None:
    # Built after the subgraph (imported above): the keyed types must not leak into it.
    finder = _HasDirective()
    visit(parse(standalone.as_str()), finder)
    assert not finder.found
    assert not {"_Any", "_Entity", "_Service", "_FieldSet"} & set(standalone._schema.type_map)
    assert {d.name for d in standalone._schema.directives} == {"include", "skip", "deprecated", "specifiedBy",
                                                                "oneOf"}

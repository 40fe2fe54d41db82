"""schema.graphql is the schema the code builds, and the schema keeps every promise of the shared contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import build_schema, find_breaking_changes

from schema.root import schema

ROOT = Path(__file__).resolve().parents[2]
SDL = ROOT / "schema.graphql"
# The shared contract lives beside the repository (CI puts a copy of shared/ beside the clone).
CONTRACT = ROOT.parent / "shared" / "contract.graphql"
EXPORT = ".venv/bin/python -c 'from schema.root import schema; print(schema.as_str())' > schema.graphql"


def test_schema_file_matches_the_code() -> None:
    assert SDL.exists(), f"schema.graphql is missing: run `{EXPORT}`"
    assert SDL.read_text().strip() == schema.as_str().strip(), f"schema.graphql drifted from the code: run `{EXPORT}`"


def test_schema_file_is_valid_sdl() -> None:
    built = build_schema(SDL.read_text())
    assert built.query_type is not None and built.query_type.name == "Query"


def test_no_breaking_change_against_the_contract() -> None:
    if not CONTRACT.exists():
        pytest.skip(f"the shared contract is not at {CONTRACT}")
    contract = build_schema(CONTRACT.read_text())
    ours = build_schema(schema.as_str())
    breaking = find_breaking_changes(contract, ours)
    assert breaking == [], "\n".join(f"{c.type.name}: {c.description}" for c in breaking)

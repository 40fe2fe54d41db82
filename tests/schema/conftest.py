"""Fixtures of the schema's tests."""

from __future__ import annotations

import pytest

from schema.leaves import LeafExecution


@pytest.fixture
def executed_fields(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the fields LeafExecution executes (its general path per field), in order."""
    executed: list[str] = []
    execute_field = LeafExecution.execute_field

    def counted(self, parent_type, source, field_details_list, path, position_context):  # noqa: ANN001, ANN202
        executed.append(field_details_list[0].node.name.value)
        return execute_field(self, parent_type, source, field_details_list, path, position_context)

    monkeypatch.setattr(LeafExecution, "execute_field", counted)
    return executed

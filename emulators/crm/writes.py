"""Record writes of a CRM org: find a live record, create, update and upsert by external id, with save errors."""

from __future__ import annotations

from typing import Any

from .context import Call
from .errors import ApiError, SaveError
from .objects import SObject
from .rules import check_write, normalize_id, valid_id

__all__ = ["existing", "load", "create", "update", "upsert", "external_field", "raise_errors", "Upserted"]

# (id, created, errors, ids of several matching records)
Upserted = tuple[str | None, bool, list[SaveError], list[str]]


def existing(call: Call, obj: SObject, record_id: str) -> tuple[dict | None, SaveError | None]:
    """The live record with this id, or why there is none (a malformed id, no record, a deleted one)."""
    if not valid_id(record_id) or record_id[:3] != obj.prefix:
        return None, SaveError("MALFORMED_ID", f"{obj.label} ID: id value of incorrect type: {record_id}", ["Id"])
    row = call.org.store.get(obj.name, normalize_id(record_id))
    if row is None:
        return None, SaveError("NOT_FOUND", "The requested resource does not exist")
    if row["IsDeleted"]:
        return None, SaveError("ENTITY_IS_DELETED", "entity is deleted")
    return row, None


def load(call: Call, obj: SObject, record_id: str) -> dict:
    """The live record with this id; a 404 (missing or deleted) or 400 (malformed id) error otherwise."""
    row, err = existing(call, obj, record_id)
    if err is not None or row is None:
        assert err is not None
        raise ApiError(404 if err.code in ("NOT_FOUND", "ENTITY_IS_DELETED") else 400, err.code, err.message)
    return row


def create(call: Call, obj: SObject, body: Any) -> tuple[str | None, list[SaveError]]:
    if not isinstance(body, dict):
        return None, [SaveError("JSON_PARSER_ERROR", "The request body must be a JSON object")]
    values, errors = check_write(call.org.store, obj, body, None, call.org.today)
    if errors:
        return None, errors
    return call.org.store.insert(obj, values, call.user), []


def update(call: Call, obj: SObject, row: dict, body: Any) -> list[SaveError]:
    if not isinstance(body, dict):
        return [SaveError("JSON_PARSER_ERROR", "The request body must be a JSON object")]
    values, errors = check_write(call.org.store, obj, body, row, call.org.today)
    if not errors:
        call.org.store.update(obj, row["Id"], values, call.user)
    return errors


def external_field(obj: SObject, name: str) -> str:
    """The API name of an external id field (or `Id`) an upsert or lookup is keyed by."""
    f = obj.field_named(name)
    if f is None or not (f.external_id or f.name == "Id"):
        raise ApiError(404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {name}")
    return f.name


def upsert(call: Call, obj: SObject, field: str, value: Any, body: dict) -> Upserted:
    """Create or update by external id; several matching records are reported, not written."""
    if value in (None, ""):
        return None, False, [SaveError("MISSING_ARGUMENT", f"{field} not specified")], []
    if field == "Id":
        row, err = existing(call, obj, str(value))
        if err is not None or row is None:
            return None, False, [err] if err else [], []
        return row["Id"], False, update(call, obj, row, body), []
    matches = call.org.store.live_ids(obj.name, field, value)
    if len(matches) > 1:
        return None, False, [], matches
    data = {k: v for k, v in body.items() if k.lower() != field.lower()}
    if not matches:
        data[field] = value
        new_id, errors = create(call, obj, data)
        return new_id, True, errors, []
    row = call.org.store.get(obj.name, matches[0])
    assert row is not None
    return matches[0], False, update(call, obj, row, data), []


def raise_errors(errors: list[SaveError]) -> None:
    """Answer a failed single-record save with its errors."""
    if errors:
        raise ApiError.from_save(errors)

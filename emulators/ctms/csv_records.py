"""Vault's CSV for record writes: a header row of field names and one row per record in, per-row results out.

Vault reads CSV as RFC 4180 with a few deviations: CRLF and LF both end a line, a CR inside a value is refused, a
TAB is an ordinary character, and a backslash escapes the character after it (so `\\\\` is one backslash). A
multi-value picklist cell lists its value names separated by commas (`"north_america__c,europe__c"`). An empty cell
is no value, which on an update clears the field.

The CSV answer (`Accept: text/csv`) has one row per input row, in order, under the header `responseStatus, id,
errors, rowId, event, id_param_value`; a row's errors read `TYPE: message`, several joined by `; `.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .errors import ApiError
from .objects import PICKLIST, ObjectDef

__all__ = ["CSV_TYPE", "is_csv", "wants_csv", "read_records", "write_results"]

CSV_TYPE = "text/csv"
JSON_TYPE = "application/json"
RESULT_COLUMNS = ("responseStatus", "id", "errors", "rowId", "event", "id_param_value")


def _media_types(header: str | None) -> list[str]:
    return [part.split(";", 1)[0].strip().lower() for part in (header or "").split(",") if part.strip()]


def is_csv(content_type: str | None) -> bool:
    """The request body is CSV (`Content-Type: text/csv`, with or without a charset)."""
    return _media_types(content_type)[:1] == [CSV_TYPE]


def wants_csv(accept: str | None) -> bool:
    """The caller asked for CSV before JSON; JSON stays the default."""
    for media_type in _media_types(accept):
        if media_type == CSV_TYPE:
            return True
        if media_type in (JSON_TYPE, "application/*", "*/*"):
            return False
    return False


def _invalid(message: str) -> ApiError:
    return ApiError("INVALID_DATA", message)


def read_records(raw: bytes, obj: ObjectDef) -> list[dict[str, Any]]:
    """The records of a CSV body, one dict per data row keyed by the header's field names."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise _invalid("The CSV input must be UTF-8 encoded") from None
    text = text.replace("\r\n", "\n")
    if "\r" in text:
        raise _invalid("The CSV input contains a CR character, which is not supported in values")
    try:
        lines = [row for row in csv.reader(io.StringIO(text, newline=""), strict=True) if row]
    except csv.Error as exc:
        raise _invalid(f"The CSV input is malformed: {exc}") from None
    if len(lines) < 2:
        raise _invalid("The CSV input needs a header row and at least one record")
    header = lines[0]
    _check_header(header)
    records = []
    for number, line in enumerate(lines[1:], start=1):
        if len(line) != len(header):
            raise _invalid(f"Row {number} has {len(line)} values; the header names {len(header)} fields")
        records.append({name: _cell(obj, name, cell) for name, cell in zip(header, line, strict=True)})
    return records


def _check_header(header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if not name:
            raise _invalid("The CSV header has an empty column name")
        if name in seen:
            raise _invalid(f"Column [{name}] appears more than once in the CSV header")
        seen.add(name)


def _cell(obj: ObjectDef, name: str, cell: str) -> Any:
    """A cell's value: None when empty, a list of names for a picklist, the unescaped text otherwise."""
    if cell == "":
        return None
    f = obj.fields.get(name)
    if f is not None and f.type == PICKLIST:
        return [part.strip() for part in _unescape(cell, split=True) if part.strip()]
    return _unescape(cell, split=False)[0]


def _unescape(cell: str, *, split: bool) -> list[str]:
    """Resolve backslash escapes; with `split`, unescaped commas separate values."""
    parts: list[str] = []
    current: list[str] = []
    chars = iter(cell)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))  # a backslash at the very end escapes nothing and is dropped
        elif ch == "," and split:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def write_results(results: list[dict]) -> str:
    """Per-row write results (as the JSON answer has them) as Vault's CSV answer."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(RESULT_COLUMNS)
    for row_id, result in enumerate(results, start=1):
        data = result.get("data") or {}
        errors = "; ".join(f"{e['type']}: {e['message']}" for e in result.get("errors") or [])
        cells = [result["responseStatus"], data.get("id"), errors, row_id, data.get("event"),
                 data.get("id_param_value")]
        writer.writerow(["" if c is None else str(c).replace("\\", "\\\\") for c in cells])
    return out.getvalue()

"""SOQL to SQL: field paths to columns (an outer join per relationship) and WHERE clauses."""

from __future__ import annotations

import operator
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Table, and_, not_, or_, true
from sqlalchemy.orm import aliased

from ..objects import Field, SObject, object_named
from ..rules import normalize_id, valid_id
from ..store import Store
from .nodes import BoolOp, Cmp, In, Like, Lit, Not, Path, Query
from .tokens import ESCAPES, malformed

__all__ = ["Scope", "where"]

class Scope:
    """Resolves field paths to columns, adding an outer join per relationship used."""

    def __init__(self, query: Query, obj: SObject, store: Store) -> None:
        self.query = query
        self.obj = obj
        self.store = store
        self.root: Table = store.tables[obj.name]
        self.source: FromClause = self.root
        self.joins: dict[tuple[str, ...], tuple[Any, SObject]] = {}

    def column(self, path: Path) -> tuple[Any, Field, list[str]]:
        obj, table, canon = self.obj, self.root, []
        for part in path.parts[:-1]:
            rel = obj.relationship(part)
            if rel is None or rel.relationship_name is None:
                raise malformed(self.query.text, path.pos, f"Didn't understand relationship '{part}' in field path. "
                                 "If you are attempting to use a custom relationship, be sure to append the '__r' "
                                 "after the custom relationship name.", "INVALID_FIELD")
            canon.append(rel.relationship_name)
            key = tuple(canon)
            if key not in self.joins:
                target = object_named(rel.reference_to or "")
                assert target is not None
                alias = aliased(self.store.tables[target.name])
                self.source = self.source.outerjoin(alias, alias.c.Id == table.c[rel.name])
                self.joins[key] = (alias, target)
            table, obj = self.joins[key]
        f = obj.field_named(path.parts[-1])
        if f is None:
            raise malformed(self.query.text, path.pos, f"No such column '{path.parts[-1]}' on entity '{obj.name}'. If "
                             "you are attempting to use a custom field, be sure to append the '__c' after the custom "
                             "field name. Please reference your WSDL or the describe call for the appropriate names.",
                             "INVALID_FIELD")
        return table.c[f.name], f, canon + [f.name]


def _typed(scope: Scope, f: Field, lit: Lit, today: date) -> Any:
    text = scope.query.text
    if lit.kind == "null":
        return None
    want = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}.get(f.type, "string")
    bad = malformed(text, lit.pos, f"value of filter criterion for field '{f.name}' must be of type {want}"
                     + (" and should not be enclosed in quotes" if lit.kind == "string" else ""), "INVALID_FIELD")
    if f.type == "boolean":
        if lit.kind != "boolean":
            raise bad
        return lit.value
    if f.type == "date":
        if lit.kind == "dateword":
            return (today + timedelta(days=lit.value)).isoformat()
        if lit.kind != "date":
            raise bad
        return lit.value
    if f.type == "datetime":
        if lit.kind == "dateword":
            return format_ts_day(today + timedelta(days=lit.value))
        if lit.kind != "datetime":
            raise bad
        return lit.value
    if lit.kind != "string":
        raise bad
    if f.is_id:
        if not valid_id(lit.value):
            raise malformed(text, lit.pos, f"invalid ID field: {lit.value}", "INVALID_QUERY_FILTER_OPERATOR")
        return normalize_id(lit.value)
    return lit.value


def format_ts_day(day: date) -> str:
    return f"{day.isoformat()}T00:00:00.000+0000"


_OPS = {"=": operator.eq, "<": operator.lt, ">": operator.gt, "<=": operator.le, ">=": operator.ge}


def _like_pattern(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        c = raw[i]
        if c == "\\" and i + 1 < len(raw):
            nxt = raw[i + 1]
            out.append("\\" + nxt if nxt in "%_\\" else ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def where(scope: Scope, node: Any, today: date) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [where(scope, n, today) for n in node.items]
        return and_(*parts) if node.op == "AND" else or_(*parts)
    if isinstance(node, Not):
        return not_(where(scope, node.item, today))
    if isinstance(node, Like):
        col, f, _ = scope.column(node.path)
        if not f.is_text or node.pattern.kind != "string":
            raise malformed(scope.query.text, node.path.pos, f"invalid operator on field: {f.name}: LIKE",
                             "INVALID_FIELD")
        return col.ilike(_like_pattern(node.pattern.raw), escape="\\")
    if isinstance(node, In):
        col, f, _ = scope.column(node.path)
        values = [_typed(scope, f, v, today) for v in node.values]
        present = [v for v in values if v is not None]
        has_null = len(present) != len(values)
        if node.negate:
            cond = or_(col.not_in(present), col.is_(None)) if present else true()
            return and_(cond, col.is_not(None)) if has_null else cond
        cond = col.in_(present)
        return or_(cond, col.is_(None)) if has_null else cond
    assert isinstance(node, Cmp)
    col, f, _ = scope.column(node.path)
    value = _typed(scope, f, node.value, today)
    if value is None:
        if node.op not in ("=", "!="):
            raise malformed(scope.query.text, node.value.pos, "invalid operator on null value", "INVALID_FIELD")
        return col.is_(None) if node.op == "=" else col.is_not(None)
    if f.type == "boolean" and node.op not in ("=", "!="):
        raise malformed(scope.query.text, node.path.pos, f"invalid operator on boolean field: {f.name}",
                         "INVALID_FIELD")
    if node.op == "!=":
        return or_(col != value, col.is_(None))
    return _OPS[node.op](col, value)

"""VQL to SQL: fields and relationship fields to columns, WHERE clauses, order and paging."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, case, func, literal, not_, or_, select, true

from ..errors import ApiError
from ..objects import BOOLEAN, DATE, DATETIME, OBJECT_TYPE, OBJECT_TYPES, OBJECTS, PICKLIST, REF, Field
from ..store import Store, to_api_value
from ..timestamps import format_ts, parse_ts
from .nodes import BoolOp, Compare, Expr, InList, Like, Lit, Not, Query
from .tokens import INVALID, SYNTAX

__all__ = ["Compiled", "compile_query", "MAX_PAGESIZE"]

MAX_PAGESIZE = 1000
# Compiled statements kept per store (`store.compiled`), by query: a repeated query skips building its SQLAlchemy
# statement, most of a query's CPU here, so the stand-in's own time stays small next to its latency knob.
COMPILED_KEPT = 512


TYPE_NAME = {t.id: t.api_name for t in OBJECT_TYPES}
TYPE_ID = {t.api_name: t.id for t in OBJECT_TYPES}
TYPE_LABEL = {t.id: t.label for t in OBJECT_TYPES}


@dataclass
class _Resolved:
    column: ColumnElement
    field: Field
    key: str


@dataclass
class Compiled:
    """A query ready to run: the page statement, the count statement, and how to shape rows."""

    page: Select
    count: Select
    keys: list[tuple[str, Field]] = field(default_factory=list)
    pagesize: int = MAX_PAGESIZE
    pageoffset: int = 0

    def shape(self, row: Any) -> dict:
        return {key: to_api_value(f, row[i]) for i, (key, f) in enumerate(self.keys)}


class _Compiler:
    def __init__(self, store: Store, query: Query) -> None:
        if query.object not in OBJECTS:
            raise ApiError(INVALID, f"Object [{query.object}] does not exist or is not queryable")
        self.store = store
        self.query = query
        self.obj = OBJECTS[query.object]
        self.base = store.tables[query.object]
        self.source: FromClause = self.base
        self.joins: dict[str, FromClause] = {}

    def resolve(self, name: str) -> _Resolved:
        fields = self.obj.fields
        if "." not in name:
            f = fields.get(name)
            if f is None:
                raise ApiError(INVALID, f"Invalid field [{name}] on object [{self.obj.name}]")
            return _Resolved(self.base.c[name], f, name)
        rel, _, target_field = name.partition(".")
        ref_name = rel[:-1] if rel.endswith("r") and rel[:-1] in fields else rel
        ref = fields.get(ref_name)
        if ref is None or (ref.type != REF and ref.type != OBJECT_TYPE) or "." in target_field:
            raise ApiError(INVALID, f"Invalid relationship [{rel}] on object [{self.obj.name}]")
        col = self.base.c[ref_name]
        if ref.type == OBJECT_TYPE:
            text = Field(target_field, target_field, "String")
            if target_field == "api_name__v":
                return _Resolved(case(TYPE_NAME, value=col, else_=None), text, name)
            if target_field in ("name__v", "label__v"):
                return _Resolved(case(TYPE_LABEL, value=col, else_=None), text, name)
            if target_field == "id":
                return _Resolved(col, Field("id", "ID", "ID"), name)
            raise ApiError(INVALID, f"Invalid field [{target_field}] on relationship [{rel}]")
        target = OBJECTS[ref.object or ""]
        tf = target.fields.get(target_field)
        if tf is None:
            raise ApiError(INVALID, f"Invalid field [{target_field}] on object [{target.name}]")
        alias = self.joins.get(ref_name)
        if alias is None:
            alias = self.store.tables[target.name].alias(f"rel_{ref_name}")
            self.joins[ref_name] = alias
            self.source = self.source.outerjoin(alias, alias.c.id == col)
        return _Resolved(alias.c[target_field], tf, name)

    def value(self, r: _Resolved, lit: Lit) -> Any:
        f = r.field
        if lit.kind == "null":
            return None
        if f.type == BOOLEAN:
            if lit.kind == "bool":
                return lit.value
            if lit.kind == "str" and lit.value.lower() in ("true", "false"):
                return lit.value.lower() == "true"
            raise ApiError(INVALID, f"Field [{r.key}] takes true or false, not [{lit.value}]")
        if lit.kind == "bool":
            raise ApiError(INVALID, f"Field [{r.key}] does not take a boolean")
        text = str(lit.value)
        if f.type == DATE:
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise ApiError(INVALID, f"Invalid date [{text}] for field [{r.key}]") from None
        if f.type == DATETIME:
            ms = parse_ts(text)
            if ms is None:
                raise ApiError(INVALID, f"Invalid date time [{text}] for field [{r.key}]")
            return format_ts(ms)
        if f.type == OBJECT_TYPE:
            return TYPE_ID.get(text, text)
        return text

    def where(self, e: Expr) -> ColumnElement[bool]:
        if isinstance(e, BoolOp):
            parts = [self.where(i) for i in e.items]
            return and_(*parts) if e.op == "AND" else or_(*parts)
        if isinstance(e, Not):
            return not_(self.where(e.item))
        r = self.resolve(e.field)
        col = r.column
        if isinstance(e, Compare):
            v = self.value(r, e.value)
            if v is None:
                if e.op not in ("=", "!="):
                    raise ApiError(SYNTAX, f"Operator [{e.op}] cannot compare with null")
                return col.is_(None) if e.op == "=" else col.is_not(None)
            ops = {"=": col.__eq__, "!=": col.__ne__, "<": col.__lt__, ">": col.__gt__,
                   "<=": col.__le__, ">=": col.__ge__}
            return ops[e.op](v)
        if isinstance(e, InList):
            if e.contains and r.field.type not in (PICKLIST, "String"):
                raise ApiError(INVALID, f"CONTAINS takes a picklist field, not [{r.key}]")
            values = [self.value(r, lit) for lit in e.values]
            cond = col.in_([v for v in values if v is not None])
            if any(v is None for v in values):
                cond = or_(cond, col.is_(None))
            return not_(cond) if e.negate else cond
        if isinstance(e, Like):
            if r.field.type in (BOOLEAN, DATE, DATETIME):
                raise ApiError(INVALID, f"LIKE does not apply to field [{r.key}]")
            pattern = e.pattern.replace("\\", "\\\\").replace("_", "\\_").lower()
            cond = func.vlower(col).like(literal(pattern), escape="\\")
            return not_(cond) if e.negate else cond
        raise AssertionError(e)

    def compile(self) -> Compiled:
        q = self.query
        selected = [self.resolve(name) for name in q.fields]
        cond = self.where(q.where) if q.where is not None else true()
        order = []
        for name, desc in q.order:
            col = self.resolve(name).column
            order.append(col.desc() if desc else col.asc())
        order.append(self.base.c.id.asc())
        pagesize = MAX_PAGESIZE if q.pagesize is None else min(q.pagesize, MAX_PAGESIZE)
        if pagesize == 0:
            raise ApiError(SYNTAX, "PAGESIZE must be at least 1")
        offset = q.pageoffset or 0
        page = (select(*[r.column for r in selected]).select_from(self.source).where(cond)
                .order_by(*order).limit(pagesize).offset(offset))
        count = select(func.count()).select_from(self.source).where(cond)
        return Compiled(page, count, [(r.key, r.field) for r in selected], pagesize, offset)


def compile_query(store: Store, query: Query, pagesize: int | None = None, pageoffset: int | None = None) -> Compiled:
    """Compile a parsed query; `pagesize`/`pageoffset` override the query's own (as page URLs do). The same query
    compiles to the same statements (remembered: a bounded number per store; errors are raised each time)."""
    if pagesize is not None or pageoffset is not None:
        query = Query(query.fields, query.object, query.where, query.order,
                      query.pagesize if pagesize is None else pagesize,
                      query.pageoffset if pageoffset is None else pageoffset)
    kept = store.compiled
    key = repr(query)  # not the query itself: 1 == 1.0 == True, but they compile to different literals
    found = kept.get(key)
    if found is None:
        found = _Compiler(store, query).compile()
        if len(kept) >= COMPILED_KEPT:
            kept.pop(next(iter(kept)))  # the oldest first
        kept[key] = found
    return found

"""Running SOQL: the statement for a query, and its rows as REST records or a count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, select

from ..errors import ApiError
from ..objects import SObject, object_named
from ..store import Store
from .compiler import Scope, where
from .nodes import Count, Path, Query
from .parser import parse
from .tokens import malformed

__all__ = ["SoqlResult", "run", "MAX_OFFSET"]

MAX_OFFSET = 2000


@dataclass
class SoqlResult:
    """Rows of a query as REST records, or a bare count for `SELECT COUNT()`."""

    sobject: str
    records: list[dict]
    count: int | None = None


def run(store: Store, text: str, *, today: date, base: str, include_deleted: bool = False) -> SoqlResult:
    """Parse, compile and execute a query; `base` is `/services/data/vNN.N` for record urls."""
    plan = _plan(store, text, today, include_deleted)
    if plan.count is not None:
        return _count(store, plan.stmt, plan.count, plan.obj, plan.query)
    scope = plan.scope
    rel_keys = list(scope.joins)
    return SoqlResult(plan.obj.name, [_record(row._mapping, plan.obj, plan.selected, rel_keys, scope, base)
                                      for row in store.run(plan.stmt)])


@dataclass(frozen=True)
class _Plan:
    """A query compiled: its statement (a count's when `count` is set), columns and joins."""

    query: Query
    obj: SObject
    scope: Scope
    selected: list[tuple[Any, list[str]]]
    stmt: Select
    count: Count | None


# Plans kept per store (`store.plans`), by (text, today, include_deleted): a repeated query skips parsing and
# building its SQLAlchemy statement, most of a query's CPU here, so the stand-in's own time stays small next to its
# latency knob. Errors are raised each time.
PLANS_KEPT = 512


def _plan(store: Store, text: str, today: date, include_deleted: bool) -> _Plan:
    kept = store.plans
    key = (text, today, include_deleted)
    plan = kept.get(key)
    if plan is None:
        plan = _compile(store, text, today, include_deleted)
        if len(kept) >= PLANS_KEPT:
            kept.pop(next(iter(kept)))  # the oldest first
        kept[key] = plan
    return plan


def _compile(store: Store, text: str, today: date, include_deleted: bool) -> _Plan:
    q = parse(text)
    obj = _queried(q)
    scope = Scope(q, obj, store)
    counts = [i for i in q.items if isinstance(i, Count)]
    if counts and len(q.items) > 1:
        bad = counts[0] if q.items[0] is not counts[0] else q.items[1]
        raise malformed(text, bad.pos, "Aggregate and non-aggregate fields cannot be mixed without GROUP BY")
    selected = _selected(scope)
    conds = [] if include_deleted else [scope.root.c.IsDeleted.is_(False)]
    if q.where is not None:
        conds.append(where(scope, q.where, today))
    if counts:
        return _Plan(q, obj, scope, selected, _count_statement(scope, conds, counts[0]), counts[0])
    return _Plan(q, obj, scope, selected, _statement(scope, selected, conds), None)


def _queried(q: Query) -> SObject:
    """The object a query reads, if it exists and the offset is within Salesforce's bound."""
    obj = object_named(q.sobject)
    if obj is None:
        raise malformed(q.text, q.sobject_pos, f"sObject type '{q.sobject}' is not supported. If you are attempting "
                         "to use a custom object, be sure to append the '__c' after the entity name. Please reference "
                         "your WSDL or the describe call for the appropriate names.", "INVALID_TYPE")
    if q.offset is not None and q.offset > MAX_OFFSET:
        raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    return obj


def _selected(scope: Scope) -> list[tuple[Any, list[str]]]:
    """The selected columns with their canonical paths, in order; each field path may appear once."""
    selected: list[tuple[Any, list[str]]] = []
    seen: set[str] = set()
    for item in scope.query.items:
        if isinstance(item, Path):
            col, _f, canon = scope.column(item)
            key = ".".join(canon).lower()
            if key in seen:
                raise malformed(scope.query.text, item.pos, f"duplicate field selected: {'.'.join(canon)}")
            seen.add(key)
            selected.append((col, canon))
        elif item.path is not None:
            scope.column(item.path)
    return selected


def _statement(scope: Scope, selected: list[tuple[Any, list[str]]], conds: list) -> Select:
    """SELECT the columns, the row id and each joined parent's id; ORDER BY the query's order, then Id."""
    q = scope.query
    orders = []
    for o in q.order:
        col, _f, _ = scope.column(o.path)
        ordered = col.desc() if o.desc else col.asc()
        if o.nulls == "FIRST":
            ordered = ordered.nulls_first()
        elif o.nulls == "LAST":
            ordered = ordered.nulls_last()
        orders.append(ordered)
    cols = [c.label(f"c{i}") for i, (c, _) in enumerate(selected)]
    cols.append(scope.root.c.Id.label("_id"))
    cols.extend(scope.joins[k][0].c.Id.label(f"r{i}") for i, k in enumerate(scope.joins))
    stmt: Select = select(*cols).select_from(scope.source).where(*conds).order_by(*orders, scope.root.c.Id)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    if q.offset:
        stmt = stmt.offset(q.offset)
    return stmt


def _record(m: Any, obj: SObject, selected: list[tuple[Any, list[str]]], rel_keys: list, scope: Scope,
            base: str) -> dict:
    """A result row as a REST record, parents nested under their relationship names."""
    rec: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{base}/sobjects/{obj.name}/{m['_id']}"}}
    parent_ids = {k: m[f"r{i}"] for i, k in enumerate(rel_keys)}
    for i, (_c, canon) in enumerate(selected):
        _put(rec, canon, m[f"c{i}"], parent_ids, scope, base)
    return rec


def _put(rec: dict, canon: list[str], value: Any, parent_ids: dict, scope: Scope, base: str) -> None:
    target = rec
    for depth in range(1, len(canon)):
        key = tuple(canon[:depth])
        name = canon[depth - 1]
        if name not in target:
            pid = parent_ids.get(key)
            if pid is None:
                target[name] = None
            else:
                sobj = scope.joins[key][1].name
                target[name] = {"attributes": {"type": sobj, "url": f"{base}/sobjects/{sobj}/{pid}"}}
        if target[name] is None:
            return
        target = target[name]
    target[canon[-1]] = value


def _count_statement(scope: Scope, conds: list, count: Count) -> Select:
    if count.path is None:
        return select(func.count()).select_from(scope.source).where(*conds)
    col, _f, _ = scope.column(count.path)
    return select(func.count(col)).select_from(scope.source).where(*conds)


def _count(store: Store, stmt: Select, count: Count, obj: SObject, q: Query) -> SoqlResult:
    n = store.run(stmt)[0][0]
    if q.offset:
        n = max(0, n - q.offset)
    if q.limit is not None:
        n = min(n, q.limit)
    if count.path is None:
        return SoqlResult(obj.name, [], count=n)
    return SoqlResult("AggregateResult", [{"attributes": {"type": "AggregateResult"}, count.alias or "expr0": n}])

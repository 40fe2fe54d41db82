"""SOQL: a tokenizer and parser to a small AST, compiled to SQLAlchemy over the org's tables."""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, Table, and_, func, not_, or_, select, true
from sqlalchemy.orm import aliased

from .errors import ApiError
from .objects import Field, SObject, object_named
from .rules import normalize_id, valid_id
from .store import Store
from .timestamps import format_ts, parse_date, parse_ts

__all__ = ["Query", "parse", "run", "SoqlResult"]

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
            "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT", "GROUP", "HAVING", "INCLUDES",
            "EXCLUDES", "WITH", "FOR"}
DATE_WORDS = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
MAX_OFFSET = 2000
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str  # ident, keyword, string, number, date, datetime, op, punct, eof
    value: str
    pos: int
    raw: str = ""


@dataclass
class Path:
    parts: list[str]
    pos: int


@dataclass
class Count:
    path: Path | None
    alias: str | None
    pos: int


@dataclass
class Lit:
    kind: str  # string, number, date, datetime, null, boolean
    value: Any
    pos: int
    raw: str = ""


@dataclass
class Cmp:
    path: Path
    op: str
    value: Lit


@dataclass
class In:
    path: Path
    values: list[Lit]
    negate: bool


@dataclass
class Like:
    path: Path
    pattern: Lit


@dataclass
class BoolOp:
    op: str  # AND / OR
    items: list[Any]


@dataclass
class Not:
    item: Any


@dataclass
class Order:
    path: Path
    desc: bool
    nulls: str | None


@dataclass
class Query:
    text: str
    items: list[Path | Count]
    sobject: str
    sobject_pos: int
    where: Any = None
    order: list[Order] = field(default_factory=list)
    limit: int | None = None
    offset: int | None = None


def _malformed(text: str, pos: int, message: str, code: str = "MALFORMED_QUERY") -> ApiError:
    snippet = text if len(text) <= 200 else text[max(0, pos - 80):pos + 80]
    return ApiError(400, code, f"\n{snippet}\nERROR at Row:1:Column:{pos + 1}\n{message}")


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        if text[i] == "'":
            out, j = [], i + 1
            while True:
                if j >= len(text):
                    raise _malformed(text, i, "unexpected token: <EOF>: unterminated string")
                c = text[j]
                if c == "\\" and j + 1 < len(text):
                    nxt = text[j + 1]
                    out.append(_ESCAPES.get(nxt, nxt if nxt in "%_" else "\\" + nxt))
                    j += 2
                    continue
                if c == "'":
                    break
                out.append(c)
                j += 1
            tokens.append(Token("string", "".join(out), i, text[i + 1:j]))
            i = j + 1
            continue
        m = _TOKEN.match(text, i)
        if m is None:
            raise _malformed(text, i, f"unexpected token: '{text[i]}'")
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "ident" and value.upper() in KEYWORDS:
            tokens.append(Token("keyword", value.upper(), i))
        elif kind != "ws":
            tokens.append(Token(kind, value, i))
        i = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, tok: Token | None = None) -> ApiError:
        tok = tok or self.tok
        shown = "<EOF>" if tok.kind == "eof" else (f"'{tok.raw}'" if tok.kind == "string" else tok.value)
        return _malformed(self.text, tok.pos, f"unexpected token: {shown}")

    def accept(self, kind: str, value: str | None = None) -> Token | None:
        tok = self.tok
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: str | None = None) -> Token:
        tok = self.accept(kind, value)
        if tok is None:
            raise self.error()
        return tok

    def parse(self) -> Query:
        self.expect("keyword", "SELECT")
        items: list[Path | Count] = [self.select_item()]
        while self.accept("punct", ","):
            items.append(self.select_item())
        self.expect("keyword", "FROM")
        obj = self.expect("ident")
        q = Query(self.text, items, obj.value, obj.pos)
        if self.accept("keyword", "WHERE"):
            q.where = self.condition()
        if self.accept("keyword", "ORDER"):
            self.expect("keyword", "BY")
            q.order.append(self.order_item())
            while self.accept("punct", ","):
                q.order.append(self.order_item())
        if self.accept("keyword", "LIMIT"):
            q.limit = self.integer()
        if self.accept("keyword", "OFFSET"):
            q.offset = self.integer()
        if self.tok.kind != "eof":
            raise self.error()
        return q

    def integer(self) -> int:
        tok = self.expect("number")
        if not tok.value.isdigit():
            raise self.error(tok)
        return int(tok.value)

    def path(self) -> Path:
        tok = self.tok
        if tok.kind != "ident":
            raise self.error()
        self.i += 1
        return Path(tok.value.split("."), tok.pos)

    def select_item(self) -> Path | Count:
        tok = self.tok
        if self.accept("keyword", "COUNT"):
            self.expect("punct", "(")
            inner = None if self.tok.kind == "punct" else self.path()
            self.expect("punct", ")")
            alias = self.accept("ident")
            return Count(inner, alias.value if alias else None, tok.pos)
        return self.path()

    def order_item(self) -> Order:
        path = self.path()
        desc = bool(self.accept("keyword", "DESC"))
        if not desc:
            self.accept("keyword", "ASC")
        nulls = None
        if self.accept("keyword", "NULLS"):
            nulls = self.accept("keyword", "FIRST") or self.expect("keyword", "LAST")
            return Order(path, desc, nulls.value)
        return Order(path, desc, nulls)

    def condition(self) -> Any:
        first = self.unary()
        items, op = [first], None
        while self.tok.kind == "keyword" and self.tok.value in ("AND", "OR"):
            if op is not None and self.tok.value != op:
                raise self.error()  # SOQL needs parentheses to mix AND and OR
            op = self.next().value
            items.append(self.unary())
        return first if op is None else BoolOp(op, items)

    def unary(self) -> Any:
        if self.accept("keyword", "NOT"):
            return Not(self.unary())
        if self.accept("punct", "("):
            inner = self.condition()
            self.expect("punct", ")")
            return inner
        path = self.path()
        if self.accept("keyword", "NOT"):
            if self.accept("keyword", "IN"):
                return In(path, self.value_list(), True)
            self.expect("keyword", "LIKE")
            return Not(Like(path, self.value()))
        if self.accept("keyword", "IN"):
            return In(path, self.value_list(), False)
        if self.accept("keyword", "LIKE"):
            return Like(path, self.value())
        op = self.expect("op").value
        return Cmp(path, "!=" if op == "<>" else op, self.value())

    def value_list(self) -> list[Lit]:
        self.expect("punct", "(")
        if self.tok.kind == "keyword" and self.tok.value == "SELECT":
            raise _malformed(self.text, self.tok.pos, "semi-join sub-selects are not supported by this stand-in")
        values = [self.value()]
        while self.accept("punct", ","):
            values.append(self.value())
        self.expect("punct", ")")
        return values

    def value(self) -> Lit:
        tok = self.next()
        if tok.kind == "string":
            return Lit("string", tok.value, tok.pos, tok.raw)
        if tok.kind == "number":
            return Lit("number", float(tok.value), tok.pos)
        if tok.kind == "date":
            if parse_date(tok.value) is None:
                raise self.error(tok)
            return Lit("date", tok.value, tok.pos)
        if tok.kind == "datetime":
            parsed = parse_ts(tok.value)
            if parsed is None:
                raise self.error(tok)
            return Lit("datetime", format_ts(parsed), tok.pos)
        if tok.kind == "keyword" and tok.value == "NULL":
            return Lit("null", None, tok.pos)
        if tok.kind == "keyword" and tok.value in ("TRUE", "FALSE"):
            return Lit("boolean", tok.value == "TRUE", tok.pos)
        if tok.kind == "ident" and tok.value.upper() in DATE_WORDS:
            return Lit("dateword", DATE_WORDS[tok.value.upper()], tok.pos)
        raise self.error(tok)


def parse(text: str) -> Query:
    """Parse SOQL text; raise ApiError(MALFORMED_QUERY) on a syntax error."""
    return _Parser(text).parse()


@dataclass
class SoqlResult:
    """Rows of a query as REST records, or a bare count for `SELECT COUNT()`."""

    sobject: str
    records: list[dict]
    count: int | None = None


class _Scope:
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
                raise _malformed(self.query.text, path.pos, f"Didn't understand relationship '{part}' in field path. "
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
            raise _malformed(self.query.text, path.pos, f"No such column '{path.parts[-1]}' on entity '{obj.name}'. If "
                             "you are attempting to use a custom field, be sure to append the '__c' after the custom "
                             "field name. Please reference your WSDL or the describe call for the appropriate names.",
                             "INVALID_FIELD")
        return table.c[f.name], f, canon + [f.name]


def _typed(scope: _Scope, f: Field, lit: Lit, today: date) -> Any:
    text = scope.query.text
    if lit.kind == "null":
        return None
    want = {"boolean": "boolean", "date": "date", "datetime": "dateTime"}.get(f.type, "string")
    bad = _malformed(text, lit.pos, f"value of filter criterion for field '{f.name}' must be of type {want}"
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
            raise _malformed(text, lit.pos, f"invalid ID field: {lit.value}", "INVALID_QUERY_FILTER_OPERATOR")
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
            out.append("\\" + nxt if nxt in "%_\\" else _ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _where(scope: _Scope, node: Any, today: date) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_where(scope, n, today) for n in node.items]
        return and_(*parts) if node.op == "AND" else or_(*parts)
    if isinstance(node, Not):
        return not_(_where(scope, node.item, today))
    if isinstance(node, Like):
        col, f, _ = scope.column(node.path)
        if not f.is_text or node.pattern.kind != "string":
            raise _malformed(scope.query.text, node.path.pos, f"invalid operator on field: {f.name}: LIKE",
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
            raise _malformed(scope.query.text, node.value.pos, "invalid operator on null value", "INVALID_FIELD")
        return col.is_(None) if node.op == "=" else col.is_not(None)
    if f.type == "boolean" and node.op not in ("=", "!="):
        raise _malformed(scope.query.text, node.path.pos, f"invalid operator on boolean field: {f.name}",
                         "INVALID_FIELD")
    if node.op == "!=":
        return or_(col != value, col.is_(None))
    return _OPS[node.op](col, value)


def run(store: Store, text: str, *, today: date, base: str, include_deleted: bool = False) -> SoqlResult:
    """Parse, compile and execute a query; `base` is `/services/data/vNN.N` for record urls."""
    q = parse(text)
    obj = object_named(q.sobject)
    if obj is None:
        raise _malformed(text, q.sobject_pos, f"sObject type '{q.sobject}' is not supported. If you are attempting to "
                         "use a custom object, be sure to append the '__c' after the entity name. Please reference "
                         "your WSDL or the describe call for the appropriate names.", "INVALID_TYPE")
    if q.offset is not None and q.offset > MAX_OFFSET:
        raise ApiError(400, "NUMBER_OUTSIDE_VALID_RANGE", f"Maximum SOQL offset allowed is {MAX_OFFSET}")
    scope = _Scope(q, obj, store)
    counts = [i for i in q.items if isinstance(i, Count)]
    if counts and len(q.items) > 1:
        bad = counts[0] if q.items[0] is not counts[0] else q.items[1]
        raise _malformed(text, bad.pos, "Aggregate and non-aggregate fields cannot be mixed without GROUP BY")
    selected: list[tuple[Any, list[str]]] = []
    seen: set[str] = set()
    for item in q.items:
        if isinstance(item, Path):
            col, _f, canon = scope.column(item)
            key = ".".join(canon).lower()
            if key in seen:
                raise _malformed(text, item.pos, f"duplicate field selected: {'.'.join(canon)}")
            seen.add(key)
            selected.append((col, canon))
        elif item.path is not None:
            scope.column(item.path)
    conds = [] if include_deleted else [scope.root.c.IsDeleted.is_(False)]
    if q.where is not None:
        conds.append(_where(scope, q.where, today))
    if counts:
        return _count(store, scope, conds, counts[0], obj, q)
    orders = []
    for o in q.order:
        col, _f, _ = scope.column(o.path)
        ordered = col.desc() if o.desc else col.asc()
        if o.nulls == "FIRST":
            ordered = ordered.nulls_first()
        elif o.nulls == "LAST":
            ordered = ordered.nulls_last()
        orders.append(ordered)
    rel_keys = list(scope.joins)
    cols = [c.label(f"c{i}") for i, (c, _) in enumerate(selected)]
    cols.append(scope.root.c.Id.label("_id"))
    cols.extend(scope.joins[k][0].c.Id.label(f"r{i}") for i, k in enumerate(rel_keys))
    stmt: Select = select(*cols).select_from(scope.source).where(*conds).order_by(*orders, scope.root.c.Id)
    if q.limit is not None:
        stmt = stmt.limit(q.limit)
    if q.offset:
        stmt = stmt.offset(q.offset)
    records = []
    for row in store.run(stmt):
        m = row._mapping
        rec: dict[str, Any] = {"attributes": {"type": obj.name, "url": f"{base}/sobjects/{obj.name}/{m['_id']}"}}
        parent_ids = {k: m[f"r{i}"] for i, k in enumerate(rel_keys)}
        for i, (_c, canon) in enumerate(selected):
            _put(rec, canon, m[f"c{i}"], parent_ids, scope, base)
        records.append(rec)
    return SoqlResult(obj.name, records)


def _put(rec: dict, canon: list[str], value: Any, parent_ids: dict, scope: _Scope, base: str) -> None:
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


def _count(store: Store, scope: _Scope, conds: list, count: Count, obj: SObject, q: Query) -> SoqlResult:
    if count.path is None:
        stmt = select(func.count()).select_from(scope.source).where(*conds)
    else:
        col, _f, _ = scope.column(count.path)
        stmt = select(func.count(col)).select_from(scope.source).where(*conds)
    n = store.run(stmt)[0][0]
    if q.offset:
        n = max(0, n - q.offset)
    if q.limit is not None:
        n = min(n, q.limit)
    if count.path is None:
        return SoqlResult(obj.name, [], count=n)
    return SoqlResult("AggregateResult", [{"attributes": {"type": "AggregateResult"}, count.alias or "expr0": n}])

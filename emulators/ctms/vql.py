"""VQL for the CTMS stand-in: a tokenizer and parser to an AST, and a compiler from the AST to SQLAlchemy.

Supported: `SELECT f, rel.f FROM object [WHERE expr] [ORDER BY f [ASC|DESC], ...] [PAGESIZE n] [PAGEOFFSET n]`.
`expr` combines `f op value` (`=`, `!=`, `<>`, `<`, `>`, `<=`, `>=`), `f [NOT] IN (v, ...)`, `f CONTAINS (v, ...)`
(membership of a picklist value), `f [NOT] LIKE 'pat%'` (case-insensitive, `%` is the only wildcard), `f = null` and
`f != null`, with `AND`, `OR`, `NOT` and parentheses. Literals: 'text' (backslash escapes), numbers, `true`/`false`,
`null`; dates and timestamps are quoted text. Relationship fields follow a reference with its relationship name
(`person__vr.name__v`, the field name plus `r`) or the field name (`object_type__v.api_name__v`).

Errors, as the stand-in reports them: malformed text -> `INCORRECT_QUERY_SYNTAX_ERROR`; an unknown object, an
unknown field, or a literal that does not fit the field's type -> `INVALID_DATA`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, FromClause, Select, and_, case, func, literal, not_, or_, select, true

from .objects import BOOLEAN, DATE, DATETIME, OBJECT_TYPE, OBJECT_TYPES, OBJECTS, PICKLIST, REF, Field
from .store import Store, format_ts, parse_ts, to_api_value

__all__ = ["VqlError", "Query", "parse", "Compiled", "compile_query", "MAX_PAGESIZE"]

MAX_PAGESIZE = 1000
SYNTAX = "INCORRECT_QUERY_SYNTAX_ERROR"
INVALID = "INVALID_DATA"
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "CONTAINS", "LIKE", "ORDER", "BY", "ASC", "DESC",
            "PAGESIZE", "PAGEOFFSET", "NULL", "TRUE", "FALSE"}


class VqlError(Exception):
    """A query Vault would refuse; `type` is the Vault error type."""

    def __init__(self, type_: str, message: str) -> None:
        super().__init__(message)
        self.type = type_
        self.message = message


# -- tokens ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Token:
    kind: str  # "kw", "ident", "str", "num", "op", "(", ")", ",", "end"
    value: Any
    pos: int


TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>'(?:[^'\\]|\\.)*')
  | (?P<num>-?\d+(?:\.\d+)?)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
""", re.VERBOSE)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = TOKEN_RE.match(text, pos)
        if m is None:
            raise VqlError(SYNTAX, f"Unexpected character [{text[pos]}] at position {pos}")
        kind = m.lastgroup
        raw = m.group()
        if kind == "str":
            tokens.append(Token("str", re.sub(r"\\(.)", r"\1", raw[1:-1]), pos))
        elif kind == "num":
            tokens.append(Token("num", float(raw) if "." in raw else int(raw), pos))
        elif kind == "op":
            tokens.append(Token("op", "!=" if raw == "<>" else raw, pos))
        elif kind == "punct":
            tokens.append(Token(raw, raw, pos))
        elif kind == "ident":
            upper = raw.upper()
            tokens.append(Token("kw", upper, pos) if upper in KEYWORDS else Token("ident", raw, pos))
        pos = m.end()
    tokens.append(Token("end", None, pos))
    return tokens


# -- AST ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lit:
    kind: str  # "str", "num", "bool", "null"
    value: Any


@dataclass(frozen=True)
class Compare:
    field: str
    op: str
    value: Lit


@dataclass(frozen=True)
class InList:
    field: str
    values: tuple[Lit, ...]
    negate: bool = False
    contains: bool = False


@dataclass(frozen=True)
class Like:
    field: str
    pattern: str
    negate: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # "AND", "OR"
    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Not:
    item: Expr


Expr = Compare | InList | Like | BoolOp | Not


@dataclass(frozen=True)
class Query:
    fields: tuple[str, ...]
    object: str
    where: Expr | None = None
    order: tuple[tuple[str, bool], ...] = ()  # (field, descending)
    pagesize: int | None = None
    pageoffset: int | None = None


# -- parser ------------------------------------------------------------------------------------------------

class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def fail(self, expected: str) -> VqlError:
        tok = self.tok
        found = "end of query" if tok.kind == "end" else f"[{tok.value}]"
        return VqlError(SYNTAX, f"Expected {expected} but found {found} at position {tok.pos}")

    def accept(self, kind: str, value: Any = None) -> Token | None:
        tok = self.tok
        if tok.kind == kind and (value is None or tok.value == value):
            self.i += 1
            return tok
        return None

    def expect(self, kind: str, value: Any = None, what: str | None = None) -> Token:
        tok = self.accept(kind, value)
        if tok is None:
            raise self.fail(what or (value if value is not None else kind))
        return tok

    def ident(self) -> str:
        return self.expect("ident", what="a field name").value

    def query(self) -> Query:
        self.expect("kw", "SELECT")
        fields = [self.ident()]
        while self.accept(","):
            fields.append(self.ident())
        self.expect("kw", "FROM")
        obj = self.expect("ident", what="an object name").value
        where = None
        if self.accept("kw", "WHERE"):
            where = self.expr()
        order: list[tuple[str, bool]] = []
        if self.accept("kw", "ORDER"):
            self.expect("kw", "BY")
            while True:
                name = self.ident()
                desc = bool(self.accept("kw", "DESC"))
                if not desc:
                    self.accept("kw", "ASC")
                order.append((name, desc))
                if not self.accept(","):
                    break
        pagesize = pageoffset = None
        while self.tok.kind == "kw" and self.tok.value in ("PAGESIZE", "PAGEOFFSET"):
            word = self.next().value
            num = self.expect("num", what="a number").value
            if not isinstance(num, int) or num < 0:
                raise VqlError(SYNTAX, f"{word} must be a non-negative whole number")
            if word == "PAGESIZE":
                pagesize = num
            else:
                pageoffset = num
        if self.tok.kind != "end":
            raise self.fail("end of query")
        return Query(tuple(fields), obj, where, tuple(order), pagesize, pageoffset)

    def expr(self) -> Expr:
        items = [self.conj()]
        while self.accept("kw", "OR"):
            items.append(self.conj())
        return items[0] if len(items) == 1 else BoolOp("OR", tuple(items))

    def conj(self) -> Expr:
        items = [self.unary()]
        while self.accept("kw", "AND"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else BoolOp("AND", tuple(items))

    def unary(self) -> Expr:
        if self.accept("kw", "NOT"):
            return Not(self.unary())
        if self.accept("("):
            inner = self.expr()
            self.expect(")", what="')'")
            return inner
        return self.predicate()

    def predicate(self) -> Expr:
        name = self.ident()
        if (op := self.accept("op")) is not None:
            return Compare(name, op.value, self.literal())
        negate = bool(self.accept("kw", "NOT"))
        if self.accept("kw", "IN"):
            return InList(name, self.literal_list(), negate=negate)
        if self.accept("kw", "LIKE"):
            pattern = self.expect("str", what="a quoted pattern").value
            return Like(name, pattern, negate=negate)
        if not negate and self.accept("kw", "CONTAINS"):
            return InList(name, self.literal_list(), contains=True)
        raise self.fail("an operator")

    def literal_list(self) -> tuple[Lit, ...]:
        self.expect("(", what="'('")
        values = [self.literal()]
        while self.accept(","):
            values.append(self.literal())
        self.expect(")", what="')'")
        return tuple(values)

    def literal(self) -> Lit:
        tok = self.tok
        if tok.kind == "str":
            self.i += 1
            return Lit("str", tok.value)
        if tok.kind == "num":
            self.i += 1
            return Lit("num", tok.value)
        if tok.kind == "kw" and tok.value in ("TRUE", "FALSE"):
            self.i += 1
            return Lit("bool", tok.value == "TRUE")
        if tok.kind == "kw" and tok.value == "NULL":
            self.i += 1
            return Lit("null", None)
        raise self.fail("a value")


def parse(text: str) -> Query:
    """Parse VQL text into a Query; VqlError(INCORRECT_QUERY_SYNTAX_ERROR) when it is malformed."""
    if not text or not text.strip():
        raise VqlError("PARAMETER_REQUIRED", "Missing required parameter [q]")
    return _Parser(text).query()


# -- compiler ----------------------------------------------------------------------------------------------

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
            raise VqlError(INVALID, f"Object [{query.object}] does not exist or is not queryable")
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
                raise VqlError(INVALID, f"Invalid field [{name}] on object [{self.obj.name}]")
            return _Resolved(self.base.c[name], f, name)
        rel, _, target_field = name.partition(".")
        ref_name = rel[:-1] if rel.endswith("r") and rel[:-1] in fields else rel
        ref = fields.get(ref_name)
        if ref is None or (ref.type != REF and ref.type != OBJECT_TYPE) or "." in target_field:
            raise VqlError(INVALID, f"Invalid relationship [{rel}] on object [{self.obj.name}]")
        col = self.base.c[ref_name]
        if ref.type == OBJECT_TYPE:
            text = Field(target_field, target_field, "String")
            if target_field == "api_name__v":
                return _Resolved(case(TYPE_NAME, value=col, else_=None), text, name)
            if target_field in ("name__v", "label__v"):
                return _Resolved(case(TYPE_LABEL, value=col, else_=None), text, name)
            if target_field == "id":
                return _Resolved(col, Field("id", "ID", "ID"), name)
            raise VqlError(INVALID, f"Invalid field [{target_field}] on relationship [{rel}]")
        target = OBJECTS[ref.object or ""]
        tf = target.fields.get(target_field)
        if tf is None:
            raise VqlError(INVALID, f"Invalid field [{target_field}] on object [{target.name}]")
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
            raise VqlError(INVALID, f"Field [{r.key}] takes true or false, not [{lit.value}]")
        if lit.kind == "bool":
            raise VqlError(INVALID, f"Field [{r.key}] does not take a boolean")
        text = str(lit.value)
        if f.type == DATE:
            try:
                return date.fromisoformat(text).isoformat()
            except ValueError:
                raise VqlError(INVALID, f"Invalid date [{text}] for field [{r.key}]") from None
        if f.type == DATETIME:
            try:
                return format_ts(parse_ts(text))
            except ValueError:
                raise VqlError(INVALID, f"Invalid date time [{text}] for field [{r.key}]") from None
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
                    raise VqlError(SYNTAX, f"Operator [{e.op}] cannot compare with null")
                return col.is_(None) if e.op == "=" else col.is_not(None)
            ops = {"=": col.__eq__, "!=": col.__ne__, "<": col.__lt__, ">": col.__gt__,
                   "<=": col.__le__, ">=": col.__ge__}
            return ops[e.op](v)
        if isinstance(e, InList):
            if e.contains and r.field.type not in (PICKLIST, "String"):
                raise VqlError(INVALID, f"CONTAINS takes a picklist field, not [{r.key}]")
            values = [self.value(r, lit) for lit in e.values]
            cond = col.in_([v for v in values if v is not None])
            if any(v is None for v in values):
                cond = or_(cond, col.is_(None))
            return not_(cond) if e.negate else cond
        if isinstance(e, Like):
            if r.field.type in (BOOLEAN, DATE, DATETIME):
                raise VqlError(INVALID, f"LIKE does not apply to field [{r.key}]")
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
            raise VqlError(SYNTAX, "PAGESIZE must be at least 1")
        offset = q.pageoffset or 0
        page = (select(*[r.column for r in selected]).select_from(self.source).where(cond)
                .order_by(*order).limit(pagesize).offset(offset))
        count = select(func.count()).select_from(self.source).where(cond)
        return Compiled(page, count, [(r.key, r.field) for r in selected], pagesize, offset)


def compile_query(store: Store, query: Query, pagesize: int | None = None, pageoffset: int | None = None) -> Compiled:
    """Compile a parsed query; `pagesize`/`pageoffset` override the query's own (as page URLs do)."""
    if pagesize is not None or pageoffset is not None:
        query = Query(query.fields, query.object, query.where, query.order,
                      query.pagesize if pagesize is None else pagesize,
                      query.pageoffset if pageoffset is None else pageoffset)
    return _Compiler(store, query).compile()

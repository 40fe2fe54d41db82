"""The SOQL parser: tokens to a `Query`, with Salesforce's MALFORMED_QUERY messages."""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from ..timestamps import format_ts, parse_date, parse_ts
from .nodes import BoolOp, Cmp, Count, In, Like, Lit, Not, Order, Path, Query
from .tokens import DATE_WORDS, Token, malformed, tokenize

__all__ = ["parse"]

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
        return malformed(self.text, tok.pos, f"unexpected token: {shown}")

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
            raise malformed(self.text, self.tok.pos, "semi-join sub-selects are not supported by this stand-in")
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

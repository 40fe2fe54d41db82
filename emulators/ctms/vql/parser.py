"""The VQL parser: tokens to a `Query`, with Vault's INCORRECT_QUERY_SYNTAX_ERROR messages."""

from __future__ import annotations

import functools
from typing import Any

from ..errors import ApiError
from .nodes import BoolOp, Compare, Expr, InList, Like, Lit, Not, Query
from .tokens import SYNTAX, Token, tokenize

__all__ = ["parse"]

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

    def fail(self, expected: str) -> ApiError:
        tok = self.tok
        found = "end of query" if tok.kind == "end" else f"[{tok.value}]"
        return ApiError(SYNTAX, f"Expected {expected} but found {found} at position {tok.pos}")

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
                raise ApiError(SYNTAX, f"{word} must be a non-negative whole number")
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
    """Parse VQL text into a Query; ApiError(INCORRECT_QUERY_SYNTAX_ERROR) when it is malformed."""
    if not text or not text.strip():
        raise ApiError("PARAMETER_REQUIRED", "Missing required parameter [q]")
    return _parsed(text)


@functools.lru_cache(maxsize=512)
def _parsed(text: str) -> Query:
    """The same text parses to the same (immutable) query: a repeated one is not tokenized again (errors are
    raised each time: lru_cache keeps only results)."""
    return _Parser(text).query()

"""VQL tokens: keywords, literals and operators, with the positions errors point at."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ..errors import ApiError

__all__ = ["Token", "tokenize", "SYNTAX", "INVALID", "KEYWORDS"]

SYNTAX = "INCORRECT_QUERY_SYNTAX_ERROR"
INVALID = "INVALID_DATA"
KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "CONTAINS", "LIKE", "ORDER", "BY", "ASC", "DESC",
            "PAGESIZE", "PAGEOFFSET", "NULL", "TRUE", "FALSE"}


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
            raise ApiError(SYNTAX, f"Unexpected character [{text[pos]}] at position {pos}")
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

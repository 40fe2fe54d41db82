"""SOQL tokens: keywords, literals and operators, with the positions errors point at."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import ApiError

__all__ = ["Token", "tokenize", "malformed", "KEYWORDS", "DATE_WORDS", "ESCAPES"]

KEYWORDS = {"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "LIKE", "ORDER", "BY", "ASC", "DESC", "NULLS",
            "FIRST", "LAST", "LIMIT", "OFFSET", "NULL", "TRUE", "FALSE", "COUNT", "GROUP", "HAVING", "INCLUDES",
            "EXCLUDES", "WITH", "FOR"}
DATE_WORDS = {"TODAY": 0, "YESTERDAY": -1, "TOMORROW": 1}
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<number>[+-]?\d+(?:\.\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>!=|<>|<=|>=|=|<|>)
  | (?P<punct>[(),])
""", re.VERBOSE)
ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


@dataclass
class Token:
    kind: str  # ident, keyword, string, number, date, datetime, op, punct, eof
    value: str
    pos: int
    raw: str = ""


def malformed(text: str, pos: int, message: str, code: str = "MALFORMED_QUERY") -> ApiError:
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
                    raise malformed(text, i, "unexpected token: <EOF>: unterminated string")
                c = text[j]
                if c == "\\" and j + 1 < len(text):
                    nxt = text[j + 1]
                    out.append(ESCAPES.get(nxt, nxt if nxt in "%_" else "\\" + nxt))
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
            raise malformed(text, i, f"unexpected token: '{text[i]}'")
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "ident" and value.upper() in KEYWORDS:
            tokens.append(Token("keyword", value.upper(), i))
        elif kind != "ws":
            tokens.append(Token(kind, value, i))
        i = m.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens

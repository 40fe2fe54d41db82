"""The VQL syntax tree: filters, and the query with its fields, object, order and paging."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Lit", "Compare", "InList", "Like", "BoolOp", "Not", "Expr", "Query"]

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

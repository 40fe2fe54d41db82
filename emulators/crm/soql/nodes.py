"""The SOQL syntax tree: selected paths and counts, filters, order, and the query itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Path", "Count", "Lit", "Cmp", "In", "Like", "BoolOp", "Not", "Order", "Query"]

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

"""A small query builder for VQL and SOQL: allow-listed field names, every literal escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

from datasources.timestamps import SALESFORCE_TIME, VAULT_TIME

FIELD_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79}){0,2}$")
Scalar = str | int | float | bool | date | datetime | None


# Names already accepted: every query renders the same few dozen, many times a second (bounded all the same).
_ACCEPTED: set[str] = set()
ACCEPTED_KEPT = 10_000


def check_field(name: str) -> str:
    """Accept only plain API names (optionally one relationship hop); refuse anything else."""
    if type(name) is str and name in _ACCEPTED:
        return name
    if not isinstance(name, str) or not FIELD_PATTERN.match(name):
        raise ValueError(f"not an allowed field name: {name!r}")
    if len(_ACCEPTED) < ACCEPTED_KEPT:
        _ACCEPTED.add(name)
    return name


_FIELD_LISTS: dict[tuple[str, ...], str] = {}


def _field_list(fields: Sequence[str]) -> str:
    """`a, b, c` of accepted names, each once; the same few lists are rendered again and again (bounded as above)."""
    key = tuple(fields)
    text = _FIELD_LISTS.get(key)
    if text is None:
        text = ", ".join(check_field(f) for f in dict.fromkeys(key))
        if len(_FIELD_LISTS) < ACCEPTED_KEPT:
            _FIELD_LISTS[key] = text
    return text


_ESCAPED = re.compile(r"[\\'\"\n\r\t]")


def escape_string(value: str) -> str:
    """Backslash-escape a string literal the way VQL and SOQL both read it."""
    if not _ESCAPED.search(value):  # most literals (ids, names) need nothing: one search, not six replacements
        return value
    out = value.replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    return out.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")


def escape_like(value: str) -> str:
    """Escape a LIKE pattern's own wildcards so user text matches literally."""
    return escape_string(value).replace("%", "\\%").replace("_", "\\_")


class Dialect:
    name = "base"

    def literal(self, value: Scalar) -> str:
        if type(value) is str:  # the common case (ids), before the checks the other kinds need
            return f"'{escape_string(value)}'"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float):
            return repr(value)
        if isinstance(value, datetime):
            return self.datetime_literal(value)
        if isinstance(value, date):
            return self.date_literal(value)
        if isinstance(value, str):
            return f"'{escape_string(value)}'"
        raise TypeError(f"cannot use {type(value).__name__} in a query")

    def date_literal(self, value: date) -> str:
        raise NotImplementedError

    def datetime_literal(self, value: datetime) -> str:
        raise NotImplementedError

    def limit(self, n: int) -> str:
        raise NotImplementedError


class Vql(Dialect):
    name = "vql"

    def date_literal(self, value: date) -> str:
        return f"'{value.isoformat()}'"

    def datetime_literal(self, value: datetime) -> str:
        return f"'{VAULT_TIME.format(value)}'"

    def limit(self, n: int) -> str:
        return f"PAGESIZE {n}"


class Soql(Dialect):
    name = "soql"

    def date_literal(self, value: date) -> str:
        return value.isoformat()

    def datetime_literal(self, value: datetime) -> str:
        return SALESFORCE_TIME.format(value)

    def limit(self, n: int) -> str:
        return f"LIMIT {n}"


VQL = Vql()
SOQL = Soql()


class Cond:
    def render(self, d: Dialect) -> str:
        raise NotImplementedError


@dataclass(frozen=True)
class Cmp(Cond):
    field: str
    op: Literal["=", "!=", "<", ">", "<=", ">="]
    value: Scalar

    def render(self, d: Dialect) -> str:
        if self.op not in ("=", "!=", "<", ">", "<=", ">="):
            raise ValueError(f"operator {self.op!r}")
        return f"{check_field(self.field)} {self.op} {d.literal(self.value)}"


@dataclass(frozen=True)
class In(Cond):
    field: str
    values: Sequence[Scalar]

    def render(self, d: Dialect) -> str:
        if not self.values:
            raise ValueError("IN needs at least one value")
        return f"{check_field(self.field)} IN ({', '.join(d.literal(v) for v in self.values)})"


@dataclass(frozen=True)
class Like(Cond):
    field: str
    contains: str

    def render(self, d: Dialect) -> str:
        return f"{check_field(self.field)} LIKE '%{escape_like(self.contains)}%'"


@dataclass(frozen=True)
class And(Cond):
    parts: Sequence[Cond]

    def render(self, d: Dialect) -> str:
        return " AND ".join(f"({p.render(d)})" for p in self.parts)


@dataclass(frozen=True)
class Or(Cond):
    parts: Sequence[Cond]

    def render(self, d: Dialect) -> str:
        return " OR ".join(f"({p.render(d)})" for p in self.parts)


@dataclass
class Select:
    """SELECT fields FROM object [WHERE ...] [ORDER BY ...] [limit]."""

    obj: str
    fields: Sequence[str]
    where: list[Cond] = field(default_factory=list)
    order: list[tuple[str, str]] = field(default_factory=list)
    limit: int | None = None

    def filter(self, *conds: Cond | None) -> Select:
        self.where.extend(c for c in conds if c is not None)
        return self

    def order_by(self, *pairs: tuple[str, str]) -> Select:
        self.order.extend(pairs)
        return self

    def render(self, d: Dialect) -> str:
        text = f"SELECT {_field_list(self.fields)} FROM {check_field(self.obj)}"
        if self.where:
            text += " WHERE " + And(self.where).render(d) if len(self.where) > 1 else \
                " WHERE " + self.where[0].render(d)
        if self.order:
            parts = []
            for name, direction in self.order:
                if direction.upper() not in ("ASC", "DESC"):
                    raise ValueError(f"order direction {direction!r}")
                parts.append(f"{check_field(name)} {direction.upper()}")
            text += " ORDER BY " + ", ".join(parts)
        if self.limit is not None:
            text += " " + d.limit(int(self.limit))
        return text


def chunks(values: Iterable[str], size: int) -> list[list[str]]:
    """Split an IN-list so each query stays well under the backends' length limits."""
    items = list(dict.fromkeys(values))
    return [items[i:i + size] for i in range(0, len(items), size)]

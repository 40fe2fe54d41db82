"""VQL for the CTMS stand-in: tokens, a parser to a small syntax tree, and a compiler to SQL over the vault's tables.

Supported: `SELECT f, rel.f FROM object [WHERE expr] [ORDER BY f [ASC|DESC], ...] [PAGESIZE n] [PAGEOFFSET n]`.
`expr` combines `f op value` (`=`, `!=`, `<>`, `<`, `>`, `<=`, `>=`), `f [NOT] IN (v, ...)`, `f CONTAINS (v, ...)`
(membership of a picklist value), `f [NOT] LIKE 'pat%'` (case-insensitive, `%` is the only wildcard), `f = null` and
`f != null`, with `AND`, `OR`, `NOT` and parentheses. Literals: 'text' (backslash escapes), numbers, `true`/`false`,
`null`; dates and timestamps are quoted text. Relationship fields follow a reference with its relationship name
(`person__vr.name__v`, the field name plus `r`) or the field name (`object_type__v.api_name__v`).

Errors, as the stand-in reports them: malformed text -> `INCORRECT_QUERY_SYNTAX_ERROR`; an unknown object, an
unknown field, or a literal that does not fit the field's type -> `INVALID_DATA`.
"""

from .compiler import MAX_PAGESIZE, Compiled, compile_query
from .nodes import Query
from .parser import parse

__all__ = ["Query", "parse", "Compiled", "compile_query", "MAX_PAGESIZE"]

"""Validation kept per parsed document: the parser's cache hands back the same document for the same text, so a
document's verdict is found by its identity instead of by hashing its whole syntax tree on every request (as
strawberry's ValidationCache does: tens of microseconds for the timeline query)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document


class _Verdict:
    """One document's validation errors, with what they were found for (kept alive, so their ids stay theirs)."""

    __slots__ = ("schema", "document", "rules", "errors")

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, rules: tuple[Any, ...],
                 errors: list[GraphQLError]) -> None:
        self.schema, self.document, self.rules, self.errors = schema, document, rules, errors


class KeptValidation(SchemaExtension):
    """Validates a document once per (schema, document, rules) and keeps the errors of the last `maxsize`
    documents, the least recently used going first; a document the parser made anew is validated anew."""

    _verdicts: OrderedDict[tuple[int, int], _Verdict] = OrderedDict()

    def __init__(self, maxsize: int = 256) -> None:
        super().__init__()
        self.maxsize = maxsize

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        schema, document = context.schema._schema, context.graphql_document
        rules = tuple(context.validation_rules)
        key = (id(schema), id(document))
        verdicts = self._verdicts
        verdict = verdicts.get(key)
        if verdict is not None and verdict.schema is schema and verdict.document is document and verdict.rules == rules:
            verdicts.move_to_end(key)
        else:
            assert document is not None  # validation runs only after a successful parse
            verdict = verdicts[key] = _Verdict(schema, document, rules, validate_document(schema, document, rules))
            while len(verdicts) > self.maxsize:
                verdicts.popitem(last=False)
        context.pre_execution_errors = verdict.errors
        yield

"""Validation kept per parsed document: a document is validated once, its errors come back every time, and a
document the parser made anew, another schema or other rules are validated afresh."""

from __future__ import annotations

import pytest
import strawberry
from strawberry.extensions import AddValidationRules, ParserCache
from strawberry.extensions.max_aliases import create_validator as aliases_validator

import schema.validated as validated
from schema.errors import GatewaySchema
from schema.validated import KeptValidation


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self, name: str = "world") -> str:
        return f"hello {name}"


VALID = "{ greeting }"
INVALID = "{ greeting nope }"
ALIASED = "{ a: greeting b: greeting c: greeting }"


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts validated, one per validation actually run."""
    made: list[str] = []
    real = validated.validate_document

    def counted(schema: object, document: object, rules: object) -> object:
        made.append(document.loc.source.body)  # type: ignore[attr-defined]
        return real(schema, document, rules)  # type: ignore[arg-type]

    monkeypatch.setattr(validated, "validate_document", counted)
    monkeypatch.setattr(KeptValidation, "_verdicts", type(KeptValidation._verdicts)())
    return made


def _schema(*extensions: object, parsed: int = 16, kept: int = 16) -> GatewaySchema:
    return GatewaySchema(query=Query, extensions=[*extensions, lambda: ParserCache(maxsize=parsed),
                                                  lambda: KeptValidation(maxsize=kept)])


def test_a_document_is_validated_once_and_answers_every_time(validations: list[str]) -> None:
    schema = _schema()
    answers = [schema.execute_sync(VALID) for _ in range(3)]
    assert [a.data for a in answers] == [{"greeting": "hello world"}] * 3
    assert validations == [VALID]


def test_an_invalid_document_keeps_failing_with_the_same_errors(validations: list[str]) -> None:
    schema = _schema()
    answers = [schema.execute_sync(INVALID) for _ in range(3)]
    messages = [[e.message for e in a.errors or []] for a in answers]
    assert messages[0] == ["Cannot query field 'nope' on type 'Query'."]
    assert messages == [messages[0]] * 3 and all(a.data is None for a in answers)
    assert validations == [INVALID]


def test_a_document_parsed_anew_is_validated_anew(validations: list[str]) -> None:
    schema = _schema(parsed=1)  # the parser keeps one document: VALID is parsed again after INVALID
    for query in (VALID, INVALID, VALID):
        schema.execute_sync(query)
    assert validations == [VALID, INVALID, VALID]


def test_the_least_recently_used_verdict_goes_first(validations: list[str]) -> None:
    schema = _schema(kept=1)
    for query in (VALID, INVALID, VALID, VALID):
        schema.execute_sync(query)
    assert validations == [VALID, INVALID, VALID]
    assert len(KeptValidation._verdicts) == 1


def test_another_schema_or_other_rules_validate_afresh(validations: list[str]) -> None:
    plain = _schema()
    limited = _schema(lambda: AddValidationRules([aliases_validator(2)]))
    assert plain.execute_sync(ALIASED).errors is None
    refused = limited.execute_sync(ALIASED)
    assert refused.errors and "aliases" in refused.errors[0].message
    assert plain.execute_sync(ALIASED).errors is None
    assert validations == [ALIASED, ALIASED]

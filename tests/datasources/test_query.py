"""The VQL/SOQL builder: field names allow-listed, every literal escaped, dialects apart."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from datasources.query import SOQL, VQL, Cmp, In, Like, Or, Select, check_field, chunks


def test_string_literals_cannot_break_out_of_their_quotes() -> None:
    text = Select("person__sys", ["id"]).filter(Cmp("name__v", "=", "x' OR id != '")).render(VQL)
    assert text == "SELECT id FROM person__sys WHERE name__v = 'x\\' OR id != \\''"


@pytest.mark.parametrize(("value", "literal"), [
    ("0PE000000000001", "'0PE000000000001'"), ("back\\slash", "'back\\\\slash'"), ("it's", "'it\\'s'"),
    ('say "hi"', "'say \\\"hi\\\"'"), ("two\nlines", "'two\\nlines'"), ("cr\rtab\t", "'cr\\rtab\\t'"),
    (type("Text", (str,), {})("o'k"), "'o\\'k'")])
def test_every_character_that_could_end_a_literal_is_escaped(value: str, literal: str) -> None:
    assert VQL.literal(value) == SOQL.literal(value) == literal


def test_like_escapes_wildcards_so_search_text_matches_literally() -> None:
    assert Like("name__v", "50%_off").render(SOQL) == "name__v LIKE '%50\\%\\_off%'"


@pytest.mark.parametrize("name", ["id; DROP", "a b", "x'--", "", "1abc", "a.b.c.d", "name__v)"])
def test_field_names_outside_the_allow_pattern_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="not an allowed field name"):
        check_field(name)


@pytest.mark.parametrize("name", ["id; DROP", "x'--"])
def test_a_selected_list_with_a_bad_name_is_refused_every_time(name: str) -> None:
    for _ in range(2):  # the lists a query renders are kept: a refused one never is
        with pytest.raises(ValueError, match="not an allowed field name"):
            Select("person__sys", ["id", name]).render(VQL)
    assert Select("person__sys", ["id", "name__v", "id"]).render(VQL) == "SELECT id, name__v FROM person__sys"


def test_relationship_fields_are_allowed() -> None:
    assert check_field("Account_vod__r.External_ID_vod__c") == "Account_vod__r.External_ID_vod__c"


def test_dates_differ_by_dialect_and_paging_too() -> None:
    sel = Select("x__v", ["id"]).filter(Or([Cmp("d__v", "<", date(2026, 1, 2)), In("id", ["a", "b"])]))
    sel.limit = 5
    assert sel.render(VQL).endswith("WHERE (d__v < '2026-01-02') OR (id IN ('a', 'b')) PAGESIZE 5")
    assert sel.render(SOQL).endswith("WHERE (d__v < 2026-01-02) OR (id IN ('a', 'b')) LIMIT 5")


@pytest.mark.parametrize("moment", [
    datetime(2026, 1, 2, 15, 4, 5, 678901, tzinfo=UTC),
    datetime(2026, 1, 2, 15, 4, 5, 678901),  # naive: taken as UTC
    datetime(2026, 1, 2, 17, 4, 5, 678901, tzinfo=timezone(timedelta(hours=2))),  # the same moment in UTC+2
])
def test_date_times_are_written_in_utc_in_each_backends_form(moment: datetime) -> None:
    assert Cmp("m__v", ">", moment).render(VQL) == "m__v > '2026-01-02T15:04:05.678Z'"
    assert Cmp("SystemModstamp", ">", moment).render(SOQL) == "SystemModstamp > 2026-01-02T15:04:05.678+00:00"


def test_in_lists_are_chunked_without_duplicates() -> None:
    assert chunks(["a", "b", "a", "c"], 2) == [["a", "b"], ["c"]]
    with pytest.raises(ValueError):
        In("id", []).render(VQL)

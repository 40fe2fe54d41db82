"""Owner/form text is "[First] [Last] ([Email])", optional."""

import pytest

from domain.owner import MAX_LENGTH, owner_text


def test_full_owner_text():
    assert owner_text("Ada", "Lovelace", "ada@example.com") == "Ada Lovelace (ada@example.com)"


def test_parts_are_trimmed():
    assert owner_text("  Ada ", " Lovelace", " ada@example.com ") == "Ada Lovelace (ada@example.com)"


@pytest.mark.parametrize(
    ("first", "last", "email", "expected"),
    [
        (None, "Lovelace", "ada@example.com", "Lovelace (ada@example.com)"),
        ("Ada", None, "ada@example.com", "Ada (ada@example.com)"),
        ("Ada", "Lovelace", None, "Ada Lovelace"),
        ("Ada", "Lovelace", "  ", "Ada Lovelace"),
        (None, None, "ada@example.com", "(ada@example.com)"),
        ("", "  ", "ada@example.com", "(ada@example.com)"),
        ("Ada", None, None, "Ada"),
    ],
)
def test_missing_parts_are_left_out(first, last, email, expected):
    assert owner_text(first, last, email) == expected


@pytest.mark.parametrize(("first", "last", "email"), [(None, None, None), ("", " ", ""), ("  ", None, "\t")])
def test_nothing_known_gives_none(first, last, email):
    assert owner_text(first, last, email) is None


def test_long_text_is_truncated():
    text = owner_text("A" * 200, "B" * 200, "c@example.com")
    assert text is not None
    assert len(text) == MAX_LENGTH == 255
    assert text.startswith("A" * 200 + " " + "B")


def test_text_at_the_limit_is_kept_whole():
    first = "A" * (MAX_LENGTH - len(" (x@y.z)"))
    text = owner_text(first, None, "x@y.z")
    assert text == f"{first} (x@y.z)"
    assert len(text) == MAX_LENGTH

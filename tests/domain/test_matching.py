"""A person matches exactly one account; none is NO_MATCH; several is CONFLICT and never a match."""

import pytest

from domain.matching import match_accounts
from domain.models import SyncState


def test_exactly_one_account_matches():
    outcome = match_accounts("NPI-1", ["001A"])
    assert outcome.matched
    assert outcome.account_id == "001A"
    assert outcome.state is None
    assert outcome.candidates == ("001A",)


def test_no_account_is_no_match():
    outcome = match_accounts("NPI-1", [])
    assert not outcome.matched
    assert outcome.account_id is None
    assert outcome.state is SyncState.NO_MATCH
    assert outcome.candidates == ()


def test_several_accounts_is_conflict_not_a_match():
    outcome = match_accounts("NPI-1", ["001C", "001A", "001B"])
    assert not outcome.matched
    assert outcome.account_id is None
    assert outcome.state is SyncState.CONFLICT
    assert outcome.candidates == ("001A", "001B", "001C")


@pytest.mark.parametrize("identifier", [None, ""])
def test_empty_identifier_is_no_match_even_with_accounts(identifier):
    outcome = match_accounts(identifier, ["001A"])
    assert not outcome.matched
    assert outcome.state is SyncState.NO_MATCH
    assert outcome.candidates == ()


def test_orgs_are_matched_independently():
    org1 = match_accounts("NPI-1", ["001A"])
    org2 = match_accounts("NPI-1", ["002A", "002B"])
    org3 = match_accounts("NPI-1", [])
    assert (org1.matched, org2.state, org3.state) == (True, SyncState.CONFLICT, SyncState.NO_MATCH)

"""Matching a CTMS Person to CRM Accounts on a connection's shared identifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from domain.models import SyncState

T = TypeVar("T")


@dataclass(frozen=True)
class MatchOutcome:
    """Exactly one account matches, or none (NO_MATCH), or several (CONFLICT, never used as a match)."""

    state: SyncState | None
    account_id: str | None
    candidates: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.account_id is not None


def match_accounts(identifier: str | None, account_ids: Sequence[str]) -> MatchOutcome:
    """The outcome for a person whose identifier value is `identifier`, given the accounts carrying it."""
    if not identifier or not account_ids:
        return MatchOutcome(SyncState.NO_MATCH, None)
    if len(account_ids) > 1:
        return MatchOutcome(SyncState.CONFLICT, None, tuple(sorted(account_ids)))
    return MatchOutcome(None, account_ids[0], (account_ids[0],))

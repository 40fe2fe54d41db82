"""Which mirrors a source change needs, per target, from matching done at the time of the change."""

from __future__ import annotations

import asyncio
import logging

from datasources.errors import SourceError
from datasources.store.repo import CTMS_TARGET, MirrorPlan
from domain import Person, SyncState, match_accounts
from resolvers.context import RequestContext

log = logging.getLogger("ccgw.planning")
# Shown to every user who sees the activity: no backend field name, identifier value or account id.
NO_VALUE = "the person has no value for this org's identifier"
NO_ACCOUNT = "no account in this org has the person's identifier"


async def clinical_plans(ctx: RequestContext, person: Person | None) -> list[MirrorPlan]:
    """One plan per enabled org: PENDING with the matched account, or NO_MATCH / CONFLICT (nothing written)."""

    async def plan(org) -> MirrorPlan:  # noqa: ANN001
        value = person.identifiers.get(org.ctms_field) if person else None
        if not value:
            return MirrorPlan(org.name, SyncState.NO_MATCH, NO_VALUE)
        try:
            accounts = await ctx.loaders.accounts[org.name].load(value)
        except SourceError as exc:
            return MirrorPlan(org.name, error=f"matching postponed: {exc.reason}")
        outcome = match_accounts(value, [a.id for a in accounts])
        if outcome.state is SyncState.CONFLICT:
            log.warning("identifier conflict in %s: accounts %s", org.name, ", ".join(outcome.candidates))
            return MirrorPlan(org.name, SyncState.CONFLICT, conflict_message(len(outcome.candidates)))
        if outcome.state is SyncState.NO_MATCH:
            return MirrorPlan(org.name, SyncState.NO_MATCH, NO_ACCOUNT)
        return MirrorPlan(org.name, match_id=outcome.account_id)

    return list(await asyncio.gather(*(plan(o) for o in ctx.orgs)))


def conflict_message(count: int) -> str:
    return f"{count} accounts in this org have the person's identifier"


def no_single_person(count: int) -> str:
    """Why a call sent to Clinical was not copied: its account's identifier finds no CTMS person, or several."""
    return f"{count} CTMS persons have the account's identifier"


def prefetch_matching(ctx: RequestContext, person_id: str) -> None:
    """Start the account lookups of a person from identifier values last seen; clinical_plans joins them."""
    known = ctx.loaders.known_identifiers.get(person_id) or {}
    for org in ctx.orgs:
        value = known.get(org.ctms_field)
        if value:
            ctx.loaders.accounts[org.name].load(value)


def medical_plan(person_id: str | None) -> list[MirrorPlan]:
    return [MirrorPlan(CTMS_TARGET, match_id=person_id)]

"""Which mirrors a source change needs, per target, from matching done at the time of the change."""

from __future__ import annotations

import asyncio

from datasources.errors import SourceError
from datasources.store.repo import CTMS_TARGET, MirrorPlan
from domain import Person, SyncState, match_accounts
from resolvers.context import RequestContext


async def clinical_plans(ctx: RequestContext, person: Person | None) -> list[MirrorPlan]:
    """One plan per enabled org: PENDING with the matched account, or NO_MATCH / CONFLICT (nothing written)."""

    async def plan(org) -> MirrorPlan:  # noqa: ANN001
        value = person.identifiers.get(org.ctms_field) if person else None
        if not value:
            return MirrorPlan(org.name, SyncState.NO_MATCH, f"no value in {org.ctms_field}")
        try:
            accounts = await ctx.loaders.accounts[org.name].load(value)
        except SourceError as exc:
            return MirrorPlan(org.name, error=f"matching postponed: {exc.reason}")
        outcome = match_accounts(value, [a.id for a in accounts])
        if outcome.state is SyncState.CONFLICT:
            return MirrorPlan(org.name, SyncState.CONFLICT,
                              f"{len(outcome.candidates)} accounts have {org.crm_field} = {value}: "
                              + ", ".join(outcome.candidates))
        if outcome.state is SyncState.NO_MATCH:
            return MirrorPlan(org.name, SyncState.NO_MATCH, f"no account has {org.crm_field} = {value}")
        return MirrorPlan(org.name, match_id=outcome.account_id)

    return list(await asyncio.gather(*(plan(o) for o in ctx.orgs)))


def prefetch_matching(ctx: RequestContext, person_id: str) -> None:
    """Start the account lookups of a person from identifier values last seen; clinical_plans joins them."""
    known = ctx.loaders.known_identifiers.get(person_id) or {}
    for org in ctx.orgs:
        value = known.get(org.ctms_field)
        if value:
            ctx.loaders.accounts[org.name].load(value)


def medical_plan(person_id: str | None) -> list[MirrorPlan]:
    return [MirrorPlan(CTMS_TARGET, match_id=person_id)]

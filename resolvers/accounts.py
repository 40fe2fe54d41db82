"""Matching a person to one account per connection: exactly one matches; none or several do not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from datasources.errors import SourceError
from datasources.sources import Org
from domain import Account, MatchOutcome, Person, match_accounts
from resolvers.context import RequestContext


@dataclass(frozen=True)
class OrgMatch:
    org: Org
    outcome: MatchOutcome
    account: Account | None


async def match_in(ctx: RequestContext, person: Person, org: Org) -> OrgMatch:
    """Raises SourceError when the org cannot be asked."""
    value = person.identifiers.get(org.ctms_field)
    accounts = await ctx.loaders.accounts[org.name].load(value) if value else []
    outcome = match_accounts(value, [a.id for a in accounts])
    account = next((a for a in accounts if a.id == outcome.account_id), None)
    return OrgMatch(org, outcome, account)


async def matches(ctx: RequestContext, person: Person) -> tuple[list[OrgMatch], list[SourceError]]:
    results = await asyncio.gather(*(match_in(ctx, person, o) for o in ctx.orgs), return_exceptions=True)
    found: list[OrgMatch] = []
    failures: list[SourceError] = []
    for org, res in zip(ctx.orgs, results, strict=True):
        if isinstance(res, SourceError):
            failures.append(res)
        elif isinstance(res, BaseException):
            failures.append(SourceError.unexpected(org.source, res))
        else:
            found.append(res)
    return found, failures

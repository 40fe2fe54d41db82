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


def _match(org: Org, value: str | None, accounts: list[Account]) -> OrgMatch:
    outcome = match_accounts(value, [a.id for a in accounts])
    account = next((a for a in accounts if a.id == outcome.account_id), None)
    return OrgMatch(org, outcome, account)


async def matches(ctx: RequestContext, person: Person) -> tuple[list[OrgMatch], list[SourceError]]:
    """The person's match in every org, each org's failure apart. The loads' own futures are awaited (no task
    per org and person: a page of 100 people asks for 200 matches)."""
    values = [person.identifiers.get(org.ctms_field) for org in ctx.orgs]
    asked = [ctx.loaders.accounts[org.name].load(v) for org, v in zip(ctx.orgs, values, strict=True) if v]
    answers = iter(await asyncio.gather(*asked, return_exceptions=True))
    found: list[OrgMatch] = []
    failures: list[SourceError] = []
    for org, value in zip(ctx.orgs, values, strict=True):
        res = next(answers) if value else []
        if isinstance(res, SourceError):
            failures.append(res)
        elif isinstance(res, BaseException):
            failures.append(SourceError.unexpected(org.source, res))
        else:
            found.append(_match(org, value, res))
    return found, failures

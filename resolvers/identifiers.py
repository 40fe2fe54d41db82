"""The identifier values of every CTMS person, learnt ahead: a person's first request sends its CRM lookups at once.

A timeline's and an account match's CRM queries are keyed by the person's identifier values (a connection's CTMS
field). Known ahead, they go out together with the person's own CTMS query: one round of backend calls instead of
two. The values are a hint, never an answer: the resolvers ask with the values the person record carries, so a
value changed since it was learnt costs one more lookup, never a wrong result (see `Loaders.known_identifiers`).
"""

from __future__ import annotations

import asyncio
import logging

from datasources.errors import SourceError
from resolvers.context import Services

log = logging.getLogger("ccgw.identifiers")
PAGE = 1000  # people per CTMS query (Vault's largest page)
# How long the gateway's start waits for the first pass before it serves anyway (the pass goes on).
FIRST_PASS_WAIT_S = 5.0


async def learn_identifiers(services: Services) -> int:
    """Read every person's identifier values (of the enabled connections' fields), up to what the cache holds;
    returns how many were learnt."""
    rows = await services.connections()
    fields = sorted({r.ctms_field for r in rows if r.enabled})
    cache = services.identifiers
    if not fields:
        return 0
    learnt, after = 0, None
    clinical = services.backends.clinical
    while learnt < cache.capacity:
        people = await clinical.search_people(None, after, min(PAGE, cache.capacity - learnt), fields)
        for person in people:
            cache[person.id] = person.identifiers
        learnt += len(people)
        if len(people) < PAGE:
            break
        after = people[-1].id
    return learnt


async def _learn_quietly(services: Services) -> None:
    try:
        count = await learn_identifiers(services)
        log.info("identifier values of %d people learnt", count)
    except SourceError as exc:  # the next pass tries again; meanwhile requests learn as they go
        log.warning("learning identifier values: %s unavailable (%s)", exc.source, exc.reason)
    except Exception:  # a bug: logged, and the next pass tries again
        log.exception("learning identifier values failed unexpectedly")


async def keep_identifiers(services: Services, every_s: float) -> None:
    """Learn the identifier values now and then every `every_s` seconds (people created meanwhile are learnt by
    their first request, in two rounds, or by the next pass)."""
    while True:
        await _learn_quietly(services)
        await asyncio.sleep(every_s)


async def start_keeping_identifiers(services: Services, every_s: float) -> asyncio.Task[None] | None:
    """Start `keep_identifiers` (None when `every_s` is 0) and wait, bounded, for its first pass."""
    if every_s <= 0:
        return None
    first = asyncio.ensure_future(_learn_quietly(services))
    await asyncio.wait([first], timeout=FIRST_PASS_WAIT_S)

    async def rest() -> None:
        await first
        await asyncio.sleep(every_s)
        await keep_identifiers(services, every_s)

    return asyncio.create_task(rest())

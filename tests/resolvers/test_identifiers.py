"""Learning every person's identifier values ahead: paging, the cache's bound, outages, and the one-round timeline."""

from __future__ import annotations

import pytest

from datasources.cache import LruCache
from datasources.ctms.mapping import EXTERNAL_ID, NPI_NUMBER
from datasources.errors import SourceUnavailable
from domain.timeline import TimelineFilter
from resolvers import identifiers
from resolvers import timeline as timeline_resolver
from resolvers.identifiers import learn_identifiers, start_keeping_identifiers
from tests.resolvers.world import Env

pytestmark = pytest.mark.anyio


async def test_every_person_s_values_are_learnt_page_by_page(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(identifiers, "PAGE", 2)
    learnt = await learn_identifiers(env.services)
    assert learnt == len(env.ctms.persons) > 2
    assert env.ctms.counts["search_people"] == learnt // 2 + 1
    for pid, person in env.ctms.persons.items():
        expected = {f: person.identifiers.get(f) for f in (EXTERNAL_ID, NPI_NUMBER)}
        assert env.services.identifiers[pid] == expected


async def test_no_more_than_the_cache_holds(env: Env) -> None:
    env.services.identifiers = LruCache(3)
    assert await learn_identifiers(env.services) == 3
    assert len(env.services.identifiers) == 3


async def test_a_ctms_outage_leaves_the_start_to_go_on(env: Env) -> None:
    env.ctms.fail("search_people")
    task = await start_keeping_identifiers(env.services, 3600)
    assert task is not None and not task.done() and len(env.services.identifiers) == 0
    task.cancel()
    assert await start_keeping_identifiers(env.services, 0) is None


async def test_a_learnt_person_s_timeline_sends_its_crm_lookups_before_the_person_record_is_read(env: Env) -> None:
    await learn_identifiers(env.services)
    ctx = await env.ctx()
    person_id = next(pid for pid, p in env.ctms.persons.items() if p.identifiers.get(EXTERNAL_ID))
    timeline_resolver.prefetch(ctx, person_id, 20, None, TimelineFilter())
    env.ctms.fail("people")  # the person record cannot be read: the orgs were asked all the same
    with pytest.raises(SourceUnavailable):
        await ctx.loaders.person.load(person_id)
    assert env.org("us").counts["activities_for"] == 1

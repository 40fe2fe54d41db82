"""A person's timeline merged from the CTMS and two orgs: newest first with exact ties, cursors that hand out every
item exactly once, filters, partial results when a source fails, and no medical activity without the permission."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import date

import pytest

from datasources.crm.mapping import EXTERNAL_ID as CRM_EXTERNAL_ID
from datasources.ctms.mapping import EXTERNAL_ID as CTMS_EXTERNAL_ID
from datasources.ctms.mapping import NPI_NUMBER as CTMS_NPI_NUMBER
from datasources.errors import SourceRejected, SourceUnavailable
from domain import ActivityKind, ActivityStatus, Channel, MedicalActivity
from domain.permissions import Actor
from domain.timeline import TimelineFilter
from resolvers.errors import BadInput
from resolvers.timeline import TimelinePage, timeline
from tests.resolvers.world import ADMIN, CLINICAL_LEAD, Env

pytestmark = pytest.mark.anyio
MAY = [date(2026, 5, d) for d in range(1, 32)]


async def read(env: Env, person_id: str, first: int | None = 20, after: str | None = None,
               f: TimelineFilter | None = None, actor: Actor = ADMIN) -> TimelinePage:
    """One page, as one request would read it."""
    ctx = await env.ctx(actor)
    return await timeline(ctx, await env.person(person_id, actor), first, after, f or TimelineFilter())


def keys(page: TimelinePage) -> list[str]:
    return [item.key for _, item in page.items]


async def read_all(env: Env, person_id: str, size: int, f: TimelineFilter | None = None) -> list[str]:
    """Every item, page after page of `size`; checks each page's size and hasNextPage on the way."""
    out: list[str] = []
    after: str | None = None
    while True:
        page = await read(env, person_id, size, after, f)
        assert page.failures == []
        assert page.has_previous is (after is not None)
        if page.has_next:
            assert len(page.items) == size
        out += keys(page)
        if not page.has_next:
            return out
        after = page.items[-1][0]


@dataclass(frozen=True)
class Seeded:
    key: str
    day: date
    channel: Channel
    completed: bool
    kind: ActivityKind


@pytest.fixture
def small(env: Env) -> list[str]:
    """Ada's items, in the order the timeline must give them (written out by hand)."""
    ctms, us, eu, ada = env.ctms, env.org("us"), env.org("eu"), env.world.ada
    ref = env.site_ref()
    us_account, eu_account = env.world.accounts["us"][ada][0], env.world.accounts["eu"][ada][0]
    a1 = ctms.log_activity(ada, ref, MAY[9], channel=Channel.PHONE, completed=True)
    a2 = ctms.log_activity(ada, ref, MAY[9], channel=Channel.VIDEO, completed=False)
    a3 = ctms.log_activity(ada, ref, MAY[0], channel=Channel.PHONE, completed=True)
    jp = ctms.add_copy(MedicalActivity("jp", "a0C000000000900", "", ada, MAY[9], Channel.EMAIL, True, "jp", None))
    u1 = us.add_call(us_account, MAY[9], channel=Channel.PHONE, completed=True)
    u2 = us.add_call(us_account, MAY[11], channel=Channel.IN_PERSON, completed=False)
    us.add_call(us_account, MAY[10], sent=False)  # never sent to Clinical
    # The CTMS copy of a call of a connected org: the org is read itself, so the copy is not shown twice.
    ctms.add_copy(MedicalActivity("us", u1, us_account, ada, MAY[9], Channel.PHONE, True, None, None))
    e1 = eu.add_call(eu_account, MAY[9], channel=Channel.EMAIL, completed=True)
    e2 = eu.add_call(eu_account, date(2026, 4, 30), channel=Channel.PHONE, completed=True)
    ctms.log_activity(env.world.bo, ref, MAY[9])  # someone else's
    # Same day: the CTMS's keys sort after "crm:..." ones, "crm:us" after "crm:eu"; newest first, then key descending.
    return [f"crm:us:{u2}", f"ctms:{jp}", f"ctms:{a2}", f"ctms:{a1}", f"crm:us:{u1}", f"crm:eu:{e1}", f"ctms:{a3}",
            f"crm:eu:{e2}"]


async def test_the_merge_is_newest_first_with_ties_broken_by_key(env: Env, small: list[str]) -> None:
    page = await read(env, env.world.ada)
    assert keys(page) == small
    assert (page.has_next, page.has_previous, page.failures) == (False, False, [])


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8])
async def test_paging_hands_out_every_item_exactly_once(env: Env, small: list[str], size: int) -> None:
    assert await read_all(env, env.world.ada, size) == small


def _seed_many(env: Env, rng: random.Random) -> list[Seeded]:
    ctms, us, eu, ada = env.ctms, env.org("us"), env.org("eu"), env.world.ada
    days = MAY[:4]
    seeded = []
    for _ in range(30):
        day, channel, completed = rng.choice(days), rng.choice(list(Channel)), rng.random() < 0.5
        aid = ctms.log_activity(ada, env.site_ref(), day, channel=channel, completed=completed)
        seeded.append(Seeded(f"ctms:{aid}", day, channel, completed, ActivityKind.CLINICAL))
    for name, org in (("us", us), ("eu", eu)):
        account = env.world.accounts[name][ada][0]
        for _ in range(20):
            day, channel, completed = rng.choice(days), rng.choice(list(Channel)), rng.random() < 0.5
            cid = org.add_call(account, day, channel=channel, completed=completed)
            seeded.append(Seeded(f"crm:{name}:{cid}", day, channel, completed, ActivityKind.MEDICAL))
    return seeded


async def test_many_ties_page_exactly_at_every_size(env: Env) -> None:
    seeded = _seed_many(env, random.Random(7))
    everything = await read_all(env, env.world.ada, 100)
    assert len(everything) == len(set(everything)) == len(seeded) == 70
    assert everything == [s.key for s in sorted(seeded, key=lambda s: (s.day, s.key), reverse=True)]
    for size in (1, 4, 9, 13):
        assert await read_all(env, env.world.ada, size) == everything, size


@pytest.mark.parametrize("f", [
    TimelineFilter(channels=frozenset({Channel.PHONE, Channel.EMAIL})),
    TimelineFilter(statuses=frozenset({ActivityStatus.COMPLETED})),
    TimelineFilter(statuses=frozenset({ActivityStatus.PLANNED}), date_from=MAY[1]),
    TimelineFilter(kinds=frozenset({ActivityKind.MEDICAL}), date_to=MAY[2]),
    TimelineFilter(kinds=frozenset({ActivityKind.CLINICAL}), date_from=MAY[1], date_to=MAY[1]),
], ids=["channels", "completed", "planned-from", "medical-to", "clinical-one-day"])
async def test_a_filtered_timeline_pages_through_exactly_what_passes(env: Env, f: TimelineFilter) -> None:
    seeded = _seed_many(env, random.Random(11))

    def passes(s: Seeded) -> bool:
        status = ActivityStatus.COMPLETED if s.completed else ActivityStatus.PLANNED
        return ((f.date_from is None or s.day >= f.date_from) and (f.date_to is None or s.day <= f.date_to)
                and (f.channels is None or s.channel in f.channels) and (f.statuses is None or status in f.statuses)
                and (f.kinds is None or s.kind in f.kinds))

    wanted = [s.key for s in sorted(seeded, key=lambda s: (s.day, s.key), reverse=True) if passes(s)]
    assert wanted  # the filter keeps something, and leaves something out
    assert len(wanted) < len(seeded)
    assert await read_all(env, env.world.ada, 100, f) == wanted
    assert await read_all(env, env.world.ada, 3, f) == wanted


@pytest.mark.parametrize(("org", "error"), [("eu", SourceUnavailable), ("us", SourceRejected)])
async def test_a_failing_org_gives_the_rest_and_says_which_failed(env: Env, small: list[str], org: str,
                                                                  error: type) -> None:
    env.org(org).fail("activities_for", error)
    page = await read(env, env.world.ada)
    assert keys(page) == [k for k in small if not k.startswith(f"crm:{org}:")]
    [failure] = page.failures
    assert isinstance(failure, error) and failure.source == f"crm:{org}"
    assert failure.retryable is (error is SourceUnavailable)


async def test_a_failing_ctms_still_gives_the_orgs_calls(env: Env, small: list[str]) -> None:
    env.ctms.fail("activities_for")
    page = await read(env, env.world.ada)
    assert keys(page) == [k for k in small if k.startswith("crm:")]
    assert [f.source for f in page.failures] == ["ctms"]


async def test_medical_activities_do_not_exist_without_the_permission(env: Env, small: list[str]) -> None:
    clinical = [small[2], small[3], small[6]]  # a2, a1, a3: the CTMS's own clinical activities
    page = await read(env, env.world.ada, actor=CLINICAL_LEAD)
    assert keys(page) == clinical
    assert all(not isinstance(item.activity, MedicalActivity) for _, item in page.items)
    only_medical = TimelineFilter(kinds=frozenset({ActivityKind.MEDICAL}))
    assert keys(await read(env, env.world.ada, f=only_medical, actor=CLINICAL_LEAD)) == []
    assert len(keys(await read(env, env.world.ada, f=only_medical))) == 5


async def test_timelines_of_many_people_take_one_query_per_source(env: Env, small: list[str]) -> None:
    bo_activity = env.ctms.clinical_activities()[-1]
    us = env.org("us")
    people, extra_calls = [env.world.ada, env.world.bo, env.world.cy, env.world.di], []
    for i in range(8):
        people.append(env.ctms.add_person(f"P{i}", "Extra", **{CTMS_EXTERNAL_ID: f"EXT-X{i}",
                                                              CTMS_NPI_NUMBER: f"NPI-X{i}"}))
        extra_calls.append(us.add_call(us.add_account(f"P{i}", **{CRM_EXTERNAL_ID: f"EXT-X{i}"}), MAY[3]))
    ctx = await env.ctx()
    found = await asyncio.gather(*(ctx.loaders.person.load(p) for p in people))
    sources = [env.ctms, us, env.org("eu")]
    before = [s.counts["activities_for"] for s in sources]
    pages = await asyncio.gather(*(timeline(ctx, p, 3, None, TimelineFilter()) for p in found if p is not None))
    assert [s.counts["activities_for"] - b for s, b in zip(sources, before, strict=True)] == [1, 1, 1]
    assert [keys(p) for p in pages] == [small[:3], [f"ctms:{bo_activity.id}"], [], [],
                                       *[[f"crm:us:{c}"] for c in extra_calls]]
    assert [p.has_next for p in pages[:2]] == [True, False]


@pytest.mark.parametrize(("first", "after", "f"), [
    (0, None, TimelineFilter()),
    (101, None, TimelineFilter()),
    (10, "not-a-cursor", TimelineFilter()),
    (10, None, TimelineFilter(date_from=MAY[5], date_to=MAY[1])),
], ids=["first-0", "first-101", "damaged-cursor", "from-after-to"])
async def test_bad_arguments_are_refused(env: Env, first: int, after: str | None, f: TimelineFilter) -> None:
    with pytest.raises(BadInput):
        await read(env, env.world.ada, first, after, f)


async def test_an_empty_list_of_accepted_values_reads_nothing(env: Env, small: list[str]) -> None:
    page = await read(env, env.world.ada, f=TimelineFilter(channels=frozenset()))
    assert (keys(page), page.has_next) == ([], False)

"""Per-request loaders: every lookup a request makes is batched into one call of its source per shape."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Protocol, TypeVar

from datasources.dataloader import DataLoader
from datasources.errors import SourceError
from datasources.read_cache import MISS, ReadCache
from datasources.sources import ClinicalSource, Org
from datasources.window import Window
from domain import (
    Account,
    ClinicalActivity,
    MedicalActivity,
    Person,
    Study,
    StudyCountry,
    StudyPersonnel,
    StudySite,
)
from domain.timeline import item_key


class _Record(Protocol):
    @property
    def id(self) -> str: ...


R = TypeVar("R", bound=_Record)
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass(frozen=True)
class Item:
    """A timeline entry before merging: its ordering key and the domain activity."""

    day: date
    key: str
    activity: ClinicalActivity | MedicalActivity


def _by_id(fetch: Callable[[Sequence[str]], Awaitable[list[R]]]
           ) -> Callable[[Sequence[str]], Awaitable[list[R | None]]]:
    """A batch of records by id: each key gets its record, or None."""
    async def batch(ids: Sequence[str]) -> list[R | None]:
        found = {r.id: r for r in await fetch(ids)}
        return [found.get(i) for i in ids]
    return batch


def _children(fetch: Callable[[Sequence[str]], Awaitable[list[T]]], parent: Callable[[T], str]
              ) -> Callable[[Sequence[str]], Awaitable[list[list[T]]]]:
    """A batch of child records by parent id, in the order the source returns them."""
    async def batch(parents: Sequence[str]) -> list[list[T]]:
        found: dict[str, list[T]] = defaultdict(list)
        for child in await fetch(parents):
            found[parent(child)].append(child)
        return [found.get(p, []) for p in parents]
    return batch


class Loaders:
    """Create one per request (its caches belong to that request)."""

    def __init__(self, clinical: ClinicalSource, orgs: Sequence[Org],
                 known_identifiers: MutableMapping[str, dict[str, str | None]] | None = None) -> None:
        self.clinical = clinical
        self.orgs = list(orgs)
        # Identifier values of people seen before (shared across requests): lets a request start its CRM
        # lookups before the person record arrives. Every result is keyed by the value actually used, so a
        # stale entry costs one more lookup, never a wrong answer.
        self.known_identifiers = known_identifiers if known_identifiers is not None else {}
        self.identifier_fields = sorted({o.ctms_field for o in self.orgs})
        # Backend reads kept across requests: set for queries only (schema.reads), never for what writes.
        self.reads: ReadCache | None = None
        # Annotated, not subscripted: `DataLoader[K, V](...)` makes a typing alias on every call (13 per request).
        self.person: DataLoader[str, Person | None] = _KeptLoader(
            self, "person", tuple(self.identifier_fields), self._people)
        self.accounts: dict[str, DataLoader[str, list[Account]]] = {
            o.name: _KeptLoader(self, "accounts", o.name, self._accounts_batch(o)) for o in self.orgs}
        self.ctms_timeline: DataLoader[tuple[str, Window], list[Item]] = _KeptLoader(
            self, "ctms_timeline", tuple(o.name for o in self.orgs), self._ctms_timeline)
        self.org_timeline: dict[str, DataLoader[tuple[str, Window], list[Item]]] = {
            o.name: _KeptLoader(self, "org_timeline", o.name, self._org_timeline(o)) for o in self.orgs}

    # The loaders a timeline never uses are made on first use (a request makes only those it needs).
    @cached_property
    def study(self) -> DataLoader[str, Study | None]:
        return DataLoader(_by_id(self.clinical.studies))

    @cached_property
    def country(self) -> DataLoader[str, StudyCountry | None]:
        return DataLoader(_by_id(self.clinical.countries))

    @cached_property
    def site(self) -> DataLoader[str, StudySite | None]:
        return DataLoader(_by_id(self.clinical.sites))

    @cached_property
    def personnel(self) -> DataLoader[str, StudyPersonnel | None]:
        return DataLoader(_by_id(self.clinical.personnel))

    @cached_property
    def roles_of_person(self) -> DataLoader[str, list[StudyPersonnel]]:
        return DataLoader(_children(self.clinical.roles_of, lambda sp: sp.person_id))

    @cached_property
    def countries_of_study(self) -> DataLoader[str, list[StudyCountry]]:
        return DataLoader(_children(self.clinical.countries_of, lambda c: c.study_id))

    @cached_property
    def sites_of_study(self) -> DataLoader[str, list[StudySite]]:
        return DataLoader(_children(self.clinical.sites_of, lambda s: s.study_id))

    # -- CTMS records --------------------------------------------------------------------------------------
    def _remember(self, people: Sequence[Person]) -> None:
        for person in people:
            self.known_identifiers[person.id] = person.identifiers

    async def _people(self, ids: Sequence[str]) -> list[Person | None]:
        found = {p.id: p for p in await self.clinical.people(ids, self.identifier_fields)}
        self._remember(list(found.values()))
        return [found.get(i) for i in ids]

    async def search_people(self, text: str | None, after_id: str | None, limit: int) -> list[Person]:
        people = await self.clinical.search_people(text, after_id, limit, self.identifier_fields)
        for p in people:
            self.person.prime(p.id, p)
        self._remember(people)
        return people

    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        studies = await self.clinical.search_studies(text, after_id, limit)
        for s in studies:
            self.study.prime(s.id, s)
        return studies

    # -- CRM accounts --------------------------------------------------------------------------------------
    def _accounts_batch(self, org: Org) -> Callable[[Sequence[str]], Awaitable[list[list[Account]]]]:
        async def batch(values: Sequence[str]) -> list[list[Account]]:
            found: dict[str, list[Account]] = defaultdict(list)
            for acc in await org.crm.accounts_with(values):
                if acc.identifier is not None:
                    found[acc.identifier].append(acc)
            return [sorted(found.get(v, []), key=lambda a: a.id) for v in values]
        return batch

    # -- timelines -----------------------------------------------------------------------------------------
    async def _ctms_timeline(self, keys: Sequence[tuple[str, Window]]) -> list[list[Item] | BaseException]:
        label = self.clinical.label
        connected = [o.name for o in self.orgs]

        async def window(person_ids: list[str], w: Window) -> dict[str, list[Item]]:
            found = await self.clinical.activities_for(person_ids, w, connected=connected)
            return {pid: [Item(a.date, item_key(label, _ctms_id(a)), a) for a in acts] for pid, acts in found.items()}
        return await _grouped(keys, window)

    def _org_timeline(self, org: Org) -> Callable[[Sequence[tuple[str, Window]]],
                                                  Awaitable[list[list[Item] | BaseException]]]:
        async def window(values: list[str], w: Window) -> dict[str, list[Item]]:
            """Calls sent to Clinical, keyed by the account identifier value they were found under."""
            label = org.crm.label
            found = await org.crm.activities_for(values, w)
            return {v: [Item(c.date, item_key(label, c.call_id), c) for c in calls] for v, calls in found.items()}

        async def batch(keys: Sequence[tuple[str, Window]]) -> list[list[Item] | BaseException]:
            return await _grouped(keys, window)
        return batch


class _KeptLoader(DataLoader[K, V]):
    """A loader whose answers (not its failures) are kept in, and recalled from, its Loaders' read cache while
    `reads` is set; the cache's key is the read, its scope (what else decides the answer) and the loader's key."""

    def __init__(self, owner: Loaders, read: str, scope: Hashable,
                 batch: Callable[[Sequence[K]], Awaitable[Sequence[V | BaseException]]]) -> None:
        super().__init__(self._kept_batch)
        self._owner, self._read, self._scope, self._inner = owner, read, scope, batch

    def load(self, key: K) -> asyncio.Future[V]:
        reads = self._owner.reads
        if reads is not None and key not in self._cache:
            known = reads.recall(self._read, (self._read, self._scope, key))
            if known is not MISS:
                self.prime(key, known)  # type: ignore[arg-type]
        return super().load(key)

    async def _kept_batch(self, keys: Sequence[K]) -> Sequence[V | BaseException]:
        reads = self._owner.reads
        if reads is None:
            return await self._inner(keys)
        generation = reads.generation
        answers = await self._inner(keys)
        for key, answer in zip(keys, answers, strict=True):
            if not isinstance(answer, BaseException):
                reads.keep((self._read, self._scope, key), answer, generation)
        return answers


def _ctms_id(activity: ClinicalActivity | MedicalActivity) -> str:
    return activity.id if isinstance(activity, ClinicalActivity) else activity.ctms_id or ""


async def _grouped(keys: Sequence[tuple[str, Window]],
                   run: Callable[[list[str], Window], Awaitable[dict[str, list[Item]]]]
                   ) -> list[list[Item] | BaseException]:
    """Group keys by window, run one batch per window concurrently, and hand each key its items."""
    by_window: dict[Window, list[str]] = defaultdict(list)
    for subject, w in keys:
        by_window[w].append(subject)
    windows = list(by_window)
    if len(windows) == 1:  # the common case: awaited here, without a task and the loop turns gather takes
        try:
            results: list[dict[str, list[Item]] | BaseException] = [await run(by_window[windows[0]], windows[0])]
        except Exception as exc:  # noqa: BLE001 - as gather(return_exceptions=True) would hand it over
            results = [exc]
    else:
        results = await asyncio.gather(*(run(by_window[w], w) for w in windows), return_exceptions=True)
    per_window = dict(zip(windows, results, strict=True))
    out: list[list[Item] | BaseException] = []
    for subject, w in keys:
        res = per_window[w]
        if isinstance(res, BaseException):
            out.append(res if isinstance(res, SourceError | Exception) else RuntimeError(str(res)))
        else:
            out.append(res.get(subject, []))
    return out

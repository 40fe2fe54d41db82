"""Per-request loaders: every lookup a request makes is batched into one call of its source per shape."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable, Hashable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property, partial
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
        # No loader refers back to this object, nor does a batch function (they take what they need): the request's
        # values are then freed as soon as the request lets go of them, not at the garbage collector's next pass.
        self._scope = _ReadScope()
        # Annotated, not subscripted: `DataLoader[K, V](...)` makes a typing alias on every call (13 per request).
        self.person: DataLoader[str, Person | None] = _KeptLoader(
            self._scope, "person", tuple(self.identifier_fields),
            _people_batch(clinical, self.identifier_fields, self.known_identifiers))
        self.accounts: dict[str, DataLoader[str, list[Account]]] = {
            o.name: _KeptLoader(self._scope, "accounts", o.name, _accounts_batch(o)) for o in self.orgs}
        self.ctms_timeline: DataLoader[tuple[str, Window], list[Item]] = _KeptLoader(
            self._scope, "ctms_timeline", tuple(o.name for o in self.orgs), _ctms_timeline_batch(clinical, self.orgs))
        self.org_timeline: dict[str, DataLoader[tuple[str, Window], list[Item]]] = {
            o.name: _KeptLoader(self._scope, "org_timeline", o.name, _org_timeline_batch(o)) for o in self.orgs}

    @property
    def reads(self) -> ReadCache | None:
        """Backend reads kept across requests: set for queries only (schema.reads), never for what writes."""
        return self._scope.reads

    @reads.setter
    def reads(self, cache: ReadCache | None) -> None:
        self._scope.reads = cache

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
    async def search_people(self, text: str | None, after_id: str | None, limit: int) -> list[Person]:
        people = await self.clinical.search_people(text, after_id, limit, self.identifier_fields)
        for p in people:
            self.person.prime(p.id, p)
        _remember(self.known_identifiers, people)
        return people

    async def search_studies(self, text: str | None, after_id: str | None, limit: int) -> list[Study]:
        studies = await self.clinical.search_studies(text, after_id, limit)
        for s in studies:
            self.study.prime(s.id, s)
        return studies


class _ReadScope:
    """What a request's kept loaders share: the read cache, while it is set."""

    __slots__ = ("reads",)

    def __init__(self) -> None:
        self.reads: ReadCache | None = None


class _KeptLoader(DataLoader[K, V]):
    """A loader whose answers (not its failures) are kept in, and recalled from, its Loaders' read cache while
    `reads` is set; the cache's key is the read, its scope (what else decides the answer) and the loader's key."""

    def __init__(self, shared: _ReadScope, read: str, scope: Hashable,
                 batch: Callable[[Sequence[K]], Awaitable[Sequence[V | BaseException]]]) -> None:
        super().__init__(batch)
        self._shared, self._read, self._scope = shared, read, scope

    def load(self, key: K) -> asyncio.Future[V]:
        reads = self._shared.reads
        if reads is not None and key not in self._cache:
            known = reads.recall(self._read, (self._read, self._scope, key))
            if known is not MISS:
                self.prime(key, known)  # type: ignore[arg-type]
        return super().load(key)

    def run_batch(self, keys: Sequence[K]) -> Awaitable[Sequence[V | BaseException]]:
        reads = self._shared.reads
        return self._batch(keys) if reads is None else self._kept_batch(reads, keys)

    async def _kept_batch(self, reads: ReadCache, keys: Sequence[K]) -> Sequence[V | BaseException]:
        generation = reads.generation
        answers = await self._batch(keys)
        for key, answer in zip(keys, answers, strict=True):
            if not isinstance(answer, BaseException):
                reads.keep((self._read, self._scope, key), answer, generation)
        return answers


def _remember(known: MutableMapping[str, dict[str, str | None]], people: Sequence[Person]) -> None:
    for person in people:
        known[person.id] = person.identifiers


def _people_batch(clinical: ClinicalSource, identifier_fields: list[str],
                  known: MutableMapping[str, dict[str, str | None]]
                  ) -> Callable[[Sequence[str]], Awaitable[list[Person | None]]]:
    async def batch(ids: Sequence[str]) -> list[Person | None]:
        found = {p.id: p for p in await clinical.people(ids, identifier_fields)}
        _remember(known, list(found.values()))
        return [found.get(i) for i in ids]
    return batch


def _accounts_batch(org: Org) -> Callable[[Sequence[str]], Awaitable[list[list[Account]]]]:
    async def batch(values: Sequence[str]) -> list[list[Account]]:
        found: dict[str, list[Account]] = defaultdict(list)
        for acc in await org.crm.accounts_with(values):
            if acc.identifier is not None:
                found[acc.identifier].append(acc)
        return [sorted(found.get(v, []), key=lambda a: a.id) for v in values]
    return batch


def _ctms_timeline_batch(clinical: ClinicalSource, orgs: Sequence[Org]
                         ) -> Callable[[Sequence[tuple[str, Window]]], Awaitable[list[list[Item] | BaseException]]]:
    label = clinical.label
    connected = [o.name for o in orgs]

    async def window(person_ids: list[str], w: Window) -> dict[str, list[Item]]:
        found = await clinical.activities_for(person_ids, w, connected=connected)
        return {pid: [Item(a.date, item_key(label, _ctms_id(a)), a) for a in acts] for pid, acts in found.items()}
    return partial(_grouped, run=window)


def _org_timeline_batch(org: Org
                        ) -> Callable[[Sequence[tuple[str, Window]]], Awaitable[list[list[Item] | BaseException]]]:
    async def window(values: list[str], w: Window) -> dict[str, list[Item]]:
        """Calls sent to Clinical, keyed by the account identifier value they were found under."""
        label = org.crm.label
        found = await org.crm.activities_for(values, w)
        return {v: [Item(c.date, item_key(label, c.call_id), c) for c in calls] for v, calls in found.items()}
    return partial(_grouped, run=window)


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

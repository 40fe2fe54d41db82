"""Reads and writes of the gateway's own state; every multi-row change is one transaction."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opentelemetry.trace import Tracer
from sqlalchemy import ColumnElement, Table, and_, bindparam, delete, func, insert, or_, select, sql, update
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import SQLModel

from datasources.events import ActivityEvent, Change, EventBus, InProcessBus, publish_quietly
from datasources.instrument import MirrorFinished, emit
from datasources.pg_events import PgBus
from datasources.store.changes import events_since
from datasources.store.db import TracedSessions
from datasources.store.direct_writes import DirectWrites
from datasources.store.models import AuditEntry, ConnectionRow, Intent, Mirror, SyncMark, clip_error, utcnow
from datasources.trace_context import current_trace_parent
from domain.models import IntentStatus, SyncState

CTMS_TARGET = "ctms"


@dataclass(frozen=True)
class MirrorPlan:
    """One mirror to (re)deliver: its target, and a final state when nothing is to be written there."""

    target: str
    state: SyncState = SyncState.PENDING
    error: str | None = None
    match_id: str | None = None


@dataclass(frozen=True)
class Outcome:
    """How one delivery ended."""

    mirror: Mirror
    state: SyncState
    remote_id: str | None = None
    error: str | None = None
    retry_at: datetime | None = None
    attempted: bool = True
    delivered_version: int | None = None
    # The CTMS person a call's copy was matched to at delivery (the poller finds calls without one).
    person_id: str | None = None


@dataclass(frozen=True)
class MirrorState:
    """Where one mirror stands, as the read path shows it (a mirror row's public part, read without the ORM)."""

    source_kind: str
    source_id: str
    target: str
    state: SyncState
    remote_id: str | None
    attempts: int
    last_error: str | None
    updated_at: datetime


_M = Mirror.__table__.c
# Built once: SQLAlchemy compiles it once per dialect and reuses it (the id list is an expanding parameter).
_MIRROR_STATES = select(_M.source_kind, _M.source_id, _M.target, _M.state, _M.remote_id, _M.attempts,
                        _M.last_error, _M.updated_at).where(_M.source_id.in_(bindparam("ids", expanding=True)))
# The same read in each driver's SQL, for TracedSessions.driver_rows (one trip): on SQLite {marks} is one ? per id.
_SQLITE_MIRROR_STATES = (f"SELECT {', '.join(c.name for c in _MIRROR_STATES.selected_columns)} FROM "
                         f"{Mirror.__tablename__} WHERE source_id IN ({{marks}})")
_PG_MIRROR_STATES = _SQLITE_MIRROR_STATES.replace("IN ({marks})", "= ANY($1::varchar[])")


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _next_version(row: Mirror | None, kind: str, source_id: str, target: str, person_id: str | None) -> Mirror:
    """The mirror a new source change is recorded in: a new row at version 1, or the row one version on (its
    attempts counted afresh unless it was still pending)."""
    if row is None:
        return Mirror(source_kind=kind, source_id=source_id, target=target, person_id=person_id, version=1)
    row.version += 1
    if row.state is not SyncState.PENDING:
        row.attempts = 0
    return row


def _apply_plan(row: Mirror, plan: MirrorPlan, person_id: str | None, deleted: bool, now: datetime) -> None:
    """Set a mirror to what its plan says, due now."""
    row.person_id = person_id or row.person_id
    row.state = plan.state
    row.last_error = clip_error(plan.error)
    row.match_id = plan.match_id
    row.deleted = deleted
    row.next_attempt_at = now
    row.updated_at = now
    row.trace_parent = current_trace_parent()  # the delivery's trace links to the span that planned it
    row.pending_since = _pending_since(row.state, row.pending_since, now)


def _pending_since(state: SyncState, since: datetime | None, now: datetime) -> datetime | None:
    """The moment a mirror started waiting: set when it turns PENDING, kept while it stays so, cleared after."""
    return (since or now) if state is SyncState.PENDING else None


def _sync_event(row: Mirror) -> ActivityEvent:
    """The live-update event of a mirror's new state."""
    return ActivityEvent(Change.SYNC_CHANGED, row.source_kind, row.source_id, row.person_id, row.target, row.state)


# What a recorded outcome leaves: the row's public state, its person (for the live event), how it ended (metrics).
_Held = tuple[MirrorState, str | None, str]
# Outcomes are recorded in SQLAlchemy Core, read and written in one statement each (the ORM's unit of work costs
# several times what these take): the columns they read, and the update that records one and releases the row.
_HELD = select(_M.id, _M.source_kind, _M.source_id, _M.target, _M.person_id, _M.remote_id, _M.attempts, _M.version,
               _M.delivered_version, _M.claimed_by, _M.pending_since)
_RELEASE = update(Mirror.__table__).where(_M.id == bindparam("held_id"))
_INSERT_INTENT = insert(Intent.__table__)


def _inserted(conn: Connection, intent: Intent) -> Intent:
    """begin_intent's insert, in a transaction of DirectWrites."""
    conn.execute(_INSERT_INTENT, {c.name: getattr(intent, c.name) for c in Intent.__table__.c})
    return intent


_HELD_IN = _HELD.where(_M.id.in_(bindparam("ids", expanding=True)))
_HELD_IN_LOCKED = _HELD_IN.with_for_update()


def _outcome_rows(outcomes: Sequence[Outcome], *, lock: bool) -> tuple[sql.Select, dict[str, Any]]:
    """The rows of a batch's outcomes, in one query (`lock`ed for the transaction: PostgreSQL), and its
    parameters."""
    return _HELD_IN_LOCKED if lock else _HELD_IN, {"ids": [o.mirror.id for o in outcomes]}


def _recorded(conn: Connection, worker: str, outcomes: Sequence[Outcome], now: datetime, *,
              lock: bool = False) -> list[_Held]:
    """A batch's outcomes through its rows, in the transaction of `conn` (DirectWrites', or a session's)."""
    held, released = _released(conn.execute(*_outcome_rows(outcomes, lock=lock)).mappings(), worker, outcomes, now)
    if released:
        conn.execute(_RELEASE, released)
    return held


def _released(loaded: Iterable[RowMapping], worker: str, outcomes: Sequence[Outcome],
              now: datetime) -> tuple[list[_Held], list[dict[str, Any]]]:
    """For each row this worker still holds, the first of its outcomes: where it leaves the row, and the row's
    columns once recorded and released (_RELEASE's parameters)."""
    rows = {r["id"]: r for r in loaded}
    held: list[_Held] = []
    released: list[dict[str, Any]] = []
    for o in outcomes:
        row = rows.pop(o.mirror.id, None)
        if row is None or row["claimed_by"] != worker:
            continue
        values, changed_meanwhile = _apply(row, o, now)
        released.append(values)
        held.append((MirrorState(row["source_kind"], row["source_id"], row["target"], values["state"],
                                 values["remote_id"], values["attempts"], values["last_error"], now),
                     values["person_id"], _finished_as(o, changed_meanwhile)))
    return held, released


def _apply(row: RowMapping, o: Outcome, now: datetime) -> tuple[dict[str, Any], bool]:
    """A held row's columns once a delivery's outcome is recorded and the row released; True when a source change
    arrived meanwhile (the row stays PENDING for it)."""
    changed_meanwhile = o.delivered_version is not None and row["version"] > o.delivered_version
    state = SyncState.PENDING if changed_meanwhile else o.state
    delivered = row["delivered_version"]
    return {"held_id": row["id"], "attempts": row["attempts"] + 1 if o.attempted else row["attempts"],
            "delivered_version": delivered if o.delivered_version is None else max(delivered, o.delivered_version),
            "remote_id": o.remote_id or row["remote_id"], "person_id": row["person_id"] or o.person_id,
            "last_error": clip_error(o.error), "state": state,
            "next_attempt_at": now if changed_meanwhile else (o.retry_at or now), "claimed_by": None,
            "claimed_until": None, "updated_at": now,
            "pending_since": _pending_since(state, row["pending_since"], now)}, changed_meanwhile


def _finished_as(outcome: Outcome, changed_meanwhile: bool) -> str:
    """How a delivery ended, for metrics: its state, `retry` when it is to be tried again, `requeued` when a newer
    change arrived meanwhile (the mirror stays pending for it)."""
    if changed_meanwhile:
        return "requeued"
    return "retry" if outcome.state is SyncState.PENDING else outcome.state.value.lower()


_MIRRORS_OF = select(Mirror).where(Mirror.source_kind == bindparam("kind"), Mirror.source_id == bindparam("sid"),
                                   Mirror.target.in_(bindparam("targets", expanding=True)))
_MIRRORS_OF_LOCKED = _MIRRORS_OF.with_for_update()


def _mirrors_query(kind: str, source_id: str, targets: list[str], *,
                   lock: bool) -> tuple[sql.Select, dict[str, Any]]:
    """The mirrors of a source record in these targets (one query, ORM rows through a session, columns through a
    connection), locked for the change on PostgreSQL; and its parameters."""
    return _MIRRORS_OF_LOCKED if lock else _MIRRORS_OF, {"kind": kind, "sid": source_id, "targets": targets}


def _plan_rows(existing: dict[str, Mirror], kind: str, source_id: str, person_id: str | None,
               plans: list[MirrorPlan], deleted: bool,
               claim: tuple[str, float] | None) -> tuple[list[Mirror], list[Mirror]]:
    """The rows a source change's plans leave (`existing` ones, by target, moved on a version): those claimed for
    the caller (the PENDING ones nobody else holds, with `claim`), and all of them."""
    now = utcnow()
    claimed: list[Mirror] = []
    planned: list[Mirror] = []
    for plan in plans:
        row = _next_version(existing.get(plan.target), kind, source_id, plan.target, person_id)
        _apply_plan(row, plan, person_id, deleted, now)
        free = row.claimed_until is None or _aware(row.claimed_until) < now
        if claim is not None and row.state is SyncState.PENDING and free:
            row.claimed_by, row.claimed_until = claim[0], now + timedelta(seconds=claim[1])
            claimed.append(row)
        planned.append(row)
    return claimed, planned


@dataclass(frozen=True)
class _Completion:
    """What complete_intent records in one transaction."""

    intent_id: str
    result_id: str | None
    status: IntentStatus
    kind: str | None
    source_id: str | None
    person_id: str | None
    plans: list[MirrorPlan]
    deleted: bool
    claim: tuple[str, float] | None
    audit: AuditEntry | None

    @property
    def planning(self) -> bool:
        return bool(self.kind and self.source_id and self.plans)


# complete_intent's statements, in SQLAlchemy Core (an ORM session and its flush cost several times what the
# transaction itself does): the intent moved on, the source record's mirrors read (_mirrors_query), then each one
# written.
_I = Intent.__table__.c
_MOVE = (update(Intent.__table__).where(_I.id == bindparam("intent_id"), _I.status == IntentStatus.PENDING)
         .values(status=bindparam("new_status"), result_id=bindparam("new_result"), updated_at=bindparam("moved_at")))
_INSERT_MIRROR = insert(Mirror.__table__)
_UPDATE_MIRROR = update(Mirror.__table__).where(_M.id == bindparam("mirror_id"))
_INSERT_AUDIT = insert(AuditEntry.__table__)


def _columns(row: SQLModel, table: Table) -> dict[str, Any]:
    """A row's column values but its id."""
    return {c.name: getattr(row, c.name) for c in table.c if not c.primary_key}


def _completed(conn: Connection, done: _Completion, *, lock: bool = False) -> tuple[bool, list[Mirror]]:
    """complete_intent's transaction, in that of `conn` (DirectWrites', or a session's); the source record's mirrors
    `lock`ed (PostgreSQL). One statement moves the intent on, and holds its row (and on SQLite the write lock)."""
    moved = conn.execute(_MOVE, {"intent_id": done.intent_id, "new_status": done.status,
                                 "new_result": done.result_id, "moved_at": utcnow()})
    if moved.rowcount != 1:
        return False, []
    claimed: list[Mirror] = []
    if done.planning:
        found = conn.execute(*_mirrors_query(done.kind or "", done.source_id or "", [p.target for p in done.plans],
                                             lock=lock)).mappings()
        claimed, planned = _plan_rows({r["target"]: Mirror(**r) for r in found}, done.kind or "",
                                      done.source_id or "", done.person_id, done.plans, done.deleted, done.claim)
        for row in planned:
            if row.id is None:
                row.id = conn.execute(_INSERT_MIRROR, _columns(row, Mirror.__table__)).inserted_primary_key[0]
            else:
                conn.execute(_UPDATE_MIRROR, {**_columns(row, Mirror.__table__), "mirror_id": row.id})
    if done.audit is not None:
        conn.execute(_INSERT_AUDIT, _columns(done.audit, AuditEntry.__table__))
    return True, claimed


class Store:
    def __init__(self, engine: AsyncEngine, tracer: Tracer | None = None) -> None:
        self.engine = engine
        self.session = TracedSessions(engine, tracer)
        self.is_postgres = engine.dialect.name == "postgresql"
        # The short writes a mutation waits for (its intent, its mirrors' outcomes), on SQLite files.
        self.direct = DirectWrites.of(engine, tracer)
        # Live updates: every change of an activity or of a mirror is published here once committed; across
        # processes through PostgreSQL, within this process only on SQLite.
        self.events: EventBus = (PgBus(engine, lambda since: events_since(self.session, since)) if self.is_postgres
                                 else InProcessBus())

    # -- connections ---------------------------------------------------------------------------------------
    async def connections(self, enabled_only: bool = False) -> list[ConnectionRow]:
        async with self.session() as s:
            q = select(ConnectionRow).order_by(ConnectionRow.name)
            if enabled_only:
                q = q.where(ConnectionRow.enabled)
            return list((await s.execute(q)).scalars())

    async def connection(self, name: str) -> ConnectionRow | None:
        async with self.session() as s:
            return (await s.execute(select(ConnectionRow).where(ConnectionRow.name == name))).scalar_one_or_none()

    async def save_connection(self, row: ConnectionRow) -> ConnectionRow:
        async with self.session() as s:
            q = select(ConnectionRow).where(ConnectionRow.name == row.name)
            existing = (await s.execute(q)).scalar_one_or_none()
            if existing is not None:
                for key, value in row.model_dump(exclude={"id"}).items():
                    setattr(existing, key, value)
                row = existing
            row.updated_at = utcnow()
            s.add(row)
            await s.commit()
            await s.refresh(row)
            return row

    @staticmethod
    def _of_connection(name: str) -> ColumnElement[bool]:
        """The mirrors a connection has a part in: into its org, and from its org's calls into the CTMS."""
        return or_(Mirror.target == name, and_(Mirror.source_kind == "medical",
                                                Mirror.source_id.startswith(f"{name}:", autoescape=True)))

    async def connection_pending(self, name: str) -> int:
        """How many mirrors into or out of a connection's org wait for delivery."""
        async with self.session() as s:
            q = select(func.count()).select_from(Mirror).where(self._of_connection(name),
                                                                Mirror.state == SyncState.PENDING)
            return int((await s.execute(q)).scalar_one())

    async def delete_connection(self, name: str) -> bool:
        """Remove a connection with everything kept about it (its mirror rows, its polling marks), in one
        transaction; the records already written in either system stay. False when there was none."""
        async with self.session() as s:
            row = (await s.execute(select(ConnectionRow).where(ConnectionRow.name == name))).scalar_one_or_none()
            if row is None:
                return False
            await s.execute(delete(Mirror).where(self._of_connection(name)))
            await s.execute(delete(SyncMark).where(SyncMark.source.startswith(f"crm:{name}:", autoescape=True)))
            await s.delete(row)
            await s.commit()
            return True

    async def mirror_counts(self) -> dict[str, dict[SyncState, int]]:
        """Per target: how many mirrors are PENDING and FAILED."""
        counted = (SyncState.PENDING, SyncState.FAILED)
        async with self.session() as s:
            q = (select(Mirror.target, Mirror.state, func.count()).where(Mirror.state.in_(counted))
                 .group_by(Mirror.target, Mirror.state))
            out: dict[str, dict[SyncState, int]] = defaultdict(lambda: dict.fromkeys(counted, 0))
            for target, state, count in (await s.execute(q)).all():
                out[target][state] = count
            return dict(out)

    # -- mirrors -------------------------------------------------------------------------------------------
    async def mirrors_of(self, kind: str, source_ids: Sequence[str]) -> list[list[Mirror]]:
        found: dict[str, list[Mirror]] = defaultdict(list)
        ids = list(dict.fromkeys(source_ids))
        async with self.session() as s:
            for start in range(0, len(ids), 500):
                q = select(Mirror).where(Mirror.source_kind == kind, Mirror.source_id.in_(ids[start:start + 500]))
                for m in (await s.execute(q)).scalars():
                    found[m.source_id].append(m)
        return [sorted(found.get(i, []), key=lambda m: m.target) for i in source_ids]

    async def mirror_states(self, keys: Sequence[tuple[str, str]]) -> list[list[MirrorState]]:
        """For each (source kind, source id), where its mirrors stand, by target: one query for any mix of kinds."""
        found: dict[tuple[str, str], list[MirrorState]] = defaultdict(list)
        ids = list(dict.fromkeys(source_id for _, source_id in keys))
        for start in range(0, len(ids), 500):
            for row in await self._mirror_state_rows(ids[start:start + 500]):
                state = MirrorState(row[0], row[1], row[2], SyncState(row[3]), row[4], row[5], row[6],
                                    _aware(row[7]))
                found[state.source_kind, state.source_id].append(state)
        return [sorted(found.get(key, []), key=lambda m: m.target) for key in keys]

    async def _mirror_state_rows(self, ids: list[str]) -> Iterable[Sequence[Any]]:
        if self.is_postgres:
            return await self.session.driver_rows("mirror_states", _PG_MIRROR_STATES, ids)
        rows = await self.session.driver_rows("mirror_states", _SQLITE_MIRROR_STATES.format(
            marks=",".join("?" * len(ids))), *ids)
        # SQLite hands the driver's text back: the timestamp as SQLAlchemy wrote it (ISO 8601, UTC, no zone).
        return [(*row[:7], datetime.fromisoformat(row[7])) for row in rows]

    async def plan_mirrors(self, kind: str, source_id: str, person_id: str | None, plans: Iterable[MirrorPlan],
                           *, deleted: bool = False, claim: tuple[str, float] | None = None,
                           session: AsyncSession | None = None, change: Change = Change.SYNC_CHANGED) -> list[Mirror]:
        """Record (or coalesce into) the mirrors a source change needs; one version bump per change.

        With `claim` (worker, lease seconds) the PENDING rows nobody else holds are claimed at once, for the
        caller to deliver; those are returned. Within `session` nothing is committed (the caller's transaction) nor
        published; otherwise, once committed, `change` is published (SYNC_CHANGED: one event per mirror)."""
        if session is not None:
            return (await self._record_plans(session, kind, source_id, person_id, plans, deleted, claim))[0]
        async with self.session() as s:
            claimed, rows = await self._record_plans(s, kind, source_id, person_id, plans, deleted, claim)
            await s.commit()
        if change is Change.SYNC_CHANGED:
            await publish_quietly(self.events, [_sync_event(r) for r in rows])
        else:
            await publish_quietly(self.events, [ActivityEvent(change, kind, source_id,
                                                              person_id or next((r.person_id for r in rows), None))])
        return claimed

    async def _record_plans(self, s: AsyncSession, kind: str, source_id: str, person_id: str | None,
                            plans: Iterable[MirrorPlan], deleted: bool,
                            claim: tuple[str, float] | None) -> tuple[list[Mirror], list[Mirror]]:
        """plan_mirrors within a session; returns the rows claimed, and all the rows planned."""
        plans = list(plans)
        q = _mirrors_query(kind, source_id, [p.target for p in plans], lock=self.is_postgres)
        existing = {row.target: row for row in (await s.execute(*q)).scalars()} if plans else {}
        claimed, planned = _plan_rows(existing, kind, source_id, person_id, plans, deleted, claim)
        s.add_all(planned)
        return claimed, planned

    async def claim(self, worker: str, *, limit: int, lease_s: float, target: str | None = None,
                    ids: Sequence[int] | None = None, source: tuple[str, str] | None = None) -> list[Mirror]:
        """Claim due PENDING mirrors for delivery; a lease keeps other workers off them until it expires."""
        now = utcnow()
        async with self.session() as s:
            q = select(Mirror.id).where(Mirror.state == SyncState.PENDING, Mirror.next_attempt_at <= now,
                                        or_(Mirror.claimed_until.is_(None), Mirror.claimed_until < now))
            if target is not None:
                q = q.where(Mirror.target == target)
            if ids is not None:
                q = q.where(Mirror.id.in_(list(ids)))
            if source is not None:
                q = q.where(Mirror.source_kind == source[0], Mirror.source_id == source[1])
            q = q.order_by(Mirror.next_attempt_at, Mirror.id).limit(limit)
            if self.is_postgres:
                q = q.with_for_update(skip_locked=True)
            candidates = list((await s.execute(q)).scalars())
            if not candidates:
                return []
            until = now + timedelta(seconds=lease_s)
            # Compare-and-set: on SQLite (no SKIP LOCKED) a row another worker claimed meanwhile is not taken.
            await s.execute(update(Mirror).where(Mirror.id.in_(candidates), or_(
                Mirror.claimed_until.is_(None), Mirror.claimed_until < now)).values(claimed_by=worker,
                                                                                    claimed_until=until))
            rows = list((await s.execute(select(Mirror).where(Mirror.id.in_(candidates),
                                                              Mirror.claimed_by == worker,
                                                              Mirror.claimed_until == until))).scalars())
            await s.commit()
            return rows

    async def finish(self, mirror: Mirror, *, worker: str, state: SyncState, remote_id: str | None = None,
                     error: str | None = None, attempted: bool = True, delivered_version: int | None = None) -> bool:
        """Record a delivery outcome; a source change that arrived meanwhile keeps the mirror PENDING."""
        outcome = Outcome(mirror, state, remote_id, error, attempted=attempted, delivered_version=delivered_version)
        return await self.finish_many(worker, [outcome]) == 1

    async def finish_many(self, worker: str, outcomes: Sequence[Outcome]) -> int:
        """Record the outcomes of a batch in one transaction; returns how many rows this worker still held."""
        return len(await self.record_outcomes(worker, outcomes))

    async def record_outcomes(self, worker: str, outcomes: Sequence[Outcome]) -> list[MirrorState]:
        """finish_many, returning where each row this worker still held stands once committed."""
        if not outcomes:
            return []
        now = utcnow()
        held = self.direct.run("record_outcomes", lambda conn: _recorded(conn, worker, outcomes, now)) \
            if self.direct else None
        if held is None:
            async with self.session() as s:
                held = await s.run_sync(lambda sync: _recorded(sync.connection(), worker, outcomes, now,
                                                               lock=self.is_postgres))
                await s.commit()
        for state, _, how in held:
            emit(MirrorFinished(state.source_id, state.target, how))
        # A retry to come (still PENDING) is no news.
        await publish_quietly(self.events, [
            ActivityEvent(Change.SYNC_CHANGED, m.source_kind, m.source_id, person, m.target, m.state)
            for m, person, _ in held if m.state is not SyncState.PENDING])
        return [state for state, _, _ in held]

    async def retry_failed(self, kind: str, source_id: str) -> int:
        async with self.session() as s:
            result = await s.execute(update(Mirror).where(
                Mirror.source_kind == kind, Mirror.source_id == source_id, Mirror.state == SyncState.FAILED,
            ).values(state=SyncState.PENDING, attempts=0, next_attempt_at=utcnow(), updated_at=utcnow(),
                     pending_since=utcnow()))
            await s.commit()
            return result.rowcount or 0

    async def pending_count(self, target: str | None = None) -> int:
        async with self.session() as s:
            q = select(func.count()).select_from(Mirror).where(Mirror.state == SyncState.PENDING)
            if target:
                q = q.where(Mirror.target == target)
            return int((await s.execute(q)).scalar_one())

    # -- intents -------------------------------------------------------------------------------------------
    async def begin_intent(self, intent: Intent) -> Intent:
        """Record a write before it happens; with an idempotency key already used, return the first intent."""
        if self.direct and self.direct.run("begin_intent", lambda conn: _inserted(conn, intent)):
            return intent
        async with self.session() as s:
            s.add(intent)
            try:
                await s.commit()
                return intent
            except IntegrityError:
                await s.rollback()
        async with self.session() as s:
            return (await s.execute(select(Intent).where(Intent.idempotency_key == intent.idempotency_key))
                    ).scalar_one()

    async def intent(self, intent_id: str) -> Intent | None:
        async with self.session() as s:
            return await s.get(Intent, intent_id)

    async def complete_intent(self, intent_id: str, result_id: str | None, *, kind: str | None = None,
                              source_id: str | None = None, person_id: str | None = None,
                              plans: Sequence[MirrorPlan] = (), deleted: bool = False,
                              status: IntentStatus = IntentStatus.DONE, audit: AuditEntry | None = None,
                              claim: tuple[str, float] | None = None, change: Change | None = None) -> list[Mirror]:
        """Mark an intent done, record the mirrors it needs and the audit entry, in one transaction; then publish
        `change` (of `kind` `source_id`), when given.

        Returns the mirrors claimed for the caller (see plan_mirrors); none when another request finished it."""
        done = _Completion(intent_id, result_id, status, kind, source_id, person_id, list(plans), deleted, claim,
                           audit)
        direct = self.direct.run("complete_intent", lambda conn: _completed(conn, done)) if self.direct else None
        moved, claimed = direct if direct is not None else await self._complete_intent(done)
        if moved and change is not None and kind and source_id:
            await publish_quietly(self.events, [ActivityEvent(change, kind, source_id, person_id)])
        return claimed

    async def _complete_intent(self, done: _Completion) -> tuple[bool, list[Mirror]]:
        """complete_intent's transaction through the engine: whether the intent moved on, and the rows claimed."""
        async with self.session() as s:
            moved, claimed = await s.run_sync(lambda sync: _completed(sync.connection(), done,
                                                                      lock=self.is_postgres))
            await (s.commit() if moved else s.rollback())
        return moved, claimed

    async def reopen_intent(self, intent_id: str) -> Intent | None:
        """Make an abandoned intent (its write never happened) pending again, for a replay that retries it."""
        async with self.session() as s:
            await s.execute(update(Intent).where(Intent.id == intent_id, Intent.status == IntentStatus.ABANDONED)
                            .values(status=IntentStatus.PENDING, updated_at=utcnow()))
            await s.commit()
            return await s.get(Intent, intent_id)

    async def pending_intents(self, older_than_s: float = 0) -> list[Intent]:
        async with self.session() as s:
            q = select(Intent).where(Intent.status == IntentStatus.PENDING,
                                     Intent.created_at <= utcnow() - timedelta(seconds=older_than_s))
            return list((await s.execute(q.order_by(Intent.created_at))).scalars())

    # -- marks and audit -----------------------------------------------------------------------------------
    async def mark(self, source: str) -> str | None:
        async with self.session() as s:
            row = await s.get(SyncMark, source)
            return row.mark if row else None

    async def set_mark(self, source: str, mark: str) -> None:
        async with self.session() as s:
            row = await s.get(SyncMark, source) or SyncMark(source=source, mark=mark)
            row.mark = mark
            row.updated_at = utcnow()
            s.add(row)
            await s.commit()

    async def audit(self, actor: str, operation: str, target_id: str | None, outcome: str,
                    detail: dict | None = None) -> None:
        async with self.session() as s:
            s.add(AuditEntry(actor=actor, operation=operation, target_id=target_id, outcome=outcome,
                             detail=json.dumps(detail, default=str) if detail else None))
            await s.commit()

    async def audit_log(self, limit: int = 100) -> list[AuditEntry]:
        async with self.session() as s:
            q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
            return list((await s.execute(q)).scalars())

"""The outbox as an operator sees it: per connection and direction, how many mirrors wait or failed, and how long
the oldest waiting one has waited. One grouped query, for metrics collected at scrape time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import case, func, select

from datasources.store.models import Mirror
from datasources.store.repo import CTMS_TARGET, Store
from domain.models import SyncState

# A clinical activity goes out to an org; a call sent to Clinical comes in from its org to the CTMS.
TO_CRM, TO_CTMS = "to_crm", "to_ctms"


@dataclass(frozen=True)
class Backlog:
    """The outbox of one connection in one direction."""

    connection: str
    direction: str
    pending: int = 0
    failed: int = 0
    # Seconds the oldest pending mirror has been waiting, retries included (0 without one).
    oldest_pending_s: float = 0.0


def mirror_route(source_id: str, target: str) -> tuple[str, str]:
    """The connection and direction of a mirror: a call's mirror (target `ctms`) belongs to the org it came from,
    named before the colon of its source id (`us:00T...`)."""
    if target == CTMS_TARGET:
        return source_id.partition(":")[0], TO_CTMS
    return target, TO_CRM


async def backlog(store: Store, now: datetime | None = None) -> list[Backlog]:
    """Every connection and direction with pending or failed mirrors."""
    now = now or datetime.now(UTC)
    if store.is_postgres:
        org = func.split_part(Mirror.source_id, ":", 1)
    else:
        org = func.substr(Mirror.source_id, 1, func.instr(Mirror.source_id, ":") - 1)
    # Grouped over a subquery's columns: PostgreSQL would not take the same expressions, bound twice, as equal.
    rows = (select(case((Mirror.target == CTMS_TARGET, org), else_=Mirror.target).label("connection"),
                   (Mirror.target == CTMS_TARGET).label("inbound"), Mirror.state,
                   func.coalesce(Mirror.pending_since, Mirror.updated_at).label("since"))
            .where(Mirror.state.in_((SyncState.PENDING, SyncState.FAILED))).subquery())
    q = (select(rows.c.connection, rows.c.inbound, rows.c.state, func.count(), func.min(rows.c.since))
         .group_by(rows.c.connection, rows.c.inbound, rows.c.state))
    found: dict[tuple[str, str], dict[str, float]] = {}
    async with store.session() as s:
        for name, inbound, state, count, oldest in (await s.execute(q)).all():
            entry = found.setdefault((name, TO_CTMS if inbound else TO_CRM), {"pending": 0, "failed": 0, "age": 0.0})
            if state is SyncState.FAILED:
                entry["failed"] = count
            else:
                entry["pending"] = count
                oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)
                entry["age"] = max(0.0, (now - oldest).total_seconds())
    return [Backlog(name, direction, int(e["pending"]), int(e["failed"]), e["age"])
            for (name, direction), e in sorted(found.items())]

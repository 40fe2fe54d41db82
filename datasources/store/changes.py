"""What changed in the store since a moment, as live-update events: the catch-up of a listener after a gap."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from datasources.events import ActivityEvent, Change
from datasources.store.models import Intent, Mirror
from domain.models import IntentStatus

# One catch-up reads at most this many mirror rows and intents (the oldest first); a longer gap is a restart's
# business: the page refetches when its socket reconnects.
CATCH_UP_MAX = 5000
# The write operations (intents) and the change each one makes to an activity of which kind.
_INTENT_CHANGES = {
    "createClinicalActivity": (Change.CREATED, "clinical"),
    "updateClinicalActivity": (Change.UPDATED, "clinical"),
    "deleteClinicalActivity": (Change.DELETED, "clinical"),
    "sendCallToClinical": (Change.CREATED, "medical"),
    "logCall": (Change.CREATED, "medical"),
}


async def events_since(sessions: Callable[[], AbstractAsyncContextManager[AsyncSession]],
                       since: datetime) -> list[ActivityEvent]:
    """The events of the writes finished (intents done) and of every mirror planned or delivered since `since`:
    a write's change first, then the state of each mirror touched. Duplicates of events already seen are possible
    (and harmless: each only makes a subscriber read the activity again)."""
    async with sessions() as s:
        mirrors = list((await s.execute(select(Mirror).where(Mirror.updated_at >= since)
                                        .order_by(Mirror.updated_at, Mirror.id).limit(CATCH_UP_MAX))).scalars())
        intents = list((await s.execute(select(Intent).where(
            Intent.updated_at >= since, Intent.status == IntentStatus.DONE, Intent.result_id.is_not(None))
            .order_by(Intent.updated_at).limit(CATCH_UP_MAX))).scalars())
    person_of = {(m.source_kind, m.source_id): m.person_id for m in mirrors if m.person_id}
    events = [e for e in (_intent_event(i, person_of) for i in intents) if e is not None]
    events += [ActivityEvent(Change.SYNC_CHANGED, m.source_kind, m.source_id, m.person_id, m.target, m.state)
               for m in mirrors]
    return events


def _intent_event(intent: Intent, person_of: dict[tuple[str, str], str]) -> ActivityEvent | None:
    """The change a finished write made; None for a write that changed no activity (a call logged, not sent)."""
    change = _INTENT_CHANGES.get(intent.operation)
    if change is None or intent.result_id is None:
        return None
    try:
        given = json.loads(intent.input_json)
    except ValueError:
        given = {}
    if intent.operation == "logCall" and not given.get("send"):
        return None
    person = person_of.get((change[1], intent.result_id)) or given.get("personId")
    return ActivityEvent(change[0], change[1], intent.result_id, person if isinstance(person, str) else None)

"""The admin view's lists, paged by row id (newest first) and filtered in the query: the audit trail by user and
action, and the mirrors that FAILED with their last error."""

from __future__ import annotations

from sqlalchemy import func, select

from datasources.store.models import AuditEntry, Mirror
from datasources.store.repo import Store
from domain.models import SyncState


async def audit_page(store: Store, limit: int, *, before_id: int | None = None, user: str | None = None,
                     action: str | None = None) -> list[AuditEntry]:
    """Up to `limit` entries older than `before_id`: those whose actor contains `user` (any case) and whose
    operation is `action`."""
    q = select(AuditEntry)
    if before_id is not None:
        q = q.where(AuditEntry.id < before_id)
    if user:
        q = q.where(func.lower(AuditEntry.actor).contains(user.lower(), autoescape=True))
    if action:
        q = q.where(AuditEntry.operation == action)
    async with store.session() as s:
        return list((await s.execute(q.order_by(AuditEntry.id.desc()).limit(limit))).scalars())


async def failed_mirrors(store: Store, limit: int, *, before_id: int | None = None, connection: str | None = None,
                         include_medical: bool = True) -> list[Mirror]:
    """Up to `limit` FAILED mirrors older than `before_id`; of one connection when named (the org they go to, or a
    call's org they come from); without `include_medical`, a call's mirrors are left out."""
    q = select(Mirror).where(Mirror.state == SyncState.FAILED)
    if before_id is not None:
        q = q.where(Mirror.id < before_id)
    if connection is not None:
        q = q.where((Mirror.target == connection)
                    | Mirror.source_id.startswith(f"{connection}:", autoescape=True))
    if not include_medical:
        q = q.where(Mirror.source_kind != "medical")
    async with store.session() as s:
        return list((await s.execute(q.order_by(Mirror.id.desc()).limit(limit))).scalars())

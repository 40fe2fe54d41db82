"""The admin view's paged lists: the audit trail filtered by user and action, the mirrors that FAILED, and the
backlog per connection and direction."""

from __future__ import annotations

import re
from dataclasses import dataclass

from datasources.store.admin_lists import audit_page, failed_mirrors
from datasources.store.backlog import Backlog, backlog, mirror_route
from datasources.store.models import AuditEntry, Mirror
from domain.permissions import Permission
from resolvers.access import allowed
from resolvers.context import RequestContext
from resolvers.cursors import cursor_row, row_cursor
from resolvers.errors import BadInput
from resolvers.ids import raw_id
from resolvers.paging import check_first
from resolvers.people import Page

USER_FILTER_MAX = 100
# The audit trail's operations are field names (`createClinicalActivity`, `retrySync`, `introspection`...).
_ACTION = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,39}$")
AUDIT_DEFAULT = 50


@dataclass(frozen=True)
class FailedMirror:
    """A mirror that FAILED: the activity it carries, where it goes, and why it stopped."""

    mirror: Mirror
    connection: str
    direction: str


def _user_filter(user: str | None) -> str | None:
    text = (user or "").strip()
    if len(text) > USER_FILTER_MAX:
        raise BadInput(f"user is longer than {USER_FILTER_MAX} characters", field="user")
    if any(ord(c) < 32 for c in text):
        raise BadInput("user contains control characters", field="user")
    return text or None


def _action_filter(action: str | None) -> str | None:
    text = (action or "").strip()
    if text and not _ACTION.match(text):
        raise BadInput("action must be an operation name such as retrySync", field="action")
    return text or None


async def audit_entries(ctx: RequestContext, first: int | None, after: str | None, user: str | None,
                        action: str | None) -> Page[AuditEntry]:
    """A page of the audit trail, newest first, of the users whose `sub (email)` contains `user` and the
    operation `action`."""
    n = check_first(first, default=AUDIT_DEFAULT)
    before = cursor_row("audit", after)
    rows = await audit_page(ctx.store, n + 1, before_id=before, user=_user_filter(user),
                            action=_action_filter(action))
    return Page([(row_cursor("audit", r.id), r) for r in rows[:n] if r.id is not None], len(rows) > n,
                after is not None)


async def failed(ctx: RequestContext, first: int | None, after: str | None,
                 connection_id: str | None) -> Page[FailedMirror]:
    """A page of the FAILED mirrors, newest first; a call's mirrors only for a user who may see medical ones."""
    n = check_first(first)
    before = cursor_row("failed", after)
    name = raw_id(connection_id, "Connection", "connectionId") if connection_id is not None else None
    rows = await failed_mirrors(ctx.store, n + 1, before_id=before, connection=name,
                                include_medical=allowed(ctx, Permission.MEDICAL_ACTIVITY_VIEW))
    items = [(row_cursor("failed", r.id), FailedMirror(r, *mirror_route(r.source_id, r.target)))
             for r in rows[:n] if r.id is not None]
    return Page(items, len(rows) > n, after is not None)


async def connection_backlog(ctx: RequestContext) -> list[Backlog]:
    """Every connection and direction with mirrors pending or FAILED, and the oldest pending one's age."""
    return await backlog(ctx.store)

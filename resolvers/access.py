"""The one access rule: whether the acting user holds a permission, and the audited record of each refusal."""

from __future__ import annotations

from domain.permissions import Permission
from resolvers.context import RequestContext


def allowed(ctx: RequestContext, permission: Permission) -> bool:
    return ctx.actor.can(permission)


async def refused(ctx: RequestContext, operation: str, permission: Permission) -> None:
    """Keep a refusal in the audit trail, once per operation and permission within a request."""
    key = (operation, permission)
    if key in ctx.refusals:
        return
    ctx.refusals.add(key)
    await ctx.store.audit(ctx.actor.audit_name, operation, None, "forbidden", {"missing": permission.value})

"""retrySync: an activity's mirrors planned again from matching done now, and delivered inline."""

from __future__ import annotations

from domain import ClinicalActivity, MedicalActivity, UserError
from resolvers import activities
from resolvers.context import RequestContext
from resolvers.errors import BadInput
from resolvers.ids import raw_id
from resolvers.inline_delivery import claim, deliver_inline
from resolvers.intents import WriteResult, audit
from resolvers.planning import clinical_plans, medical_plan


async def retry_sync(ctx: RequestContext, activity_id: str) -> WriteResult:
    """Plan and deliver the mirrors of a clinical or medical activity again; NOT_FOUND when there is none."""
    for type_name in ("ClinicalActivity", "MedicalActivity"):
        try:
            raw = raw_id(activity_id, type_name)
        except BadInput:
            continue
        if type_name == "ClinicalActivity" and ":" not in raw:
            found: ClinicalActivity | MedicalActivity | None = await _retry_clinical(ctx, raw)
        else:
            found = await _retry_medical(ctx, raw)
        if found is None:
            break
        return WriteResult(activity=found)
    return WriteResult(errors=[UserError(("activityId",), f"no activity {activity_id[:60]!r}", "NOT_FOUND")])


async def _retry_clinical(ctx: RequestContext, activity_id: str) -> ClinicalActivity | None:
    """A clinical activity's mirror in each org, matched again; the activity, or None when the CTMS has none."""
    act = await activities.clinical(ctx, activity_id)
    if act is None:
        return None
    person = await ctx.loaders.person.load(act.person_id)
    worker, lease = claim(ctx)
    claimed = await ctx.store.plan_mirrors("clinical", activity_id, act.person_id, await clinical_plans(ctx, person),
                                           claim=(worker, lease))
    await deliver_inline(ctx, claimed, worker, known=act)
    await audit(ctx, "retrySync", activity_id, "ok", {})
    return act


async def _retry_medical(ctx: RequestContext, call_key: str) -> MedicalActivity | None:
    """A call's Medical Activity in the CTMS; the activity, or None when no such call is sent to Clinical."""
    found = await activities.medical(ctx, call_key)
    if found is None:
        return None
    worker, lease = claim(ctx)
    claimed = await ctx.store.plan_mirrors("medical", found.call_key, found.person_id,
                                           medical_plan(found.person_id), claim=(worker, lease))
    await deliver_inline(ctx, claimed, worker)
    await audit(ctx, "retrySync", found.call_key, "ok", {})
    return found

"""Finding one activity by id: a clinical activity in the CTMS, a medical activity in its org. An id that is not
in the backend's format finds nothing, without asking the backend."""

from __future__ import annotations

from dataclasses import replace

from datasources.record_ids import is_record_id
from domain import ClinicalActivity, MedicalActivity
from resolvers.context import RequestContext


async def clinical(ctx: RequestContext, activity_id: str) -> ClinicalActivity | None:
    if not is_record_id(activity_id):
        return None
    found = await ctx.clinical.clinical([activity_id])
    return found[0] if found else None


async def medical(ctx: RequestContext, call_key: str) -> MedicalActivity | None:
    """A call sent to Clinical, by "<connection>:<call id>", read from its org (or the CTMS copy)."""
    connection, _, call_id = call_key.partition(":")
    if not is_record_id(call_id):
        return None
    org = ctx.org(connection)
    if org is None:
        return await ctx.clinical.medical_copy(call_key)
    found = [c for c in await org.crm.calls([call_id]) if c.sent]
    if not found:
        return None
    person_id = await person_with(ctx, org.ctms_field, found[0].identifier) if found[0].identifier else None
    return replace(found[0].activity, person_id=person_id)


async def person_with(ctx: RequestContext, ctms_field: str, value: str) -> str | None:
    """The CTMS person carrying an identifier value (unique on the CTMS side)."""
    ids = (await ctx.clinical.people_with(ctms_field, [value])).get(value, [])
    return ids[0] if len(ids) == 1 else None


async def find(ctx: RequestContext, type_name: str, raw: str) -> ClinicalActivity | MedicalActivity | None:
    if type_name == "ClinicalActivity":
        return await clinical(ctx, raw)
    return await medical(ctx, raw)

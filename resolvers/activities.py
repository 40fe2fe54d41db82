"""Finding one activity by id: a clinical activity in the CTMS, a medical activity in its org. An id that is not
in the backend's format finds nothing, without asking the backend."""

from __future__ import annotations

from dataclasses import replace

from datasources.query import Cmp, Select
from datasources.record_ids import is_record_id
from domain import ClinicalActivity, MedicalActivity
from resolvers.context import RequestContext


async def clinical(ctx: RequestContext, activity_id: str) -> ClinicalActivity | None:
    if not is_record_id(activity_id):
        return None
    m = ctx.backends.ctms_map
    sel = Select(m.activity, m.activity_fields()).filter(Cmp("id", "=", activity_id))
    recs = await ctx.backends.ctms.query(sel)
    if not recs or m.is_medical(recs[0]):
        return None
    return m.clinical_from(recs[0])


async def medical(ctx: RequestContext, call_key: str) -> MedicalActivity | None:
    """A call sent to Clinical, by "<connection>:<call id>", read from its org (or the CTMS copy)."""
    connection, _, call_id = call_key.partition(":")
    if not is_record_id(call_id):
        return None
    org = ctx.org(connection)
    if org is None:
        m = ctx.backends.ctms_map
        sel = Select(m.activity, m.activity_fields()).filter(Cmp(m.act_call_key, "=", call_key))
        recs = await ctx.backends.ctms.query(sel)
        return m.medical_from(recs[0]) if recs else None
    rm = ctx.backends.crm_map
    sel = Select(rm.call, rm.call_fields(org.crm_field)).filter(Cmp("Id", "=", call_id),
                                                                Cmp(rm.send_to_clinical, "=", True))
    recs = await org.client.query(sel)
    if not recs:
        return None
    call = rm.call_from(recs[0], org.name, None)
    value = rm.call_identifier(recs[0], org.crm_field)
    person_id = await person_with(ctx, org.ctms_field, value) if value else None
    return replace(call, person_id=person_id)


async def person_with(ctx: RequestContext, ctms_field: str, value: str) -> str | None:
    """The CTMS person carrying an identifier value (unique on the CTMS side)."""
    m = ctx.backends.ctms_map
    recs = await ctx.backends.ctms.query(Select(m.person, ["id"]).filter(Cmp(ctms_field, "=", value)))
    return recs[0]["id"] if len(recs) == 1 else None


async def find(ctx: RequestContext, type_name: str, raw: str) -> ClinicalActivity | MedicalActivity | None:
    if type_name == "ClinicalActivity":
        return await clinical(ctx, raw)
    return await medical(ctx, raw)

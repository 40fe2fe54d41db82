"""Resolution of write intents left unfinished by a crash: found at the source and completed, or abandoned."""

from __future__ import annotations

import json
import logging

from datasources.errors import SourceError
from datasources.store.models import Intent
from datasources.store.repo import MirrorPlan
from domain import IntentStatus
from resolvers.context import RequestContext, Services, build_context
from resolvers.delivery import SYSTEM
from resolvers.planning import clinical_plans, medical_plan

log = logging.getLogger("ccgw.recovery")


async def resolve_intents(services: Services, older_than_s: float = 0) -> int:
    """Finish every pending intent older than the given age; returns how many were resolved."""
    pending = await services.store.pending_intents(older_than_s)
    if not pending:
        return 0
    ctx = await build_context(services, SYSTEM)
    done = 0
    for intent in pending:
        try:
            await _resolve(ctx, intent)
            done += 1
        except SourceError as exc:
            log.warning("intent %s stays pending: %s", intent.id, exc)
    return done


async def _resolve(ctx: RequestContext, intent: Intent) -> None:
    payload = json.loads(intent.input_json)
    store = ctx.store
    if intent.operation == "createClinicalActivity":
        written = await ctx.clinical.clinical_written_by(intent.id)
        if written is None:
            await store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
            return
        person = await ctx.loaders.person.load(written.person_id)
        await store.complete_intent(intent.id, written.id, kind="clinical", source_id=written.id,
                                    person_id=written.person_id, plans=await clinical_plans(ctx, person))
    elif intent.operation in ("updateClinicalActivity", "deleteClinicalActivity"):
        # Whether or not the change reached the CTMS, the mirrors are brought to what the CTMS now holds.
        aid = payload["id"]
        await store.complete_intent(intent.id, aid, kind="clinical", source_id=aid,
                                    plans=[MirrorPlan(o.name) for o in ctx.orgs])
    elif intent.operation == "logCall":
        org = ctx.org(payload["org"])
        if org is None:
            await store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
            return
        call_id = await org.crm.call_logged_by(intent.id)
        if call_id is None:
            await store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)
            return
        key = f"{org.name}:{call_id}"
        if payload.get("send"):
            await store.complete_intent(intent.id, key, kind="medical", source_id=key, plans=medical_plan(None))
        else:
            await store.complete_intent(intent.id, key)
    elif intent.operation == "sendCallToClinical":
        key = payload["call"]
        await store.complete_intent(intent.id, key, kind="medical", source_id=key, plans=medical_plan(None))
    else:
        await store.complete_intent(intent.id, None, status=IntentStatus.ABANDONED)

"""The root Mutation: writes through to both systems, and connection administration."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

import domain as d
from domain.permissions import Permission as P
from resolvers import call_writes, clinical_writes, reconcile_jobs, sync_retry
from resolvers import connections as connections_resolver
from resolvers.connection_checks import verify_connection
from resolvers.errors import BadInput, ClientError, Conflict, NotFound
from resolvers.ids import raw_id, to_global
from resolvers.intents import WriteResult
from schema.access import requires
from schema.context import rc
from schema.enums import Channel
from schema.inputs import (
    CreateClinicalActivityInput,
    CreateConnectionInput,
    LogCallInput,
    SendCallToClinicalInput,
    UpdateClinicalActivityInput,
    UpdateConnectionInput,
)
from schema.reconcile import ReconcileInput, ReconcileJob
from schema.types import (
    Activity,
    ClinicalActivity,
    Connection,
    ConnectionCheckResult,
    MedicalActivity,
    activity_type,
)


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(description='Path to the input field at fault, e.g. ["input", '
                                                           '"context"].')
    message: str
    code: str


def _errors(result: WriteResult) -> list[UserError]:
    return [UserError(field=list(e.field) if e.field else None, message=e.message, code=e.code)
            for e in result.errors]


@strawberry.type
class ClinicalActivityPayload:
    activity: ClinicalActivity | None
    user_errors: list[UserError]


@strawberry.type
class MedicalActivityPayload:
    activity: MedicalActivity | None
    user_errors: list[UserError]


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None
    user_errors: list[UserError]


@strawberry.type
class ConnectionPayload:
    connection: Connection | None
    user_errors: list[UserError]


@strawberry.type
class TestConnectionPayload:
    connection: Connection | None
    ok: bool = strawberry.field(description="Every check passed.")
    checks: list[ConnectionCheckResult]
    user_errors: list[UserError]


@strawberry.type
class LogCallPayload:
    call_id: strawberry.ID | None = strawberry.field(description="The new CRM call (Call2_vod__c) id.")
    activity: MedicalActivity | None = strawberry.field(
        description="The Medical Activity it became, when it was sent to Clinical.")
    user_errors: list[UserError]


@strawberry.type
class ReconcilePayload:
    job: ReconcileJob | None = strawberry.field(description="The job started; follow it with reconcileJob(id).")
    user_errors: list[UserError]


@strawberry.type
class RetrySyncPayload:
    activity: Activity | None
    user_errors: list[UserError]


def _clinical_payload(result: WriteResult) -> ClinicalActivityPayload:
    a = result.activity
    return ClinicalActivityPayload(activity=ClinicalActivity.of(a) if isinstance(a, d.ClinicalActivity) else None,
                                   user_errors=_errors(result))


def _medical(result: WriteResult) -> MedicalActivity | None:
    return MedicalActivity.of(result.activity) if isinstance(result.activity, d.MedicalActivity) else None


def _channel(value: Channel | None) -> d.Channel | None:
    return d.Channel(value.value) if value is not None else None


@strawberry.type
class Mutation:
    @strawberry.mutation(extensions=requires(P.CLINICAL_ACTIVITY_CREATE))
    async def create_clinical_activity(self, info: Info, input: CreateClinicalActivityInput
                                       ) -> ClinicalActivityPayload:
        c = input.context
        result = await clinical_writes.create_clinical(
            rc(info), person_id=input.person_id,
            contexts={d.ContextKind.STUDY: c.study_id, d.ContextKind.STUDY_COUNTRY: c.study_country_id,
                      d.ContextKind.STUDY_SITE: c.study_site_id, d.ContextKind.STUDY_PERSONNEL: c.study_personnel_id},
            day=input.date, channel=d.Channel(input.channel.value), completed=input.completed, subject=input.subject,
            idempotency_key=input.idempotency_key)
        return _clinical_payload(result)

    @strawberry.mutation(extensions=requires(P.CLINICAL_ACTIVITY_EDIT))
    async def update_clinical_activity(self, info: Info, input: UpdateClinicalActivityInput
                                       ) -> ClinicalActivityPayload:
        subject_set = input.subject is not strawberry.UNSET
        result = await clinical_writes.update_clinical(
            rc(info), activity_id=input.id, day=input.date, channel=_channel(input.channel),
            completed=input.completed, subject=input.subject if subject_set else None, subject_set=subject_set)
        return _clinical_payload(result)

    @strawberry.mutation(extensions=requires(P.CLINICAL_ACTIVITY_EDIT))
    async def delete_clinical_activity(self, info: Info, id: strawberry.ID) -> DeletePayload:
        result = await clinical_writes.delete_clinical(rc(info), id)
        deleted = strawberry.ID(to_global("ClinicalActivity", result.deleted_id)) if result.deleted_id else None
        return DeletePayload(deleted_id=deleted, user_errors=_errors(result))

    @strawberry.mutation(description='The CRM\'s "Send to Vault Clinical": the call becomes a Medical Activity in '
                                     "the CTMS.", extensions=requires(P.MEDICAL_ACTIVITY_VIEW))
    async def send_call_to_clinical(self, info: Info, input: SendCallToClinicalInput) -> MedicalActivityPayload:
        result = await call_writes.send_call(rc(info), connection_id=input.connection_id, call_id=input.call_id)
        return MedicalActivityPayload(activity=_medical(result), user_errors=_errors(result))

    @strawberry.mutation(description="Log a call in one org for a person, optionally sending it to Clinical at once.",
                         extensions=requires(P.MEDICAL_ACTIVITY_VIEW))
    async def log_call(self, info: Info, input: LogCallInput) -> LogCallPayload:
        result = await call_writes.log_call(
            rc(info), connection_id=input.connection_id, person_id=input.person_id, day=input.date,
            channel=d.Channel(input.channel.value), completed=input.completed, subject=input.subject,
            send_to_clinical=input.send_to_clinical, idempotency_key=input.idempotency_key)
        return LogCallPayload(call_id=strawberry.ID(result.call_id) if result.call_id else None,
                              activity=_medical(result), user_errors=_errors(result))

    @strawberry.mutation(description="Deliver again the mirrors of an activity that FAILED (admin).",
                         extensions=requires(P.CONNECTION_ADMIN))
    async def retry_sync(self, info: Info, activity_id: strawberry.ID) -> RetrySyncPayload:
        result = await sync_retry.retry_sync(rc(info), activity_id)
        return RetrySyncPayload(activity=activity_type(result.activity) if result.activity else None,
                                user_errors=_errors(result))

    @strawberry.mutation(description="Compare the CTMS and one org over a window of activity dates and repair "
                                     "missing, stale and orphaned mirrors through the outbox, in a background job "
                                     "(admin).", extensions=requires(P.CONNECTION_ADMIN))
    async def reconcile(self, info: Info, input: ReconcileInput) -> ReconcilePayload:
        job, errors = await reconcile_jobs.start_job(rc(info), input.connection_id, input.since, input.dry_run)
        return ReconcilePayload(job=ReconcileJob(job=job) if job else None, user_errors=[
            UserError(field=list(e.field) if e.field else None, message=e.message, code=e.code) for e in errors])

    @strawberry.mutation(extensions=requires(P.CONNECTION_ADMIN))
    async def update_connection(self, info: Info, input: UpdateConnectionInput) -> ConnectionPayload:
        try:
            name = raw_id(input.id, "Connection", "input.id")
            row = await connections_resolver.update_connection(
                rc(info), name, enabled=input.enabled, ctms_field=input.ctms_identifier_field,
                crm_field=input.crm_identifier_field, changes=input.changes())
        except (BadInput, NotFound) as exc:
            return ConnectionPayload(connection=None, user_errors=_client_errors(exc))
        return ConnectionPayload(connection=Connection(row=row), user_errors=[])

    @strawberry.mutation(description="Add the connection to one CRM org (ten at most, names unique); "
                                     "testConnection checks it against both systems.",
                         extensions=requires(P.CONNECTION_ADMIN))
    async def create_connection(self, info: Info, input: CreateConnectionInput) -> ConnectionPayload:
        try:
            row = await connections_resolver.create_connection(rc(info), input.values())
        except BadInput as exc:
            return ConnectionPayload(connection=None, user_errors=_client_errors(exc))
        return ConnectionPayload(connection=Connection(row=row), user_errors=[])

    @strawberry.mutation(description="Remove a connection and what the gateway keeps about it (mirror links, "
                                     "polling marks); the records written in either system stay. Refused while "
                                     "mirrors into or out of its org are pending, unless force (they are dropped).",
                         extensions=requires(P.CONNECTION_ADMIN))
    async def delete_connection(self, info: Info, id: strawberry.ID, force: bool = False) -> DeletePayload:
        ctx = rc(info)
        try:
            name = raw_id(id, "Connection", "id")
            await connections_resolver.delete_connection(ctx.store, name, force=force, actor=ctx.actor.audit_name,
                                                         services=ctx.services)
        except (BadInput, NotFound, Conflict) as exc:
            return DeletePayload(deleted_id=None, user_errors=_client_errors(exc))
        return DeletePayload(deleted_id=strawberry.ID(to_global("Connection", name)), user_errors=[])

    @strawberry.mutation(description="Check a connection as it is configured now: the org answers, accepts the "
                                     "credentials and offers the API version, and the identifier fields exist on "
                                     "each side. One verdict per check.", extensions=requires(P.CONNECTION_ADMIN))
    async def test_connection(self, info: Info, id: strawberry.ID) -> TestConnectionPayload:
        ctx = rc(info)
        try:
            row, verdicts = await verify_connection(ctx.store, ctx.backends, raw_id(id, "Connection", "id"),
                                                  actor=ctx.actor.audit_name)
        except (BadInput, NotFound) as exc:
            return TestConnectionPayload(connection=None, ok=False, checks=[], user_errors=_client_errors(exc))
        return TestConnectionPayload(connection=Connection(row=row), ok=all(v.ok for v in verdicts), user_errors=[],
                                     checks=[ConnectionCheckResult(name=v.check, ok=v.ok, message=v.message)
                                             for v in verdicts])


def _client_errors(exc: ClientError) -> list[UserError]:
    """A refused connection change as userErrors: one per problem, each naming its input field."""
    if isinstance(exc, connections_resolver.InvalidConnection):
        return [UserError(field=["input", connections_resolver.INPUT_FIELDS[attr]], message=message, code=exc.code)
                for attr, message in exc.problems]
    field = exc.extensions.get("field", "input").split(".")
    return [UserError(field=field, message=exc.message, code=exc.code)]

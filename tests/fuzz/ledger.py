"""What the generated mutations that answered success wrote, checked against the stand-ins' records.

Each operation's answer is read for the writes its mutations claim (an activity created, changed, deleted or
retried; a call logged or sent; an org reconciled). Whatever changed in the stand-ins must belong to one of them, or
to a write of an earlier operation still under way (its mirrors PENDING, its reconciliation running: carried over
until it ends); and each claimed write must be what the stand-ins hold: the input's values, a mirror exactly once
where it is SYNCED, nothing left of what was deleted, no mirror twice anywhere.
"""

from __future__ import annotations

import base64
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import graphql

from tests.conftest import CRM_CHANNELS, CTMS_CHANNELS
from tests.fuzz.records import Snapshot, changed

CONTEXT_FIELDS = {"studyId": "study__v", "studyCountryId": "study_country__v", "studySiteId": "site__v",
                  "studyPersonnelId": "study_person__v"}
CTMS_CHANNEL = {v: k for k, v in CTMS_CHANNELS.items()}
CRM_CHANNEL = {v: k for k, v in CRM_CHANNELS.items()}
# How long an operation's writes get to settle (inline delivery is given 2 s); what is still under way then is
# carried over to the next operations.
SETTLE_S = 5.0
States = dict[str, dict[str | None, str]]  # activity global id -> target (None: the CTMS) -> sync state
Check = Callable[[Snapshot], None]


def _raw(value: object) -> str:
    """A bare id, or the id inside a global id."""
    text = str(value)
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except ValueError:
        return text
    type_name, sep, raw = decoded.partition(":")
    return raw if sep and type_name.isidentifier() else text


def _gid(type_name: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def _text(value: object) -> object:
    """Both systems keep an empty text field as null."""
    return value if value != "" else None


@dataclass
class Writes:
    """Writes that may change records: activity ids, call keys, reconciled orgs."""

    clinical: set[str] = field(default_factory=set)  # CTMS activity ids created, changed, retried
    deleted: set[str] = field(default_factory=set)
    calls: set[tuple[str, str]] = field(default_factory=set)  # (org, call id) logged, sent, retried
    jobs: set[str] = field(default_factory=set)  # reconciliation jobs started
    reconciled: set[str] = field(default_factory=set)  # orgs whose mirrors a job (not a dry run) may repair

    def __bool__(self) -> bool:
        return bool(self.clinical or self.deleted or self.calls or self.jobs)

    def __or__(self, other: Writes) -> Writes:
        return Writes(self.clinical | other.clinical, self.deleted | other.deleted, self.calls | other.calls,
                      self.jobs | other.jobs, self.reconciled | other.reconciled)

    def activity_ids(self) -> list[str]:
        """Global ids of the activities whose sync states tell where their mirrors stand."""
        return ([_gid("ClinicalActivity", a) for a in sorted(self.clinical - self.deleted)]
                + [_gid("MedicalActivity", f"{o}:{c}") for o, c in sorted(self.calls)])

    def unexplained(self, before: Snapshot, after: Snapshot) -> list[str]:
        """Records that changed although none of these writes could have changed them."""
        activities = self.clinical | self.deleted
        out = [f"CTMS activity {r['id']}" for r in changed(before.ctms, after.ctms)
               if r["id"] not in activities and r["crm_org__v"] not in self.reconciled
               and (r["crm_org__v"], r["crm_call_id__v"]) not in self.calls]
        for org in after.calls:
            out += [f"{org} call {r['Id']}" for r in changed(before.calls[org], after.calls[org])
                    if (org, r["Id"]) not in self.calls]
            out += [f"{org} interaction {r['Id']} of activity {r['Vault_Activity_Id_vod__c']}"
                    for r in changed(before.mirrors[org], after.mirrors[org])
                    if r["Vault_Activity_Id_vod__c"] not in activities and org not in self.reconciled]
        return out


class Ledger:
    """Follows the generated operations of one run: `start` once, then `account` after each operation."""

    def __init__(self, read: Callable[[], Snapshot], count: Callable[[], int], gql: Callable[..., dict]) -> None:
        self.read = read  # the stand-ins' records
        self.count = count  # the write requests they received so far
        self.gql = gql  # the gateway as an admin: sync states and jobs
        self.snapshot: Snapshot | None = None
        self.seen = -1
        self.keys: dict[str, str] = {}  # idempotency key -> the activity its first success created
        self.carry = Writes()  # earlier writes still under way
        self.successes: Counter[str] = Counter()
        self.user_errors: Counter[str] = Counter()  # "mutation: code" of the user errors answered
        self.readings = 0

    def start(self) -> None:
        """Read the records as they are before the first operation (and again after an operation that failed)."""
        self.seen = self.count()
        self.snapshot = self.read()

    def account(self, operation: str, data: dict | None) -> list[str]:
        """Every rule this operation broke, once its writes have settled (or been carried over)."""
        before, self.snapshot = self.snapshot, None  # until this ends well: a failure leaves records unaccounted
        new, checks = self._claims(operation, data)
        seen = self.count()
        if before is None:
            self.start()
            return []
        if not new and seen == self.seen:
            self.snapshot = before
            return []  # no write request reached the stand-ins: nothing changed (nor did earlier writes go on)
        allowed = new | self.carry
        states, after = self._settle(new, allowed)
        problems = allowed.unexplained(before, after)
        for check in checks:
            try:
                check(after)
            except AssertionError as exc:
                problems.append(str(exc))
        problems += _mirrors(states, after) + after.doubles()
        self.carry = self._open(allowed, states, after)
        if not problems:
            self.snapshot, self.seen = after, seen
        return problems

    # -- what the answer claims ----------------------------------------------------------------------------------

    def _claims(self, operation: str, data: dict | None) -> tuple[Writes, list[Check]]:
        writes, checks = Writes(), []
        for definition in graphql.parse(operation).definitions:
            if not isinstance(definition, graphql.OperationDefinitionNode) or definition.operation.value != "mutation":
                continue
            for node in definition.selection_set.selections:
                payload = (data or {}).get(node.alias.value if node.alias else node.name.value)
                name = node.name.value
                refusals = (payload or {}).get("fuzzErrors")
                self.user_errors.update(f"{name}: {e['code']}" for e in refusals or [])
                if not payload or refusals:
                    continue
                self.successes[name] += 1
                # A mutation not known here claims no write: whatever it changes is reported as unexplained.
                claim = getattr(self, f"_{name}", None)
                if claim is not None:
                    args = {a.name.value: graphql.value_from_ast_untyped(a.value) for a in node.arguments}
                    checks += claim(writes, args, payload)
        return writes, checks

    def _createClinicalActivity(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        given = args["input"]
        aid = payload["fuzzActivity"]["ctmsId"]
        writes.clinical.add(aid)
        key = given.get("idempotencyKey")
        if key is not None and key in self.keys:
            # A replay: the gateway took the input for the first one's (else IDEMPOTENCY_KEY_REUSED).
            assert self.keys[key] == aid, f"idempotency key {key!r} gave {aid}, the first time {self.keys[key]}"
            return []
        if key is not None:
            self.keys[key] = aid
        context = {CONTEXT_FIELDS[k]: _raw(v) for k, v in (given["context"] or {}).items() if v is not None}
        want = {"person__v": _raw(given["personId"]), "activity_date__v": given["date"],
                "channel__v": [CTMS_CHANNEL[given["channel"]]], "completed__v": given["completed"],
                "subject__v": _text(given.get("subject")), "object_type__v.api_name__v": "clinical_activity__v",
                **{f: context.get(f) for f in CONTEXT_FIELDS.values()}}

        def check(after: Snapshot) -> None:
            if aid in writes.deleted:
                return
            assert aid in after.ctms, f"created activity {aid} is not in the CTMS"
            have = {k: after.ctms[aid].get(k) for k in want}
            assert have == want, f"created activity {aid}: the CTMS holds {have}, the input was {want}"
        return [check]

    def _updateClinicalActivity(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        given = args["input"]
        aid = payload["fuzzActivity"]["ctmsId"]
        assert aid == _raw(given["id"]), f"updated {aid}, asked {given['id']}"
        writes.clinical.add(aid)
        want = {}
        if given.get("date") is not None:
            want["activity_date__v"] = given["date"]
        if given.get("channel") is not None:
            want["channel__v"] = [CTMS_CHANNEL[given["channel"]]]
        if given.get("completed") is not None:
            want["completed__v"] = given["completed"]
        if "subject" in given:
            want["subject__v"] = _text(given["subject"])

        def check(after: Snapshot) -> None:
            if aid in writes.deleted:
                return  # deleted by a later mutation of the same operation
            assert aid in after.ctms, f"updated activity {aid} is not in the CTMS"
            have = {k: after.ctms[aid].get(k) for k in want}
            assert have == want, f"updated activity {aid}: the CTMS holds {have}, the input was {want}"
        return [check]

    def _deleteClinicalActivity(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        aid = _raw(payload["fuzzDeleted"])
        assert aid == _raw(args["id"]), f"deleted {aid}, asked {args['id']}"
        writes.deleted.add(aid)

        def check(after: Snapshot) -> None:
            assert aid not in after.ctms, f"deleted activity {aid} is still in the CTMS"
        return [check]

    def _logCall(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        given = args["input"]
        org, call_id = _raw(given["connectionId"]), payload["fuzzCall"]
        writes.calls.add((org, call_id))
        want = {"Call_Date_vod__c": given["date"], "Call_Channel_vod__c": CRM_CHANNEL[given["channel"]],
                "completed": given["completed"], "Subject_vod__c": _text(given.get("subject")),
                "Send_To_Vault_Clinical_vod__c": bool(given.get("sendToClinical"))}

        def check(after: Snapshot) -> None:
            row = after.calls.get(org, {}).get(call_id)
            assert row is not None, f"logged call {call_id} is not in {org}"
            have = {k: row.get(k) for k in want if k != "completed"}
            have["completed"] = row["Status_vod__c"] == "Submitted_vod"
            assert have == want, f"logged call {call_id} in {org}: the org holds {have}, the input was {want}"
            assert row["Account_vod__c"], f"logged call {call_id} has no account"
        return [check]

    def _sendCallToClinical(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        given = args["input"]
        org, call_id = _raw(given["connectionId"]), given["callId"]
        writes.calls.add((org, call_id))

        def check(after: Snapshot) -> None:
            row = after.calls.get(org, {}).get(call_id)
            assert row is not None and row["Send_To_Vault_Clinical_vod__c"], f"call {call_id} in {org} not sent"
        return [check]

    def _retrySync(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        activity = payload["fuzzActivity"]
        raw = _raw(activity["id"])
        if activity["__typename"] == "MedicalActivity":
            org, _, call_id = raw.partition(":")
            writes.calls.add((org, call_id))
        else:
            writes.clinical.add(raw)
        return []

    def _reconcile(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        job = payload["fuzzJob"]
        writes.jobs.add(job["id"])
        if not job["dryRun"]:  # a dry run compares and reports only: any change is unexplained
            writes.reconciled.add(_raw(args["input"]["connectionId"]))
        return []

    def _updateConnection(self, writes: Writes, args: dict, payload: dict) -> list[Check]:
        given, connection = args["input"], payload["fuzzConnection"]
        if given.get("enabled") is not None:
            assert connection["enabled"] == given["enabled"], f"updateConnection answered {connection}"
        for arg, key in (("ctmsIdentifierField", "ctmsField"), ("crmIdentifierField", "crmField")):
            if given.get(arg) is not None:
                assert connection["identifier"][key] == given[arg], f"updateConnection answered {connection}"
        return []

    # -- writes under way ----------------------------------------------------------------------------------------

    def _settle(self, new: Writes, allowed: Writes) -> tuple[States, Snapshot]:
        """Wait (up to SETTLE_S) until this operation's writes are done; the sync states and records then."""
        deadline = time.monotonic() + SETTLE_S
        while True:
            states = self._states(allowed.activity_ids())
            after = self.read()
            self.readings += 1
            if not (self._pending(new, states, after) or self._busy(new)) or time.monotonic() > deadline:
                return states, after
            time.sleep(0.1)

    def _open(self, allowed: Writes, states: States, after: Snapshot) -> Writes:
        """What is still under way: activities with PENDING mirrors, deletions not delivered, jobs running."""
        pending = {gid for gid, per in states.items() if "PENDING" in per.values()}
        still = Writes(clinical={a for a in allowed.clinical if _gid("ClinicalActivity", a) in pending},
                       calls={(o, c) for o, c in allowed.calls if _gid("MedicalActivity", f"{o}:{c}") in pending},
                       deleted={a for a in allowed.deleted if any(after.mirrors_of(o, a) for o in after.mirrors)})
        if self._busy(allowed):
            still.jobs, still.reconciled = allowed.jobs, allowed.reconciled
        return still

    def _pending(self, writes: Writes, states: States, after: Snapshot) -> bool:
        ids = set(writes.activity_ids())
        return (any("PENDING" in per.values() for gid, per in states.items() if gid in ids)
                or any(after.mirrors_of(o, a) for a in writes.deleted for o in after.mirrors))

    def _states(self, ids: list[str], batch: int = 25) -> States:
        """Where each activity's mirrors stand, read through the gateway (a batch of aliases per request)."""
        out: States = {}
        fragment = "sync { connection { name } state }"
        for start in range(0, len(ids), batch):
            part = ids[start:start + batch]
            query = "{ " + " ".join(f'a{i}: node(id: "{gid}") {{ ... on ClinicalActivity {{ {fragment} }} '
                                    f'... on MedicalActivity {{ {fragment} }} }}' for i, gid in enumerate(part)) + " }"
            body = self.gql(query)
            assert "errors" not in body, body
            out.update({gid: {(s["connection"] or {}).get("name"): s["state"]
                              for s in (body["data"][f"a{i}"] or {}).get("sync", [])} for i, gid in enumerate(part)})
        return out

    def _busy(self, writes: Writes) -> bool:
        """A reconciliation job still running, or mirrors still waiting in the outbox of an org it repairs."""
        if not writes.jobs:
            return False
        jobs = sorted(writes.jobs)[-25:]  # the latest: the alias budget of one request
        query = "{ connections { name pending } " + " ".join(
            f'j{i}: reconcileJob(id: "{job}") {{ state }}' for i, job in enumerate(jobs)) + " }"
        body = self.gql(query)
        assert "errors" not in body, body
        data = body["data"]
        running = any((data[f"j{i}"] or {}).get("state") == "RUNNING" for i in range(len(jobs)))
        return running or any(c["pending"] for c in data["connections"] if c["name"] in writes.reconciled)


def _mirrors(states: States, after: Snapshot) -> list[str]:
    """Each activity whose mirror is SYNCED has it exactly once there."""
    out = []
    for gid, per_target in states.items():
        type_name, _, raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode().partition(":")
        for target, state in per_target.items():
            if state != "SYNCED":
                continue
            if type_name == "ClinicalActivity" and target in after.mirrors:
                n, where = after.mirrors_of(target, raw), target
            elif type_name == "MedicalActivity" and target is None:
                org, _, call_id = raw.partition(":")
                n, where = after.medical_of(org, call_id), "the CTMS"
            else:
                continue
            if n != 1:
                out.append(f"{type_name} {raw} is SYNCED to {where} with {n} mirrors there")
    return out

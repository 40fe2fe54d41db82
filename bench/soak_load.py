"""The soak's client load: threads sending a mix of reads and writes to the gateway at a steady rate, writes retried
with their idempotency key (or, for updates, the same change) until they answer, and a record of what was written.

Mix per request: 45% a person's timeline, 10% a people search, 10% an activity's sync state, 20%
createClinicalActivity, 10% updateClinicalActivity (a new subject for an activity this thread created), 5% logCall
sent to Clinical. Every write names a person matched in both orgs, so each of its mirrors can end SYNCED.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

import httpx

TIMELINE = """query($id: ID!) { person(id: $id) { timeline(first: 20) { edges { node { __typename id date status
  sync { connection { name } state } } } pageInfo { hasNextPage endCursor } } } }"""
SEARCH = "query($q: String) { people(search: $q, first: 10) { edges { node { id firstName lastName } } } }"
SYNC = "query($id: ID!) { node(id: $id) { ... on ClinicalActivity { sync { connection { name } state } } } }"
CREATE = """mutation($input: CreateClinicalActivityInput!) { createClinicalActivity(input: $input) {
  activity { id ctmsId } userErrors { code message } } }"""
UPDATE = """mutation($input: UpdateClinicalActivityInput!) { updateClinicalActivity(input: $input) {
  activity { id } userErrors { code message } } }"""
LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) { callId activity { id }
  userErrors { code message } } }"""
WRITE_TRIES = 60  # a write is retried (same key, same change) this many times, 0.5 s apart, before it counts as lost
SEARCHES = ["a", "ab", "li", "son", "e", "ma"]


def gid(type_name: str, raw: str) -> str:
    import base64
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


@dataclass
class Written:
    """What the load wrote, as the gateway answered it, for the final checks."""

    activities: dict[str, str] = field(default_factory=dict)  # idempotency key -> CTMS activity id
    subjects: dict[str, str] = field(default_factory=dict)  # CTMS activity id -> the subject it must end with
    unsure: set[str] = field(default_factory=set)  # activities whose last update's answer never came
    calls: dict[str, tuple[str, str]] = field(default_factory=dict)  # idempotency key -> (org, call id)
    lost: list[str] = field(default_factory=list)  # keys of writes that never answered, however often retried
    abandoned: list[str] = field(default_factory=list)  # keys of writes still being retried when the load stopped
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Tally:
    """Answers by kind of request and outcome (ok, an error code, HTTP status, or the transport error)."""

    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, outcome: str) -> None:
        with self.lock:
            self.counts[f"{kind}: {outcome}"] += 1


class Load:
    """`threads` clients at `rate` requests a second in all (the gateway restarts on the same port: while it is
    down, requests fail to connect and writes are retried)."""

    def __init__(self, url: str, token: str, people: list[str], sites: list[str], orgs: list[str], *,
                 threads: int, rate: float, seed: int) -> None:
        self.url, self.token = url, token
        self.people, self.sites, self.orgs = people, sites, orgs
        self.threads, self.interval_s = threads, threads / rate
        self.seed = seed
        self.written = Written()
        self.tally = Tally()
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for n in range(self.threads):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self.stopping.set()
        for thread in self._threads:
            thread.join()

    def _run(self, n: int) -> None:
        rnd = random.Random(self.seed * 1000 + n)
        mine: list[str] = []  # CTMS ids of the activities this thread created
        with httpx.Client(base_url=self.url, timeout=30,
                          headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"}) as client:
            next_at = time.monotonic()
            while not self.stopping.is_set():
                self._one(client, rnd, mine)
                next_at += self.interval_s
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _one(self, client: httpx.Client, rnd: random.Random, mine: list[str]) -> None:
        roll = rnd.random()
        person = gid("Person", rnd.choice(self.people))
        if roll < 0.45:
            self._send(client, "timeline", TIMELINE, {"id": person})
        elif roll < 0.55:
            self._send(client, "search", SEARCH, {"q": rnd.choice(SEARCHES)})
        elif roll < 0.65 and mine:
            self._send(client, "sync", SYNC, {"id": gid("ClinicalActivity", rnd.choice(mine))})
        elif roll < 0.85 or not mine:
            self._create(client, rnd, person, mine)
        elif roll < 0.95:
            self._update(client, rnd, rnd.choice(mine))
        else:
            self._log_call(client, rnd, person)

    def _day(self, rnd: random.Random) -> str:
        return (date.today() - timedelta(days=rnd.randint(1, 90))).isoformat()

    def _create(self, client: httpx.Client, rnd: random.Random, person: str, mine: list[str]) -> None:
        key = f"soak-{uuid.UUID(int=rnd.getrandbits(128)).hex[:16]}"
        subject = f"soak {key}"
        _, body = self._write(client, "create", CREATE, {"input": {
            "personId": person, "context": {"studySiteId": gid("StudySite", rnd.choice(self.sites))},
            "date": self._day(rnd), "channel": rnd.choice(["PHONE", "VIDEO", "EMAIL"]), "completed": True,
            "subject": subject, "idempotencyKey": key}}, key)
        if body is not None:
            aid = body["createClinicalActivity"]["activity"]["ctmsId"]
            mine.append(aid)
            with self.written.lock:
                self.written.activities[key] = aid
                self.written.subjects[aid] = subject

    def _update(self, client: httpx.Client, rnd: random.Random, aid: str) -> None:
        with self.written.lock:
            key = self.written.subjects[aid].split()[1]
        subject = f"soak {key} v{rnd.randint(1, 10**6)}"
        outcome, _ = self._write(client, "update", UPDATE, {"input": {"id": gid("ClinicalActivity", aid),
                                                                      "subject": subject}}, key)
        with self.written.lock:
            if outcome == "lost":
                self.written.unsure.add(aid)  # the change may or may not have been made
            elif outcome == "ok":
                self.written.subjects[aid] = subject
                self.written.unsure.discard(aid)

    def _log_call(self, client: httpx.Client, rnd: random.Random, person: str) -> None:
        key = f"soak-call-{uuid.UUID(int=rnd.getrandbits(128)).hex[:16]}"
        org = rnd.choice(self.orgs)
        _, body = self._write(client, "logCall", LOG_CALL, {"input": {
            "connectionId": gid("Connection", org), "personId": person, "date": self._day(rnd),
            "channel": "PHONE", "completed": True, "subject": f"soak {key}", "sendToClinical": True,
            "idempotencyKey": key}}, key)
        if body is not None:
            with self.written.lock:
                self.written.calls[key] = (org, body["logCall"]["callId"])

    def _write(self, client: httpx.Client, kind: str, query: str, variables: dict, key: str
               ) -> tuple[str, dict | None]:
        """("ok", data) once the write answers without errors, ("refused", None) when it answers user errors
        (nothing written), ("lost", None) when it never answered; retried as a client would (same key or change)."""
        for _ in range(WRITE_TRIES):
            body = self._send(client, kind, query, variables)
            if body is not None and not body.get("errors"):
                payload = next(iter(body["data"].values()))
                if not payload["userErrors"]:
                    return "ok", body["data"]
                self.tally.add(kind, "user errors " + ",".join(sorted({e["code"] for e in payload["userErrors"]})))
                return "refused", None
            if self.stopping.is_set():
                with self.written.lock:
                    self.written.abandoned.append(key)
                return "lost", None
            time.sleep(0.5)
        with self.written.lock:
            self.written.lost.append(key)
        return "lost", None

    def _send(self, client: httpx.Client, kind: str, query: str, variables: dict) -> dict | None:
        try:
            r = client.post("/graphql", json={"query": query, "variables": variables})
        except httpx.TransportError as exc:
            self.tally.add(kind, type(exc).__name__)
            return None
        if r.status_code != 200:
            self.tally.add(kind, f"HTTP {r.status_code}")
            return None
        body = r.json()
        codes = sorted({(e.get("extensions") or {}).get("code", "NO_CODE") for e in body.get("errors") or []})
        self.tally.add(kind, ",".join(codes) or "ok")
        return body

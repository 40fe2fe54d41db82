"""Metrics: after a scripted workload through a gateway of its own (reads, a search, a write delivered inline, a
parse error, an org down, a 401, a 429, polls), `/metrics` shows each metric with its labels; it needs a
CONNECTION_ADMIN token, or a separate address; the dashboard and the alert rules in deploy/ use only names a scrape
has."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import KNOB_DEFAULTS, Gateway, Stack, set_knobs
from tests.writes.conftest import CREATE, MATCHED, new_input, unique_key, wait_until

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
CLARA = "clara.oswald@ctms.example.com"  # clinical lead: no CONNECTION_ADMIN
TIMELINE = """query MetricsTimeline($id: ID!) { person(id: $id) { timeline(first: 5) { edges { node { id } } } } }"""
SEARCH = """query MetricsSearch { people(search: "tanaka", first: 2) { edges { node { id } } } }"""


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def scrape(gateway: Gateway) -> list[Sample]:
    """The gateway's /metrics, read with its (admin) token."""
    r = gateway.client.get("/metrics", headers={"Authorization": f"Bearer {gateway.token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return parse(r.text)


def parse(text: str) -> list[Sample]:
    return [Sample(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def find(samples: list[Sample], name: str, **labels: str) -> list[Sample]:
    return [s for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s.value for s in find(samples, name, **labels))


def _own_database(stack: Stack) -> str:
    """A store of its own with the demo connections, its polling marks at now: only what changes from now on is
    polled (the seeded history is not this test's business)."""
    from datasources.store.db import create_engine
    from datasources.store.repo import Store
    from gateway.demo import configure

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ccgw-metrics-')) / 'gateway.db'}"
    configure(url, stack.orgs)
    now = datetime.now(UTC)

    async def marks() -> None:
        store = Store(create_engine(url))
        await store.set_mark("ctms:activities", now.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        for org in stack.orgs:
            await store.set_mark(f"crm:{org}:calls", now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"))
        await store.engine.dispose()

    asyncio.run(marks())
    return url


def _outbox_rows(url: str) -> None:
    """A mirror pending for 15 minutes (not due for an hour: the worker leaves it) and a FAILED one."""
    from datasources.store.db import create_engine
    from datasources.store.models import Mirror
    from datasources.store.repo import Store
    from domain import SyncState

    async def write() -> None:
        store = Store(create_engine(url))
        now = datetime.now(UTC)
        async with store.session() as s:
            s.add(Mirror(source_kind="clinical", source_id="0AC900000000001", target="us", state=SyncState.PENDING,
                         next_attempt_at=now + timedelta(hours=1), updated_at=now - timedelta(minutes=15)))
            s.add(Mirror(source_kind="medical", source_id="eu:00T0E0000000901AAAA", target="ctms",
                         state=SyncState.FAILED, last_error="CTMS refused the record"))
            await s.commit()
        await store.engine.dispose()

    asyncio.run(write())


@dataclass
class Workload:
    gateway: Gateway
    samples: list[Sample]


@pytest.fixture(scope="module")
def workload(stack: Stack, gid) -> Iterator[Workload]:  # noqa: ANN001
    url = _own_database(stack)
    _outbox_rows(url)
    gw = stack.start_gateway(database_url=url, poll_interval_s=0.3, worker_interval_s=0.2)
    person = gid("Person", MATCHED)
    assert "errors" not in gw.gql(TIMELINE, {"id": person})
    assert "errors" not in gw.gql(SEARCH)
    assert "errors" not in gw.gql("{ viewer { email } }")  # anonymous
    assert gw.gql("{ person(id: ")["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    created = gw.gql(CREATE, {"input": new_input(subject="metrics workload", key=unique_key())})
    assert created["data"]["createClinicalActivity"]["userErrors"] == [], created
    assert gw.post("{ viewer { email } }", token="not-a-token").status_code == 401
    set_knobs(stack.orgs["eu"], outage="503")
    try:
        partial = gw.gql(TIMELINE, {"id": person})
        assert partial["errors"][0]["extensions"]["code"] == "SOURCE_UNAVAILABLE", partial
    finally:
        set_knobs(stack.orgs["eu"], **KNOB_DEFAULTS)
    limited = stack.start_gateway(database_url=url, worker=False, rate_limit_per_minute=1)
    statuses = [limited.post("{ viewer { email } }").status_code for _ in range(3)]
    assert 429 in statuses, statuses
    # The poll after the write finds it (the gateway's own write is a change in the CTMS like any other), and the
    # polls reach eu again.
    def settled() -> list[Sample] | None:
        samples = scrape(gw)
        found = find(samples, "ccgw_poll_lag_seconds_count", source="ctms")
        return samples if found and value(samples, "ccgw_source_up", source="crm:eu") == 1 else None

    try:
        samples = wait_until(settled, timeout=20, what="a poll that found the new activity")
        gw.settings.poll_interval_s = 0.0  # type: ignore[attr-defined] - the worker reads it on every cycle
        yield Workload(gw, samples)  # type: ignore[arg-type]
    finally:
        # Stopped now, not at the end of the session: a gateway polling on would mirror what later tests change.
        gw.stop()
        limited.stop()


# -- the names and labels after the workload -----------------------------------------------------------------

def test_graphql_requests_by_type_name_and_outcome(workload: Workload) -> None:
    s = workload.samples
    assert value(s, "graphql_request_duration_seconds_count", graphql_operation_type="query",
                 graphql_operation_name="MetricsTimeline", outcome="success") >= 1
    assert value(s, "graphql_request_duration_seconds_count", graphql_operation_type="query",
                 graphql_operation_name="MetricsTimeline", outcome="partial") >= 1
    assert value(s, "graphql_request_duration_seconds_count", graphql_operation_type="query",
                 graphql_operation_name="anonymous", outcome="success") >= 1
    assert value(s, "graphql_request_duration_seconds_count", graphql_operation_type="mutation",
                 graphql_operation_name="anonymous", outcome="success") >= 1
    # A document that does not parse has neither a type nor a name.
    assert value(s, "graphql_request_duration_seconds_count", graphql_operation_type="unknown",
                 graphql_operation_name="unknown", outcome="error") >= 1
    assert find(s, "graphql_request_duration_seconds_bucket", graphql_operation_name="MetricsSearch", le="+Inf")


def test_parse_validate_and_execute_phases(workload: Workload) -> None:
    for phase in ("parse", "validate", "execute"):
        assert value(workload.samples, "graphql_phase_duration_seconds_count", phase=phase,
                     graphql_operation_name="MetricsTimeline") >= 2, phase
    assert value(workload.samples, "graphql_phase_duration_seconds_count", phase="parse",
                 graphql_operation_name="unknown") >= 1
    assert not find(workload.samples, "graphql_phase_duration_seconds_count", phase="execute",
                    graphql_operation_name="unknown")


def test_http_requests_by_route_and_status_refusals_included(workload: Workload) -> None:
    s = workload.samples
    assert value(s, "http_server_request_duration_seconds_count", http_request_method="POST", http_route="/graphql",
                 http_response_status_code="200") >= 5
    assert value(s, "http_server_request_duration_seconds_count", http_route="/graphql",
                 http_response_status_code="401") >= 1
    assert value(s, "http_server_request_duration_seconds_count", http_route="/graphql",
                 http_response_status_code="429") >= 1
    assert value(s, "ccgw_rate_limit_refusals_total", http_route="/graphql") >= 1
    routes = {x.labels["http_route"] for x in find(s, "http_server_request_duration_seconds_count")}
    assert all(r.startswith("/") or r == "other" for r in routes) and not any("?" in r for r in routes)


def test_backend_calls_by_source_operation_and_status(workload: Workload) -> None:
    s = workload.samples
    for source in ("ctms", "crm:us", "crm:eu"):
        assert value(s, "http_client_request_duration_seconds_count", source=source, operation="query",
                     http_response_status_code="200") >= 1, source
        assert value(s, "ccgw_source_up", source=source) == 1, source  # up again once the outage ended
    assert value(s, "http_client_request_duration_seconds_count", source="crm:us", operation="upsert") >= 1
    assert value(s, "http_client_request_duration_seconds_count", source="crm:eu",
                 http_response_status_code="503", error_type="server_error") >= 1
    assert value(s, "ccgw_backend_errors_total", source="crm:eu", error_type="server_error") >= 1
    operations = {x.labels["operation"] for x in find(s, "http_client_request_duration_seconds_count")}
    assert operations <= {"login", "query", "read", "write", "create", "update", "upsert", "delete", "deletions",
                          "updated", "deleted", "describe", "probe", "other"}, operations


def test_api_budget_left_per_source(workload: Workload) -> None:
    s = workload.samples
    assert value(s, "ccgw_api_budget_limit", source="ctms", window="burst") > 0
    assert 0 <= value(s, "ccgw_api_budget_remaining", source="ctms", window="burst") \
        <= value(s, "ccgw_api_budget_limit", source="ctms", window="burst")
    for org in ("crm:us", "crm:eu"):
        limit = value(s, "ccgw_api_budget_limit", source=org, window="daily")
        assert limit > 0 and 0 <= value(s, "ccgw_api_budget_remaining", source=org, window="daily") < limit


def test_deliveries_outbox_and_polls_by_connection(workload: Workload) -> None:
    s = workload.samples
    for org in ("us", "eu"):
        assert value(s, "ccgw_deliveries_total", connection=org, direction="to_crm", outcome="synced") >= 1, org
    assert value(s, "ccgw_outbox_pending", connection="us", direction="to_crm") == 1
    assert 15 * 60 - 5 <= value(s, "ccgw_outbox_oldest_pending_age_seconds", connection="us",
                                direction="to_crm") < 20 * 60
    assert value(s, "ccgw_outbox_failed", connection="eu", direction="to_ctms") == 1
    assert value(s, "ccgw_outbox_failed", connection="us", direction="to_crm") == 0
    assert find(s, "ccgw_poll_last_success_timestamp_seconds", source="ctms")
    assert value(s, "ccgw_poll_lag_seconds_count", source="ctms") >= 1


def test_operation_names_are_bounded() -> None:
    from gateway.metrics import OTHER, OperationNames

    names = OperationNames(limit=2)
    assert [names.label(n) for n in ("A", "B", "C", "A", "anonymous", "unknown")] == \
        ["A", "B", OTHER, "A", "anonymous", "unknown"]


# -- who may read them ---------------------------------------------------------------------------------------

def test_metrics_need_a_connection_admin_token(stack: Stack, workload: Workload) -> None:
    gw = workload.gateway
    none = gw.client.get("/metrics")
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert none.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "ccgw_" not in none.text
    bad = gw.client.get("/metrics", headers={"Authorization": "Bearer not-a-token"})
    assert bad.status_code == 401
    clara = gw.client.get("/metrics", headers={"Authorization": f"Bearer {stack.token(CLARA)}"})
    assert clara.status_code == 403 and clara.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "ccgw_" not in clara.text
    html = gw.client.get("/metrics", headers={"Accept": "text/html"})
    assert html.status_code == 401


def test_the_admin_token_gets_the_text_format(workload: Workload) -> None:
    admin = {"Authorization": f"Bearer {workload.gateway.token}"}
    text = workload.gateway.client.get("/metrics", headers=admin).text
    assert "# TYPE graphql_request_duration_seconds histogram" in text
    assert "# TYPE ccgw_outbox_pending gauge" in text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow  # a gateway of its own, started and stopped
def test_a_separate_address_serves_them_without_a_token(stack: Stack, workload: Workload) -> None:
    port = _free_port()
    database_url = workload.gateway.settings.database_url  # type: ignore[attr-defined]
    gw = stack.start_gateway(database_url=database_url, worker=False, metrics_bind=f"127.0.0.1:{port}")
    try:
        r = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        gw.stop()
    assert r.status_code == 200
    samples = parse(r.text)
    assert value(samples, "ccgw_outbox_pending", connection="us", direction="to_crm") == 1
    assert find(samples, "http_server_request_duration_seconds_count")


def test_a_bad_metrics_bind_is_a_clear_error(stack: Stack) -> None:
    from gateway.app import create_app

    with pytest.raises(SystemExit, match="CCGW_METRICS_BIND must be host:port"):
        create_app(replace(stack.settings, metrics_bind="localhost"))


# -- deploy/: the dashboard and the alert rules --------------------------------------------------------------

METRIC = re.compile(r"\b((?:ccgw|graphql|http_server|http_client)_[a-z_]+)\b")
LABEL_GROUPS = re.compile(r"\b(?:by|without|on|ignoring)\s*\(([^)]*)\)")
MATCHERS = re.compile(r"\{([^}]*)\}")


def _exprs() -> list[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    exprs += [r["expr"] for group in rules["groups"] for r in group["rules"]]
    assert len(exprs) > 20
    return exprs


def _names_and_labels(expr: str) -> tuple[set[str], set[str]]:
    labels = {x.strip() for group in LABEL_GROUPS.findall(expr) for x in group.split(",") if x.strip()}
    labels |= {m.split("=")[0].strip(" !~") for block in MATCHERS.findall(expr) for m in block.split(",") if m}
    bare = MATCHERS.sub("", LABEL_GROUPS.sub("", expr))
    return set(METRIC.findall(bare)), labels - {"le"}


def test_the_alert_rules_are_valid_and_complete() -> None:
    rules = yaml.safe_load((DEPLOY / "alerts.yml").read_text())
    [group] = rules["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"CcgwBacklogOlderThan10m", "CcgwFailedMirrors", "CcgwSourceUnavailable",
                           "CcgwApiBudgetLow"}
    assert "> 600" in alerts["CcgwBacklogOlderThan10m"]["expr"]
    assert alerts["CcgwSourceUnavailable"]["for"] == "5m"
    assert "< 0.10" in alerts["CcgwApiBudgetLow"]["expr"]
    for rule in alerts.values():
        assert rule["labels"]["severity"] in ("warning", "critical") and rule["annotations"]["summary"]


def test_every_name_the_dashboard_and_rules_use_is_in_a_scrape(workload: Workload) -> None:
    scraped = {s.name for s in workload.samples}
    labels = {k for s in workload.samples for k in s.labels}
    used_names: set[str] = set()
    used_labels: set[str] = set()
    for expr in _exprs():
        names, expr_labels = _names_and_labels(expr)
        assert names, expr
        used_names |= names
        used_labels |= expr_labels
    assert used_names - scraped == set()
    assert used_labels - labels == set()
    # Each family the gateway defines is on the dashboard.
    assert {"ccgw_outbox_pending", "ccgw_poll_lag_seconds_bucket", "ccgw_api_budget_remaining",
            "http_client_request_duration_seconds_bucket", "graphql_phase_duration_seconds_bucket"} <= used_names


def test_a_gauge_is_set_again_only_when_its_value_changes() -> None:
    from gateway.metrics import set_gauge

    class Gauge:
        def __init__(self) -> None:
            self.sets: list[float] = []

        def set(self, value: float) -> None:
            self.sets.append(value)

    up, other = Gauge(), Gauge()
    for value in (1, 1, 0, 0, 1, 1):
        set_gauge(up, value)
    set_gauge(other, 1)
    assert up.sets == [1, 0, 1] and other.sets == [1]

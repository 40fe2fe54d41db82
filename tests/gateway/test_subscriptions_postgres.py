"""Live updates across replicas: two gateways on one PostgreSQL store, events through LISTEN/NOTIFY, and a listener
that loses its connection catching up from the store."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

import asyncpg
import pytest

from datasources.pg_events import APPLICATION_NAME, PgBus
from datasources.store.db import migrate
from gateway.demo import configure
from tests import postgres
from tests.conftest import Gateway, Stack
from tests.gateway.sockets import ACTIVITY_CHANGED, Socket, event_of
from tests.gateway.test_subscriptions import CLARA, PERSON
from tests.writes.conftest import CREATE, UPDATE, new_input, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not reachable on 127.0.0.1:5432")]


@contextlib.contextmanager
def two_replicas(stack: Stack, **b_settings: object) -> Iterator[tuple[Gateway, Gateway, str]]:
    """Gateway A (with the worker, as Clara) and B (without, with `b_settings`), on one fresh PostgreSQL database."""
    with postgres.fresh_database() as url:
        migrate(url)
        configure(url, stack.orgs)
        a = stack.start_gateway(database_url=url)
        b = stack.start_gateway(database_url=url, worker=False, **b_settings)
        try:
            yield a.with_token(stack.token(CLARA)), b, url
        finally:
            for gw in (a, b):
                gw.stop()
                stack._extra.remove(gw)


@pytest.fixture
def replicas(stack: Stack) -> Iterator[tuple[Gateway, Gateway, str]]:
    with two_replicas(stack) as found:
        yield found


def _bus(gateway: Gateway) -> PgBus:
    bus = gateway.server.config.app.state.services.store.events
    assert isinstance(bus, PgBus)
    return bus


async def _terminate_listeners(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return len(await conn.fetch("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                    "WHERE application_name = $1 AND datname = current_database()",
                                    APPLICATION_NAME))
    finally:
        await conn.close()


def test_a_write_on_one_replica_reaches_a_subscriber_on_the_other(stack: Stack, replicas) -> None:  # noqa: ANN001
    a, b, _ = replicas
    socket = Socket(b.url)
    assert socket.init(stack.token(CLARA))["type"] == "connection_ack"
    socket.subscribe("1", ACTIVITY_CHANGED, {"personId": PERSON})
    wait_until(lambda: _bus(b).listening and _bus(b).local.count == 1, what="B's listener")
    body = a.gql(CREATE, {"input": new_input(subject="across replicas")})
    assert "errors" not in body, body
    activity_id = body["data"]["createClinicalActivity"]["activity"]["id"]
    got = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id))
    assert got["payload"]["data"]["activityChanged"]["change"] == "CREATED"
    socket.close()


def test_the_listener_reconnects_and_catches_up_after_its_connection_is_killed(stack: Stack, replicas) -> None:  # noqa: ANN001
    a, b, url = replicas
    socket = Socket(b.url)
    socket.init(stack.token(CLARA))
    socket.subscribe("1", ACTIVITY_CHANGED, {"personId": PERSON})
    bus = _bus(b)
    wait_until(lambda: bus.listening and bus.local.count == 1, what="B's listener")
    body = a.gql(CREATE, {"input": new_input(subject="before the gap")})
    activity_id = body["data"]["createClinicalActivity"]["activity"]["id"]
    socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id))
    bus.reconnect_delay_s = 3.0  # a gap long enough to write in
    assert asyncio.run(_terminate_listeners(url)) == 1
    wait_until(lambda: not bus.listening, what="B's listener to notice")
    started = time.monotonic()
    body = a.gql(UPDATE, {"input": {"id": activity_id, "channel": "EMAIL"}})  # published while B hears nothing
    assert "errors" not in body, body
    assert not bus.listening and time.monotonic() - started < 2.0, "the write did not fall in the gap"
    updated = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id
                                       and e["change"] == "UPDATED"), timeout=30)
    assert updated["payload"]["data"]["activityChanged"]["activity"]["channel"] == "EMAIL"
    assert bus.connections == 2 and bus.listening
    socket.close()

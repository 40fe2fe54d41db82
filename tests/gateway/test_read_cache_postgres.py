"""The read cache across replicas on one PostgreSQL store: a write on one forgets the other's kept answers, and a
replica whose listening connection is lost recalls nothing until it listens again."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from tests import postgres
from tests.conftest import Gateway, Stack
from tests.gateway.test_read_cache import PERSON, TIMELINE, _requests, _reset
from tests.gateway.test_subscriptions_postgres import _bus, _terminate_listeners, two_replicas
from tests.writes.conftest import CREATE, new_input, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not reachable on 127.0.0.1:5432")]


@pytest.fixture
def replicas(stack: Stack) -> Iterator[tuple[Gateway, Gateway, str]]:
    """Gateway A (with the worker) and B (no worker, answers kept for 60 s), on one fresh PostgreSQL database."""
    with two_replicas(stack, read_cache_s=60.0) as found:
        yield found


def _ids(gateway: Gateway) -> list[str]:
    return [e["node"]["id"] for e in gateway.gql(TIMELINE, {"id": PERSON})["data"]["person"]["timeline"]["edges"]]


def test_a_write_on_one_replica_forgets_the_other_s_kept_answers(replicas) -> None:  # noqa: ANN001
    a, b, _ = replicas
    wait_until(lambda: _bus(b).listening, what="B's listener")
    _ids(b)
    body = a.gql(CREATE, {"input": new_input(subject="written on A")})
    assert "errors" not in body, body
    created = body["data"]["createClinicalActivity"]["activity"]["id"]
    # As soon as B hears of it (a notification away), never after B's 60 s.
    wait_until(lambda: created in _ids(b), timeout=5, what="B to show A's write")


def test_a_replica_that_cannot_hear_of_changes_reads_the_backends(stack: Stack, replicas, stats,  # noqa: ANN001
                                                                  reset_stats) -> None:  # noqa: ANN001
    _, b, url = replicas
    bus = _bus(b)
    wait_until(lambda: bus.listening, what="B's listener")
    _ids(b)
    _reset(stack, reset_stats)
    _ids(b)
    assert _requests(stack, stats) == 0
    bus.reconnect_delay_s = 3.0
    assert asyncio.run(_terminate_listeners(url)) == 1
    wait_until(lambda: not bus.listening, what="B's listener to notice")
    _ids(b)
    assert not bus.listening and _requests(stack, stats) == 4
    wait_until(lambda: bus.listening, timeout=15, what="B's listener to come back")
    _reset(stack, reset_stats)
    _ids(b)
    _ids(b)
    assert _requests(stack, stats) == 4  # read once after the gap, then kept again

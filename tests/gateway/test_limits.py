"""Bounded execution over HTTP: the cost budget, the deadline, the answer size cap, the rate limit, and GET."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.graphql import EXAMPLE_QUERY
from gateway.limits import DeadlineExceeded, TokenBuckets, within_deadline
from tests.conftest import TIMELINE_QUERY

GRAPHQL_RESPONSE = "application/graphql-response+json"
PERSON = "0PE000000000003"
INNER = "timeline{first} {{ edges {{ node {{ id person {{ timeline{first} {{ edges {{ node {{ id }} }} }} }} }} }} }}"


def bomb(first: str = "(first: 100)") -> str:
    """`timeline -> node -> person -> timeline` under 30 aliases: the query that ran for 76 s."""
    inner = INNER.format(first=first)
    return "query($id: ID!) { person(id: $id) { " + " ".join(f"a{i}: {inner}" for i in range(30)) + " } }"


@pytest.fixture(scope="module")
def quiet(stack):  # noqa: ANN001, ANN201
    """Default limits, no worker: only the requests under test reach the stand-ins."""
    return stack.start_gateway(worker=False)


@pytest.fixture(scope="module")
def tight(stack):  # noqa: ANN001, ANN201
    return stack.start_gateway(worker=False, max_cost=500, request_timeout_s=0.5, max_response_bytes=4000,
                               allow_get=False)


def timed(call):  # noqa: ANN001, ANN201
    start = time.monotonic()
    result = call()
    return result, time.monotonic() - start


def get(gateway, query: str | None = None, **headers: str):  # noqa: ANN001, ANN201
    """GET /graphql (with `?query=` when given) as the gateway's user."""
    params = {"query": query} if query is not None else {}
    return gateway.client.get("/graphql", params=params, headers={"Authorization": f"Bearer {gateway.token}",
                                                                  **headers})


def only_error(body: dict) -> dict:
    assert body.get("data") is None, body
    [error] = body["errors"]
    return error


# -- the cost budget ----------------------------------------------------------------------------------------------

def test_the_ordinary_queries_pass(quiet, gid) -> None:  # noqa: ANN001
    body = quiet.gql(TIMELINE_QUERY, {"id": gid("Person", PERSON), "first": 100})
    assert "errors" not in body, body
    assert body["data"]["person"]["timeline"]["edges"]
    body = quiet.gql(EXAMPLE_QUERY)
    assert "errors" not in body, body


@pytest.mark.parametrize("first", ["(first: 100)", ""])
def test_a_costly_query_is_refused_before_it_runs(stack, quiet, gid, stats, reset_stats, first) -> None:  # noqa: ANN001
    for server in stack.servers():
        reset_stats(server)
    r, elapsed = timed(lambda: quiet.post(bomb(first), {"id": gid("Person", PERSON)},
                                          headers={"Accept": GRAPHQL_RESPONSE}))
    assert elapsed < 1.0
    assert r.status_code == 400, r.text
    assert r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    error = only_error(r.json())
    ext = error["extensions"]
    assert ext["code"] == "QUERY_TOO_COSTLY"
    assert ext["limit"] == quiet.settings.max_cost and ext["cost"] > ext["limit"]
    assert str(ext["cost"]) in error["message"] and str(ext["limit"]) in error["message"]
    assert [stats(server).get("requests", 0) for server in stack.servers()] == [0, 0, 0]


def test_the_budget_is_the_gateways_setting(tight, gid) -> None:  # noqa: ANN001
    variables = {"id": gid("Person", PERSON), "first": 100}
    error = only_error(tight.gql(TIMELINE_QUERY, variables))
    assert error["extensions"].items() >= {"code": "QUERY_TOO_COSTLY", "cost": 808, "limit": 500}.items()
    body = tight.gql(TIMELINE_QUERY, {**variables, "first": 5})
    assert "errors" not in body, body


# -- the deadline -------------------------------------------------------------------------------------------------

@pytest.mark.slow  # waits for real time to pass (the request deadline)
def test_past_the_deadline_the_request_is_cancelled(stack, tight, gid, knobs) -> None:  # noqa: ANN001
    knobs(stack.ctms, latency_ms=3000)
    query = "query($id: ID!) { person(id: $id) { firstName timeline(first: 3) { edges { node { id } } } } }"
    r, elapsed = timed(lambda: tight.post(query, {"id": gid("Person", PERSON)}, headers={"Accept": GRAPHQL_RESPONSE}))
    assert elapsed < 1.0
    assert r.status_code == 504, r.text
    error = only_error(r.json())
    assert error["extensions"]["code"] == "DEADLINE_EXCEEDED"
    assert "0.5 s" in error["message"]
    # The source calls it started were cancelled with it, not left to run in the background.
    assert loader_tasks(tight) == []
    r = tight.post(query, {"id": gid("Person", PERSON)})  # application/json: 200, the error in the body
    assert r.status_code == 200 and only_error(r.json())["extensions"]["code"] == "DEADLINE_EXCEEDED"


def loader_tasks(gateway) -> list[str]:  # noqa: ANN001
    async def find() -> list[str]:
        return [repr(t.get_coro()) for t in asyncio.all_tasks() if "DataLoader._dispatch" in repr(t.get_coro())]
    return asyncio.run_coroutine_threadsafe(find(), gateway.server._loop).result(5)


def test_within_deadline_cancels_the_tasks_the_work_started() -> None:
    spawned: list[asyncio.Task] = []

    async def work(seconds: float) -> str:
        # As a data loader does: a batch task scheduled from a callback.
        asyncio.get_running_loop().call_soon(lambda: spawned.append(asyncio.ensure_future(asyncio.sleep(10))))
        await asyncio.sleep(seconds)
        return "done"

    async def main() -> None:
        with pytest.raises(DeadlineExceeded):
            await within_deadline(work(10), 0.05)
        assert spawned[0].cancelled()
        assert await within_deadline(work(0), 1.0) == "done"
        assert not spawned[1].done()  # in time: what it left running is left alone
        spawned[1].cancel()

    _, elapsed = timed(lambda: asyncio.run(main()))
    assert elapsed < 1.0


# -- the answer size cap ------------------------------------------------------------------------------------------

def test_an_answer_over_the_cap_is_replaced_by_an_error(tight) -> None:  # noqa: ANN001
    query = "{ people(first: 40) { edges { node { id firstName lastName email } } } }"
    r, elapsed = timed(lambda: tight.post(query, headers={"Accept": GRAPHQL_RESPONSE}))
    assert elapsed < 1.0
    assert r.status_code == 400 and r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert len(r.content) < 4000
    error = only_error(r.json())
    assert error["extensions"].items() >= {"code": "RESPONSE_TOO_LARGE", "limit": 4000}.items()
    assert "4000 bytes" in error["message"]
    r = tight.post(query)
    assert r.status_code == 200 and only_error(r.json())["extensions"]["code"] == "RESPONSE_TOO_LARGE"
    body = tight.gql("{ people(first: 2) { edges { node { id } } } }")
    assert "errors" not in body and len(body["data"]["people"]["edges"]) == 2


# -- the rate limit -----------------------------------------------------------------------------------------------

def test_past_the_rate_limit_429_with_retry_after(stack) -> None:  # noqa: ANN001
    limited = stack.start_gateway(worker=False, rate_limit_per_minute=3)
    for _ in range(3):
        assert limited.gql("{ __typename }") == {"data": {"__typename": "Query"}}
    r, elapsed = timed(lambda: limited.post("{ __typename }"))
    assert elapsed < 1.0
    assert r.status_code == 429
    assert r.headers["retry-after"].isdigit() and 1 <= int(r.headers["retry-after"]) <= 20
    assert r.headers["content-type"].startswith("application/json")
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert r.headers["retry-after"] in error["message"]
    other = stack.as_user("martin.keller@ctms.example.com", limited)  # every user has a bucket of their own
    assert other.gql("{ __typename }") == {"data": {"__typename": "Query"}}


def test_token_buckets_refill_and_forget_idle_users() -> None:
    now = [0.0]
    buckets = TokenBuckets(3, max_buckets=2, clock=lambda: now[0])
    assert [buckets.take("ada") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("ada") == pytest.approx(20.0)  # 3 a minute: one every 20 s
    assert buckets.take("amir") == 0  # each user has a bucket of their own
    now[0] = 20.0
    assert buckets.take("ada") == 0 and buckets.take("ada") > 0
    now[0] = 90.0  # amir idle for over a minute: his bucket is full again, so it is dropped
    buckets.take("ada")
    assert list(buckets.buckets) == ["ada"]
    buckets.take("clara")
    buckets.take("sofia")
    assert list(buckets.buckets) == ["clara", "sofia"]  # at most max_buckets, the idlest dropped


# -- GET ----------------------------------------------------------------------------------------------------------

def test_queries_over_get_are_not_stored_by_caches(quiet) -> None:  # noqa: ANN001
    r = get(quiet, "{ __typename }", Accept="application/json")
    assert r.status_code == 200 and r.json() == {"data": {"__typename": "Query"}}
    assert r.headers["cache-control"] == "no-store"
    r = get(quiet, 'mutation { deleteClinicalActivity(id: "x") { deletedId } }')
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.headers["cache-control"] == "no-store"
    assert "cache-control" not in quiet.post("{ __typename }").headers


def test_get_can_be_turned_off(tight) -> None:  # noqa: ANN001
    r = get(tight, "{ __typename }")
    assert r.status_code == 405 and r.headers["allow"] == "POST" and r.headers["cache-control"] == "no-store"
    assert only_error(r.json())["extensions"]["code"] == "METHOD_NOT_ALLOWED"
    page = get(tight, Accept="text/html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert tight.gql("{ __typename }") == {"data": {"__typename": "Query"}}

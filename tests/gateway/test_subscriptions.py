"""Subscriptions over WebSocket (graphql-transport-ws) against a real gateway on loopback: the protocol's refusals and
limits, and the events of writes, deliveries and permissions."""

from __future__ import annotations

import time
import uuid
from datetime import date, timedelta

import pytest
from websockets.exceptions import InvalidStatus

from tests.conftest import Gateway, Stack, global_id
from tests.gateway.sockets import ACTIVITY_CHANGED, SYNC_CHANGED, Socket, event_of
from tests.writes.conftest import CREATE, DELETE, MATCHED, UPDATE, new_input, wait_until

ADA = "ada.admin@ctms.example.com"
CLARA = "clara.oswald@ctms.example.com"
MARTIN = "martin.keller@ctms.example.com"
SOFIA = "sofia.lindgren@ctms.example.com"
PERSON = global_id("Person", MATCHED)
LOG_CALL = """mutation($input: LogCallInput!) { logCall(input: $input) { callId
  activity { id } userErrors { field message code } } }"""
ALLOWED_ORIGIN = "https://app.example.com"


@pytest.fixture(scope="module")
def strict(stack: Stack) -> Gateway:
    """A gateway with tight WebSocket settings: another allowed origin, two subscriptions, a 1 s init wait."""
    return stack.start_gateway(ws_allowed_origins=ALLOWED_ORIGIN, ws_max_subscriptions=2, ws_init_timeout_s=1.0,
                               worker=False)


def listeners(gateway: Gateway) -> int:
    """How many subscriptions of a gateway (in this process) listen to its bus."""
    return gateway.server.config.app.state.services.store.events.local.count


def _open(gateway: Gateway, token: str, op_id: str = "1", query: str = ACTIVITY_CHANGED,
          variables: dict | None = None) -> Socket:
    """A socket with one subscription, once it listens (the protocol has no acknowledgement of a subscribe)."""
    socket = Socket(gateway.url)
    assert socket.init(token)["type"] == "connection_ack"
    before = listeners(gateway)
    socket.subscribe(op_id, query, {"personId": PERSON} if variables is None else variables)
    wait_until(lambda: listeners(gateway) > before, what="the subscription to listen")
    return socket


def _create(stack: Stack, gateway: Gateway | None = None, **kwargs: object) -> str:
    body = stack.as_user(CLARA, gateway).gql(CREATE, {"input": new_input(**kwargs)})
    assert "errors" not in body and body["data"]["createClinicalActivity"]["userErrors"] == [], body
    return body["data"]["createClinicalActivity"]["activity"]["id"]


def _sync(event: dict) -> dict[str, str]:
    return {s["connection"]["name"]: s["state"] for s in (event["activity"] or {}).get("sync", [])}


# -- the protocol ----------------------------------------------------------------------------------------------

def test_the_legacy_graphql_ws_protocol_is_refused(stack: Stack) -> None:
    socket = Socket(stack.url, protocols=("graphql-ws",))
    assert socket.ws.subprotocol is None
    assert socket.close_code() == 4406


def test_a_page_of_another_origin_cannot_open_a_socket(stack: Stack, strict: Gateway) -> None:
    for url in (stack.url, strict.url):
        with pytest.raises(InvalidStatus) as refused:
            Socket(url, origin="https://evil.example")
        assert refused.value.response.status_code == 403
    own = Socket(stack.url, origin=stack.url)  # the gateway's own pages
    assert own.init(stack.token(CLARA))["type"] == "connection_ack"
    own.close()
    allowed = Socket(strict.url, origin=ALLOWED_ORIGIN)  # CCGW_WS_ALLOWED_ORIGINS
    assert allowed.init(stack.token(CLARA))["type"] == "connection_ack"
    allowed.close()
    with pytest.raises(InvalidStatus):
        Socket(stack.url, origin=ALLOWED_ORIGIN)  # not allowed where it is not configured


@pytest.mark.parametrize("token", [None, "not-a-jwt", "eyJhbGciOiJSUzI1NiJ9.e30.c2ln"])
def test_connection_init_without_a_valid_token_is_closed(stack: Stack, token: str | None) -> None:
    socket = Socket(stack.url)
    socket.send({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"} if token else {}})
    assert socket.close_code() == 4403


def test_a_token_in_the_url_is_not_accepted(stack: Stack) -> None:
    socket = Socket(stack.url, path_suffix=f"?token={stack.token(ADA)}&authorization=Bearer+{stack.token(ADA)}")
    socket.send({"type": "connection_init", "payload": {}})
    assert socket.close_code() == 4403


def test_subscribe_before_the_ack_is_closed(stack: Stack) -> None:
    socket = Socket(stack.url)
    socket.subscribe("1", ACTIVITY_CHANGED, {"personId": PERSON})
    assert socket.close_code() == 4401


def test_a_connection_without_connection_init_is_closed(strict: Gateway) -> None:
    socket = Socket(strict.url)
    assert socket.close_code(timeout=15) == 4408


def test_subscriptions_per_connection_are_limited(stack: Stack, strict: Gateway) -> None:
    socket = _open(strict, stack.token(CLARA), "1")
    socket.subscribe("2", ACTIVITY_CHANGED, {"personId": PERSON})
    socket.subscribe("3", ACTIVITY_CHANGED, {"personId": PERSON})
    refused = socket.wait_for(lambda m: m.get("id") == "3")
    assert refused["type"] == "error"
    assert refused["payload"][0]["extensions"] == {"code": "TOO_MANY_SUBSCRIPTIONS", "limit": 2}
    socket.send({"id": "2", "type": "complete"})  # the connection lives on: one ended, another may start
    socket.subscribe("4", ACTIVITY_CHANGED, {"personId": PERSON})
    socket.send({"type": "ping"})
    assert socket.wait_for(lambda m: m.get("type") in ("pong", "error"))["type"] == "pong"
    socket.close()


def test_queries_and_mutations_go_over_http(stack: Stack) -> None:
    socket = Socket(stack.url)
    socket.init(stack.token(ADA))
    socket.subscribe("q", "{ viewer { email } }")
    answer = socket.wait_for(lambda m: m.get("id") == "q")
    assert answer["type"] == "error"
    assert answer["payload"][0]["extensions"]["code"] == "OPERATION_NOT_ALLOWED"
    socket.close()


def test_sync_changed_is_refused_without_connection_admin(stack: Stack) -> None:
    socket = Socket(stack.url)
    socket.init(stack.token(MARTIN))
    socket.subscribe("s", SYNC_CHANGED)
    answer = socket.wait_for(lambda m: m.get("id") == "s")
    assert answer["type"] == "error", answer
    assert answer["payload"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "CONNECTION_ADMIN" in answer["payload"][0]["message"]
    socket.close()


def test_a_bad_person_id_is_an_error_with_a_code(stack: Stack) -> None:
    socket = Socket(stack.url)
    socket.init(stack.token(CLARA))
    socket.subscribe("b", ACTIVITY_CHANGED, {"personId": global_id("Study", "0ST000000000001")})
    answer = socket.wait_for(lambda m: m.get("id") == "b")
    assert answer["type"] == "error" and answer["payload"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    socket.close()


# -- the events ------------------------------------------------------------------------------------------------

RETRY = """mutation($id: ID!) { retrySync(activityId: $id) { activity { id } } }"""


def test_a_created_activity_and_its_mirrors_turning_synced_after_an_outage(stack: Stack, knobs) -> None:  # noqa: ANN001
    # A gateway of its own, whose first failure is final (FAILED) and is retried by retrySync: on SQLite the events
    # of a process reach only its own subscribers, and the suite's other gateways run workers on the same store that
    # could deliver the mirror (and announce it) themselves.
    gateway = stack.start_gateway(max_attempts=1, worker=False)
    socket = _open(gateway, stack.token(CLARA))
    admin = _open(gateway, stack.token(ADA), "s", SYNC_CHANGED, {"connectionId": global_id("Connection", "us")})
    knobs(stack.orgs["us"], outage="503")
    activity_id = _create(stack, gateway, subject=f"live {uuid.uuid4().hex[:8]}")
    created = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id))
    event = created["payload"]["data"]["activityChanged"]
    assert event["change"] == "CREATED" and event["personId"] == PERSON
    assert event["activity"]["id"] == activity_id and _sync(event)["us"] in ("PENDING", "FAILED")
    socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id
                             and _sync(e).get("us") == "FAILED"))
    knobs(stack.orgs["us"], outage=None)
    retried = stack.as_user(ADA, gateway).gql(RETRY, {"id": activity_id})
    assert "errors" not in retried, retried
    synced = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id
                                      and e["change"] == "SYNC_CHANGED" and _sync(e).get("us") == "SYNCED"))
    assert "errors" not in synced["payload"]
    state = admin.wait_for(event_of("s", "syncChanged", lambda e: e["activityId"] == activity_id
                                    and e["state"] == "SYNCED"))
    assert state["payload"]["data"]["syncChanged"]["connection"]["name"] == "us"
    socket.close()
    admin.close()


def test_update_and_delete_events(stack: Stack) -> None:
    socket = _open(stack.gateway, stack.token(CLARA))
    activity_id = _create(stack)
    socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id))
    body = stack.as_user(CLARA).gql(UPDATE, {"input": {"id": activity_id, "channel": "VIDEO"}})
    assert "errors" not in body, body
    updated = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id
                                       and e["change"] == "UPDATED"))
    assert updated["payload"]["data"]["activityChanged"]["activity"]["channel"] == "VIDEO"
    assert "errors" not in stack.as_user(CLARA).gql(DELETE, {"id": activity_id})
    deleted = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == activity_id
                                       and e["change"] == "DELETED"))
    assert deleted["payload"]["data"]["activityChanged"]["activity"] is None
    socket.close()


def test_other_people_s_events_do_not_arrive(stack: Stack) -> None:
    other = global_id("Person", "0PE000000000004")
    socket = _open(stack.gateway, stack.token(CLARA), variables={"personId": other})
    mine = _create(stack)  # of MATCHED, not of the person subscribed to
    marker = _create(stack, person="0PE000000000004")
    seen = socket.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] in (mine, marker)))
    assert seen["payload"]["data"]["activityChanged"]["activityId"] == marker
    socket.close()


def test_medical_activities_reach_only_users_who_may_see_them(stack: Stack) -> None:
    martin = _open(stack.gateway, stack.token(MARTIN))
    sofia = _open(stack.gateway, stack.token(SOFIA))
    day = (date.today() - timedelta(days=1)).isoformat()
    body = stack.gql(LOG_CALL, {"input": {"connectionId": global_id("Connection", "us"), "personId": PERSON,
                                          "date": day, "channel": "PHONE", "completed": True,
                                          "subject": "live medical", "sendToClinical": True}})
    assert "errors" not in body and body["data"]["logCall"]["userErrors"] == [], body
    medical_id = body["data"]["logCall"]["activity"]["id"]
    got = sofia.wait_for(event_of("1", "activityChanged", lambda e: e["activityId"] == medical_id))
    assert got["payload"]["data"]["activityChanged"]["activity"]["__typename"] == "MedicalActivity"
    marker = _create(stack)  # published after every event of the call: martin has had them all by then
    before = []
    martin.wait_for(lambda m: before.append(m) or event_of("1", "activityChanged",
                                                           lambda e: e["activityId"] == marker)(m))
    events = [m["payload"]["data"]["activityChanged"] for m in before if m.get("type") == "next"]
    assert not [e for e in events if e["activityId"] == medical_id or (e["activity"] or {}).get("__typename")
                == "MedicalActivity"], events
    martin.close()
    sofia.close()


def test_the_socket_is_closed_when_its_token_expires(stack: Stack) -> None:
    from tests.gateway.test_authentication import LEEWAY_S, mint

    # Still accepted thanks to the clock leeway, for about two more seconds.
    token = mint(stack.idp, exp=int(time.time()) - LEEWAY_S + 2)
    socket = Socket(stack.url)
    assert socket.init(token)["type"] == "connection_ack"
    socket.subscribe("1", ACTIVITY_CHANGED, {"personId": PERSON})
    assert socket.close_code(timeout=20) == 4403


def test_subscriptions_are_not_served_over_http(stack: Stack) -> None:
    r = stack.as_user(CLARA).post(ACTIVITY_CHANGED, {"personId": PERSON})
    [error] = r.json()["errors"]
    assert error["extensions"]["code"] == "OPERATION_NOT_ALLOWED" and "WebSocket" in error["message"]
    assert r.json().get("data") is None


def test_a_gateway_that_stops_closes_its_sockets(stack: Stack) -> None:
    gateway = stack.start_gateway(worker=False)
    socket = _open(gateway, stack.token(CLARA))
    gateway.stop()
    stack._extra.remove(gateway)
    assert socket.close_code() in (1001, 1012)  # going away / service restart: the page reconnects elsewhere


def test_a_subscriber_that_falls_behind_is_told_and_its_stream_ends(stack: Stack, monkeypatch) -> None:  # noqa: ANN001
    """Rather than going on with a gap it cannot see: an EVENTS_LOST error, then `complete` (the page reads again
    and subscribes again)."""
    from datasources import events

    monkeypatch.setattr(events, "QUEUE_MAX", 3)
    gateway = stack.start_gateway(worker=False)
    socket = _open(gateway, stack.token(CLARA))
    [listener] = gateway.server.config.app.state.services.store.events.local._listeners
    burst = [events.ActivityEvent(events.Change.UPDATED, "clinical", f"0AC00000000{i:04d}", MATCHED) for i in range(5)]
    listener._loop.call_soon_threadsafe(lambda: [listener._put(e) for e in burst])  # faster than any reader
    lost = socket.wait_for(lambda m: m.get("id") == "1" and m["type"] == "next" and "errors" in m["payload"])
    assert lost["payload"]["errors"][0]["extensions"]["code"] == "EVENTS_LOST"
    assert socket.wait_for(lambda m: m.get("id") == "1")["type"] == "complete"
    socket.close()


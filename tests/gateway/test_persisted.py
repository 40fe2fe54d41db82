"""Automatic persisted queries over HTTP (Apollo's APQ protocol), and the bounded keeping of the queries."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from strawberry.http import GraphQLRequestData

from gateway.persisted import PersistedQueries, PersistedQueryRefused
from tests.conftest import Stack
from tests.gateway.test_metrics import scrape, value
from tests.writes.conftest import CREATE, new_input

GRAPHQL_RESPONSE = "application/graphql-response+json"


def _query() -> str:
    """A query this test alone sends (a fresh alias), so that no earlier request registered its hash."""
    return f"query Viewer {{ viewer {{ name }} {'a' + uuid.uuid4().hex}: viewer {{ email }} }}"


def _sha(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def _persisted(digest: str, version: int = 1) -> dict:
    return {"persistedQuery": {"version": version, "sha256Hash": digest}}


def _post(stack: Stack, body: dict, accept: str = "application/json"):  # noqa: ANN202
    return stack.gateway.client.post("/graphql", json=body, headers={
        "Authorization": f"Bearer {stack.gateway.token}", "Accept": accept})


def _counted(stack: Stack) -> dict[str, float]:
    """ccgw_persisted_queries_total by result, from the gateway's /metrics."""
    samples = scrape(stack.gateway)
    return {result: value(samples, "ccgw_persisted_queries_total", result=result)
            for result in ("hit", "miss", "registered", "refused")}


def test_a_hash_alone_runs_once_its_query_was_sent_with_it(stack: Stack) -> None:
    query = _query()
    digest = _sha(query)
    before = _counted(stack)
    missed = _post(stack, {"extensions": _persisted(digest)})
    assert missed.status_code == 200
    assert missed.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert missed.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    assert missed.headers["cache-control"] == "private, no-cache, must-revalidate"
    registered = _post(stack, {"query": query, "extensions": _persisted(digest)})
    assert registered.status_code == 200 and registered.json()["data"]["viewer"]["name"], registered.text
    by_hash = _post(stack, {"extensions": _persisted(digest), "operationName": "Viewer"})
    assert by_hash.json() == registered.json()
    after = _counted(stack)
    assert {k: after[k] - before.get(k, 0) for k in ("miss", "registered", "hit")} == {
        "miss": 1, "registered": 1, "hit": 1}


def test_a_hash_alone_over_get_runs_and_is_not_cached(stack: Stack) -> None:
    query = _query()
    _post(stack, {"query": query, "extensions": _persisted(_sha(query))})
    got = stack.gateway.client.get("/graphql", params={"extensions": json.dumps(_persisted(_sha(query)))},
                                   headers={"Authorization": f"Bearer {stack.gateway.token}",
                                            "Accept": "application/json, text/html"})
    assert got.status_code == 200 and got.json()["data"]["viewer"]["name"], got.text
    assert got.headers["cache-control"] == "no-store"


def test_a_kept_mutation_is_refused_over_get(stack: Stack) -> None:
    digest = _sha(CREATE)
    variables = {"input": new_input(subject="persisted mutation")}
    done = _post(stack, {"query": CREATE, "variables": variables, "extensions": _persisted(digest)})
    assert not done.json()["data"]["createClinicalActivity"]["userErrors"], done.text
    got = stack.gateway.client.get("/graphql", params={"extensions": json.dumps(_persisted(digest)),
                                                       "variables": json.dumps(variables)},
                                   headers={"Authorization": f"Bearer {stack.gateway.token}"})
    assert got.status_code == 405 and got.json()["errors"][0]["extensions"]["code"] == "METHOD_NOT_ALLOWED"


def test_under_the_graphql_response_media_type_a_miss_is_a_404_without_data(stack: Stack) -> None:
    missed = _post(stack, {"extensions": _persisted(_sha(_query()))}, accept=GRAPHQL_RESPONSE)
    assert missed.status_code == 404 and "data" not in missed.json()
    assert missed.headers["content-type"].startswith(GRAPHQL_RESPONSE)


@pytest.mark.parametrize(("extensions", "code"), [
    (_persisted("0" * 64), "PERSISTED_QUERY_HASH_MISMATCH"),
    (_persisted("ABC"), "BAD_REQUEST"),
    ({"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}}, "BAD_REQUEST"),
    ({"persistedQuery": "yes"}, "BAD_REQUEST"),
    ({"persistedQuery": {"version": 1, "sha256Hash": 5}}, "BAD_REQUEST"),
    ({"persistedQuery": {"version": "1", "sha256Hash": "0" * 64}}, "BAD_REQUEST"),
])
def test_a_wrong_hash_or_version_is_a_400_and_keeps_nothing(stack: Stack, extensions: dict, code: str) -> None:
    query = _query()
    refused = _post(stack, {"query": query, "extensions": extensions})
    assert refused.status_code == 400 and refused.json()["errors"][0]["extensions"]["code"] == code
    assert "Traceback" not in refused.text
    after = _post(stack, {"extensions": _persisted(_sha(query))})
    assert after.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"


@pytest.mark.parametrize("extensions", ["not json", "[1]", '{"persistedQuery": {"version": 1}}'])
def test_bad_extensions_over_get_are_a_400(stack: Stack, extensions: str) -> None:
    got = stack.gateway.client.get("/graphql", params={"extensions": extensions},
                                   headers={"Authorization": f"Bearer {stack.gateway.token}"})
    assert got.status_code == 400 and got.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", got.text
    assert "Traceback" not in got.text


def test_a_hash_alone_needs_a_token_like_any_request(stack: Stack) -> None:
    query = _query()
    _post(stack, {"query": query, "extensions": _persisted(_sha(query))})
    anonymous = stack.gateway.client.post("/graphql", json={"extensions": _persisted(_sha(query))})
    assert anonymous.status_code == 401


def test_turned_off_a_persisted_query_is_not_supported(stack: Stack) -> None:
    gateway = stack.start_gateway(worker=False, persisted_queries=False)
    try:
        query = "{ viewer { name } }"
        refused = gateway.client.post("/graphql", json={"query": query, "extensions": _persisted(_sha(query))},
                                      headers={"Authorization": f"Bearer {gateway.token}"})
        assert refused.status_code == 200
        assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_SUPPORTED"
        assert gateway.gql(query)["data"]["viewer"]["name"]  # a plain query runs as ever
    finally:
        gateway.stop()
        stack._extra.remove(gateway)


def test_the_kept_queries_are_bounded_by_their_length_the_least_recent_going_first() -> None:
    kept = PersistedQueries(max_chars=80, max_query_chars=30)

    def send(query: str, with_text: bool = True) -> str | None:
        data = GraphQLRequestData(query if with_text else None, None, None, _persisted(_sha(query)))
        try:
            return kept.resolve(data).query
        except PersistedQueryRefused as exc:
            return exc.code

    queries = [f"{{ a{n:02}: viewer {{ name }} }}" for n in range(5)]  # 24 characters each
    for q in queries[:3]:
        send(q)
    assert send(queries[0], with_text=False) == queries[0]  # now the most recent
    send(queries[3])  # 96 characters in all: the least recent (queries[1]) goes
    assert send(queries[1], with_text=False) == "PERSISTED_QUERY_NOT_FOUND"
    assert [send(q, with_text=False) for q in (queries[0], queries[2], queries[3])] == [queries[0], queries[2],
                                                                                         queries[3]]
    long = "{ viewer { name email permissions } }"  # longer than max_query_chars: runs, never kept
    assert send(long) == long and len(kept) == 3
    assert send(long, with_text=False) == "PERSISTED_QUERY_NOT_FOUND"

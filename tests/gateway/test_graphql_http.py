"""GraphQL over HTTP against the real gateway: POST and GET, media types and status codes, health and readiness."""

from __future__ import annotations

import httpx
import pytest

GRAPHQL_RESPONSE = "application/graphql-response+json"


@pytest.fixture
def http(stack) -> httpx.Client:
    with httpx.Client(base_url=stack.url, timeout=30,
                      headers={"Authorization": f"Bearer {stack.token('ada.admin@ctms.example.com')}"}) as client:
        yield client


def test_post_json(http) -> None:
    r = http.post("/graphql", json={"query": "query Q($n: Int) { people(first: $n) { edges { node { ctmsId } } } }",
                                    "variables": {"n": 2}, "operationName": "Q"},
                  headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert [e["node"]["ctmsId"] for e in r.json()["data"]["people"]["edges"]] == ["0PE000000000001",
                                                                                  "0PE000000000002"]


def test_get_runs_a_query(http) -> None:
    r = http.get("/graphql", params={"query": "query($n: Int) { people(first: $n) { edges { node { ctmsId } } } }",
                                     "variables": '{"n": 1}'}, headers={"Accept": "application/json"})
    assert r.status_code == 200
    assert r.json() == {"data": {"people": {"edges": [{"node": {"ctmsId": "0PE000000000001"}}]}}}


def test_get_refuses_a_mutation(http) -> None:
    r = http.get("/graphql", params={"query": 'mutation { deleteClinicalActivity(id: "x") { deletedId } }'},
                 headers={"Accept": "application/json"})
    assert r.status_code == 405
    assert "mutation" in r.text


@pytest.mark.parametrize("query", ["{ viewer {", "{ nope }", '{ people(first: "x") { edges { cursor } } }'],
                         ids=["parse", "validation", "argument-type"])
def test_graphql_response_media_type_gets_400_for_a_request_that_never_ran(http, query) -> None:
    r = http.post("/graphql", json={"query": query}, headers={"Accept": GRAPHQL_RESPONSE})
    assert r.status_code == 400
    assert r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    body = r.json()
    assert "data" not in body and body["errors"][0]["message"]  # a request error has no `data` entry at all
    codes = {"{ viewer {": "GRAPHQL_PARSE_FAILED"}
    assert body["errors"][0]["extensions"]["code"] == codes.get(query, "GRAPHQL_VALIDATION_FAILED")
    # The legacy media type keeps 200 for the same request (GraphQL over HTTP, application/json).
    legacy = http.post("/graphql", json={"query": query}, headers={"Accept": "application/json"})
    assert legacy.status_code in (200, 400) and legacy.headers["content-type"].startswith("application/json")
    assert legacy.json()["errors"]


@pytest.mark.parametrize("accept", ["*/*", None, "text/html"], ids=["any", "missing", "unsupported"])
def test_an_accept_naming_no_graphql_media_type_gets_application_json(http, accept) -> None:
    headers = {"Accept": accept} if accept else {}
    request = http.build_request("POST", "/graphql", json={"query": "{ viewer { name } }"}, headers=headers)
    if accept is None:
        del request.headers["accept"]
    r = http.send(request)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.headers
    assert r.json() == {"data": {"viewer": {"name": "Ada Admin"}}}
    bad = http.post("/graphql", json={"query": "{ viewer {"}, headers=headers)
    assert bad.status_code == 200 and bad.headers["content-type"].startswith("application/json")


def test_graphql_response_media_type_for_a_good_request(http) -> None:
    r = http.post("/graphql", json={"query": "{ viewer { name email permissions } }"},
                  headers={"Accept": GRAPHQL_RESPONSE})
    assert r.status_code == 200 and r.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    viewer = r.json()["data"]["viewer"]
    assert viewer["name"] == "Ada Admin" and "MEDICAL_ACTIVITY_VIEW" in viewer["permissions"]


def test_body_that_is_not_json_is_a_400(http) -> None:
    r = http.post("/graphql", content=b"{not json", headers={"Content-Type": "application/json",
                                                             "Accept": "application/json"})
    assert r.status_code == 400


def test_a_body_any_json_parser_takes_is_taken(http) -> None:
    # An integer past 64 bits and a NaN (in an extension the gateway does not read): valid for Python's JSON parser,
    # which the gateway falls back on, and refused by the faster one it tries first.
    for value in (b"123456789012345678901234567890", b"NaN"):
        body = b'{"query": "{ viewer { name } }", "extensions": {"x": %s}}' % value
        r = http.post("/graphql", content=body, headers={"Content-Type": "application/json",
                                                         "Accept": "application/json"})
        assert r.status_code == 200 and r.json()["data"]["viewer"]["name"], r.text


def test_a_plain_post_skips_the_general_request_handling_and_every_other_request_takes_it(
        http, monkeypatch: pytest.MonkeyPatch) -> None:
    from strawberry.http.async_base_view import AsyncBaseHTTPView

    general = AsyncBaseHTTPView.run
    taken: list[str] = []

    async def spy(self, request, *args, **kwargs):  # noqa: ANN001, ANN202
        taken.append(request.method)
        return await general(self, request, *args, **kwargs)
    monkeypatch.setattr(AsyncBaseHTTPView, "run", spy)
    plain = http.post("/graphql", content=b'{"query": "{ viewer { name } }"}',
                      headers={"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
    assert plain.status_code == 200 and plain.json()["data"]["viewer"]["name"] and taken == []
    odd = http.post("/graphql", json={"query": 7}, headers={"Accept": "application/json"})
    assert odd.status_code == 400 and "must be a string" in odd.json()["errors"][0]["message"]  # strawberry's words
    text = http.post("/graphql", content=b"{ viewer { name } }", headers={"Content-Type": "text/plain"})
    assert text.status_code == 400
    got = http.get("/graphql", params={"query": "{ viewer { name } }"}, headers={"Accept": "application/json"})
    assert got.status_code == 200 and taken == ["POST", "POST", "GET"]


def test_healthz(http) -> None:
    r = http.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "alive"}


def test_readyz_reports_each_source_and_503_when_one_is_down(http, stack, knobs) -> None:
    r = http.get("/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready" and body["database"]["reachable"] is True
    urls = {"ctms": stack.ctms.url, **{f"crm:{n}": s.url for n, s in stack.orgs.items()}}
    assert {s["name"]: (s["url"], s["reachable"]) for s in body["sources"]} == {n: (u, True) for n, u in urls.items()}

    for server, name, outage in ((stack.orgs["eu"], "crm:eu", "refuse"), (stack.ctms, "ctms", "503")):
        knobs(server, outage=outage)
        r = http.get("/readyz")
        assert r.status_code == 503, r.text
        reach = {s["name"]: s["reachable"] for s in r.json()["sources"]}
        assert reach[name] is False and sum(not v for v in reach.values()) == 1, reach
        assert r.json()["status"] == "degraded"
        knobs(server, outage=None)
    assert http.get("/readyz").status_code == 200


def test_a_body_over_the_limit_is_refused_with_413(http, stack) -> None:
    limit = stack.settings.max_body_bytes
    r = http.post("/graphql", json={"query": "{ viewer { name } }" + " " * limit})
    assert r.status_code == 413 and r.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    # Streamed without a Content-Length, it is cut off as it arrives.
    chunks = (b" " * 65536 for _ in range(limit // 65536 + 2))
    r = http.post("/graphql", content=chunks, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert http.post("/graphql", json={"query": "{ viewer { name } }"}).status_code == 200

"""The load drivers of `bench.load`: closed-loop, round-robin over the bodies, counting what was answered."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.load_client import have_wrk, run_builtin, run_wrk
from emulators.server import EmulatorServer


@pytest.fixture
def echo() -> Iterator[tuple[EmulatorServer, list[dict]]]:
    """A /graphql that records each body and the Authorization it came with; 500 for the body {"fail": true}."""
    seen: list[dict] = []

    async def graphql(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        seen.append({**body, "auth": request.headers.get("authorization")})
        return JSONResponse({"data": {}}, status_code=500 if body.get("fail") else 200)

    server = EmulatorServer(Starlette(routes=[Route("/graphql", graphql, methods=["POST"])])).start()
    try:
        yield server, seen
    finally:
        server.stop()


BODIES = [json.dumps({"n": n}).encode() for n in range(3)]


def _check(result, seen: list[dict]) -> None:  # noqa: ANN001
    assert result.requests > 0 and result.errors == 0
    assert result.p50_ms > 0 and result.p99_ms >= result.p50_ms
    assert {s["n"] for s in seen} == {0, 1, 2}  # every body sent
    assert {s["auth"] for s in seen} == {"Bearer T"}


def test_the_builtin_client(echo) -> None:  # noqa: ANN001
    server, seen = echo
    result = run_builtin(server.url, BODIES, 2, 1.0, "T")
    _check(result, seen)
    assert abs(result.requests - len(seen)) <= 2  # what was answered is what was counted


def test_errors_are_counted(echo) -> None:  # noqa: ANN001
    server, _ = echo
    result = run_builtin(server.url, [json.dumps({"fail": True}).encode()], 1, 0.5, None)
    assert result.errors == result.requests > 0


@pytest.mark.skipif(not have_wrk(), reason="wrk is not installed")
def test_wrk(echo) -> None:  # noqa: ANN001
    server, seen = echo
    _check(run_wrk(server.url, BODIES, 2, 1.0, "T"), seen)

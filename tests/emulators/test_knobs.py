"""The stand-ins' `/_admin` endpoints take only JSON bodies: a page on another site can post a form or text/plain to a
loopback port without asking, but not application/json."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from emulators import crm, ctms
from emulators.seed import build_world
from emulators.server import EmulatorServer


@pytest.fixture(scope="module", params=["ctms", "crm"])
def admin(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    world = build_world(3)
    app = ctms.create_app(world) if request.param == "ctms" else crm.create_app("us", world)
    server = EmulatorServer(app).start()
    with httpx.Client(base_url=f"{server.url}/_admin", timeout=10) as client:
        yield client
    server.stop()


@pytest.mark.parametrize(("method", "path", "content", "media"), [
    ("PUT", "/knobs", b'{"outage": "503"}', "text/plain"),
    ("POST", "/knobs", b"outage=503", "application/x-www-form-urlencoded"),
    ("PATCH", "/knobs", b'{"outage": "503"}', None),
    ("PUT", "/knobs", b"", "multipart/form-data; boundary=x"),
    ("DELETE", "/stats", b"{}", "text/plain"),
], ids=["text-plain", "form", "no-content-type", "empty-multipart", "delete-with-text-body"])
def test_a_body_that_is_not_json_is_refused_with_415(admin: httpx.Client, method: str, path: str, content: bytes,
                                                     media: str | None) -> None:
    admin.get(admin.base_url.join("/counted"))  # a request the stats count (admin calls are not)
    before = admin.get("/knobs").json()
    stats_before = admin.get("/stats").json()
    assert stats_before.get("requests")
    headers = {"Content-Type": media} if media else {}
    r = admin.request(method, path, content=content, headers=headers)
    assert r.status_code == 415, r.text
    assert "application/json" in r.json()["error"]
    assert admin.get("/knobs").json() == before  # nothing changed
    assert admin.get("/stats").json() == stats_before  # the stats were not cleared


def test_json_bodies_get_and_bodyless_delete_still_work(admin: httpx.Client) -> None:
    assert admin.put("/knobs", json={"latency_ms": 1}).json()["latency_ms"] == 1
    r = admin.put("/knobs", content=b'{"latency_ms": 0}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 200 and r.json()["latency_ms"] == 0
    assert admin.get("/knobs").status_code == 200 and admin.get("/stats").status_code == 200
    assert admin.delete("/stats").status_code == 200

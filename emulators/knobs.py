"""Runtime knobs shared by both stand-ins: latency, random failures, outages, and request counting."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, fields

from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["Knobs", "KnobsMiddleware", "ADMIN_PREFIX", "read_body"]

ADMIN_PREFIX = "/_admin"
BODY_METHODS = ("PUT", "PATCH", "POST")
OUTAGES = (None, "503", "refuse")


@dataclass
class Knobs:
    """What an operator can turn, at start and at runtime through `/_admin/knobs`."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    failure_rate: float = 0.0
    outage: str | None = None
    # Requests allowed per rate window before the stand-in throttles the way its real system does.
    rate_limit: int | None = None
    rate_window_s: float = 300.0
    on_outage_change: Callable[[str | None], None] | None = field(default=None, repr=False, compare=False)

    def update(self, changes: dict) -> None:
        """Apply a partial update, validating every value first so a bad request changes nothing."""
        names = {f.name for f in fields(self)} - {"on_outage_change"}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(f"unknown knobs: {', '.join(sorted(unknown))}")
        if changes.get("outage", None) not in OUTAGES:
            raise ValueError("outage must be null, '503' or 'refuse'")
        for key in ("latency_ms", "jitter_ms", "rate_window_s"):
            if key in changes and (not isinstance(changes[key], int | float) or changes[key] < 0):
                raise ValueError(f"{key} must be a non-negative number")
        rate = changes.get("failure_rate", 0.0)
        if not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1")
        limit = changes.get("rate_limit")
        if limit is not None and (not isinstance(limit, int) or limit < 1):
            raise ValueError("rate_limit must be null or a positive integer")
        outage_before = self.outage
        for key, value in changes.items():
            setattr(self, key, value)
        if self.outage != outage_before and self.on_outage_change is not None:
            self.on_outage_change(self.outage)

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "on_outage_change"}


def add_knob_arguments(parser: argparse.ArgumentParser) -> None:
    """The knobs as command-line options of a stand-in's runner."""
    group = parser.add_argument_group("knobs (also settable at runtime: PUT /_admin/knobs)")
    group.add_argument("--latency-ms", type=float, default=0.0, help="added latency per request")
    group.add_argument("--jitter-ms", type=float, default=0.0, help="random extra latency, up to this much")
    group.add_argument("--failure-rate", type=float, default=0.0, help="share of requests answered 503")
    group.add_argument("--outage", choices=["503", "refuse"], default=None, help="start in an outage")
    group.add_argument("--rate-limit", type=int, default=None, help="requests per rate window before throttling")
    group.add_argument("--rate-window-s", type=float, default=300.0)


def knobs_from(args: argparse.Namespace) -> Knobs:
    knobs = Knobs()
    try:
        knobs.update({"latency_ms": args.latency_ms, "jitter_ms": args.jitter_ms, "failure_rate": args.failure_rate,
                      "outage": args.outage, "rate_limit": args.rate_limit, "rate_window_s": args.rate_window_s})
    except ValueError as exc:
        raise SystemExit(f"knobs: {exc}") from None
    return knobs


class KnobsMiddleware:
    """Applies the knobs to every request except the admin endpoints, and counts requests per route."""

    def __init__(self, app: ASGIApp, knobs: Knobs, stats: Counter[str]) -> None:
        self.app = app
        self.knobs = knobs
        self.stats = stats

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(ADMIN_PREFIX):
            await self._admin(scope, receive, send)
            return
        self.stats["requests"] += 1
        self.stats[f"{scope['method']} {_route_of(path)}"] += 1
        k = self.knobs
        if k.latency_ms or k.jitter_ms:
            await asyncio.sleep((k.latency_ms + random.uniform(0, k.jitter_ms)) / 1000)
        if k.outage is not None or (k.failure_rate and random.random() < k.failure_rate):
            await _plain(send, 503, b"Service Unavailable")
            return
        await self.app(scope, receive, send)

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"][len(ADMIN_PREFIX):], scope["method"]
        body = await read_body(receive)
        # Only JSON: a page on another site can send a form or text/plain without asking, but not JSON.
        if (body or method in BODY_METHODS) and _media_type(scope) != "application/json":
            await _json(send, 415, {"error": "an /_admin request body must be application/json"})
            return
        if path == "/knobs" and method in BODY_METHODS:
            try:
                changes = json.loads(body or b"{}")
                if not isinstance(changes, dict):
                    raise ValueError("the body must be a JSON object")
                self.knobs.update(changes)
            except ValueError as exc:
                await _json(send, 400, {"error": str(exc)})
                return
            await _json(send, 200, self.knobs.as_dict())
        elif path == "/knobs":
            await _json(send, 200, self.knobs.as_dict())
        elif path == "/stats" and method == "DELETE":
            self.stats.clear()
            await _json(send, 200, {})
        elif path == "/stats":
            await _json(send, 200, dict(self.stats))
        else:
            await _json(send, 404, {"error": "not found"})


def _media_type(scope: Scope) -> str:
    value = next((v for k, v in scope["headers"] if k == b"content-type"), b"").decode("latin-1")
    return value.split(";")[0].strip().lower()


def _route_of(path: str) -> str:
    """Collapse record ids out of a path so counts group by endpoint."""
    parts = path.strip("/").split("/")
    return "/" + "/".join(parts[:4] if len(parts) > 4 else parts)


async def read_body(receive: Receive) -> bytes:
    """The whole request body of an ASGI request."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def _json(send: Send, status: int, payload: dict) -> None:
    body = json.dumps(payload).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})

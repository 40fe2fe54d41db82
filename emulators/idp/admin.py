"""Test aids under `/_admin`: key rotation and minting arbitrary tokens; every `/_admin` body must be JSON."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from emulators.knobs import ADMIN_PREFIX

from .keys import ALGORITHMS, UnknownKey
from .provider import Provider

__all__ = ["AdminMiddleware"]

BODY_METHODS = ("POST", "PUT", "PATCH")


class AdminMiddleware:
    """Answers `/_admin/rotate` and `/_admin/mint`, passes the other `/_admin` routes (knobs, stats) on."""

    def __init__(self, app: ASGIApp, provider: Provider) -> None:
        self.app = app
        self.provider = provider
        self.routes: dict[str, Callable[[Request, dict[str, Any]], Awaitable[Response]]] = {
            "/rotate": self.rotate, "/mint": self.mint}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        if scope["method"] in BODY_METHODS and _media_type(request) != "application/json":
            await _error("the body must be application/json", 415)(scope, receive, send)
            return
        handler = self.routes.get(scope["path"][len(ADMIN_PREFIX):])
        if handler is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            response: Response = _error("the body must be a JSON object")
        else:
            response = await handler(request, body)
        await response(scope, receive, send)

    async def rotate(self, request: Request, body: dict[str, Any]) -> Response:
        """`{"alg": "RS256"|"ES256", "keep_old": true}`: a new signing key; without keep_old the JSON Web Key Set
        holds only the new key."""
        if unknown := set(body) - {"alg", "keep_old"}:
            return _error(f"unknown fields: {', '.join(sorted(unknown))}")
        alg, keep_old = body.get("alg", "RS256"), body.get("keep_old", True)
        if alg not in ALGORITHMS or not isinstance(keep_old, bool):
            return _error(f"alg must be one of {', '.join(ALGORITHMS)} and keep_old a boolean")
        key = self.provider.keys.rotate(alg, keep_old)
        return JSONResponse({"kid": key.kid, "alg": key.alg})

    async def mint(self, request: Request, body: dict[str, Any]) -> Response:
        """`{"claims": {...}, "kid": optional, "defaults": true}`: a token signed with the current or named key."""
        if unknown := set(body) - {"claims", "kid", "defaults"}:
            return _error(f"unknown fields: {', '.join(sorted(unknown))}")
        claims, kid, defaults = body.get("claims", {}), body.get("kid"), body.get("defaults", True)
        if not isinstance(claims, dict) or not isinstance(defaults, bool) or not isinstance(kid, str | None):
            return _error("claims must be an object, kid a string and defaults a boolean")
        try:
            token = self.provider.tokens.mint(self.provider.issuer_for(request), claims, kid, defaults)
        except UnknownKey:
            return _error(f"no key with kid {kid}")
        except (TypeError, ValueError) as exc:
            return _error(f"cannot sign these claims: {exc}")
        return JSONResponse({"token": token})


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status)

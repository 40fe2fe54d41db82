"""The one shape of a refusal sent by middleware before GraphQL runs: a JSON GraphQL error with code and request id."""

from __future__ import annotations

import json

from starlette.types import Scope, Send

from gateway.request_id import request_id_of

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def refuse(scope: Scope, send: Send, status: int, message: str, code: str, *,
                 headers: list[tuple[bytes, bytes]] | None = None, **extensions: object) -> None:
    """Answer `status` with `{"errors": [{message, extensions: {code, requestId, ...}}]}`, never cached."""
    accept = dict(scope["headers"]).get(b"accept", b"").decode("latin-1")
    media = GRAPHQL_RESPONSE if GRAPHQL_RESPONSE in accept else "application/json"
    ext: dict[str, object] = {"code": code, **extensions}
    if rid := request_id_of(scope):
        ext["requestId"] = rid
    body = json.dumps({"errors": [{"message": message, "extensions": ext}]}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", f"{media}; charset=utf-8".encode()),
                            (b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
                            *(headers or [])]})
    await send({"type": "http.response.body", "body": body})

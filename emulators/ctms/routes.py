"""The CTMS stand-in's route table, and the answer to a path or method it does not serve."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

from . import auth, changes, metadata, query, records
from .errors import ApiError

__all__ = ["routes"]

Endpoint = Callable[[Request], Awaitable[Response]]

V = "/api/{version}"
ANY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
TABLE: list[tuple[str, Endpoint, list[str]]] = [
    ("/api", metadata.versions, ["GET"]),
    ("/api/", metadata.versions, ["GET"]),
    (f"{V}/auth", auth.login, ["POST"]),
    (f"{V}/keep-alive", auth.keep_alive, ["POST"]),
    (f"{V}/session", auth.logout, ["DELETE"]),
    (f"{V}/query", query.query, ["GET", "POST"]),
    (f"{V}/query/{{token}}", query.query_page, ["GET", "POST"]),
    (f"{V}/metadata/vobjects", metadata.list_objects, ["GET"]),
    (f"{V}/metadata/vobjects/{{object}}", metadata.describe_object, ["GET"]),
    (f"{V}/objects/picklists/{{name}}", metadata.picklist, ["GET"]),
    (f"{V}/configuration/Objecttype", metadata.object_types, ["GET"]),
    (f"{V}/vobjects/{{object}}", records.write, ["POST", "PUT", "DELETE"]),
    (f"{V}/objects/deletions/vobjects/{{object}}", changes.deletions, ["GET"]),
    (f"{V}/vobjects/{{object}}/{{id}}", records.get_record, ["GET"]),
    (f"{V}/vobjects/{{object}}/{{id}}", records.delete_record, ["DELETE"]),
]


def routes() -> list[BaseRoute]:
    """The table's routes, then a catch-all that answers in Vault's words instead of a plain 404 or 405."""
    known = [Route(path, endpoint, methods=methods) for path, endpoint, methods in TABLE]
    return [*known, Route("/{path:path}", _unknown(known), methods=ANY_METHOD)]


def _unknown(known: list[Route]) -> Endpoint:
    async def unknown(request: Request) -> Response:
        for route in known:
            match, _ = route.matches({**request.scope, "method": "GET", "type": "http"})
            if match != Match.NONE and route.methods and request.method not in route.methods:
                raise ApiError("METHOD_NOT_SUPPORTED", f"Method [{request.method}] is not supported here")
        raise ApiError("MALFORMED_URL", f"The resource [{request.url.path}] does not exist")

    return unknown

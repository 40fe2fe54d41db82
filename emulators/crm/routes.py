"""The CRM org stand-in's route table; every path also answers with a trailing slash, as Salesforce's do."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from . import auth, changes, composite, composite_request, metadata, query, records

__all__ = ["routes"]

Endpoint = Callable[[Request], Awaitable[Response]]

V = "/services/data/v{version}"
TABLE: list[tuple[str, Endpoint, list[str]]] = [
    ("/services/oauth2/token", auth.token, ["POST"]),
    ("/services/data", metadata.versions, ["GET"]),
    (V, metadata.resources, ["GET"]),
    (f"{V}/limits", metadata.limits, ["GET"]),
    (f"{V}/query", query.query, ["GET"]),
    (f"{V}/queryAll", query.query_all, ["GET"]),
    (f"{V}/query/{{locator}}", query.query_more, ["GET"]),
    (f"{V}/queryAll/{{locator}}", query.query_more, ["GET"]),
    (f"{V}/sobjects", metadata.sobjects, ["GET"]),
    (f"{V}/composite", composite_request.composite, ["GET", "POST"]),
    (f"{V}/composite/sobjects", composite.collections, ["GET", "POST", "PATCH", "DELETE"]),
    (f"{V}/composite/sobjects/{{sobject}}", composite.collection_object, ["GET", "POST", "PATCH"]),
    (f"{V}/composite/sobjects/{{sobject}}/{{field}}", composite.collection_upsert, ["PATCH"]),
    (f"{V}/sobjects/{{sobject}}", records.sobject_root, ["GET", "POST"]),
    (f"{V}/sobjects/{{sobject}}/describe", metadata.sobject_describe, ["GET"]),
    (f"{V}/sobjects/{{sobject}}/updated", changes.updated, ["GET"]),
    (f"{V}/sobjects/{{sobject}}/deleted", changes.deleted, ["GET"]),
    (f"{V}/sobjects/{{sobject}}/{{id}}", records.sobject_row, ["GET", "PATCH", "DELETE"]),
    (f"{V}/sobjects/{{sobject}}/{{field}}/{{value}}", records.sobject_external, ["GET", "PATCH", "DELETE"]),
]


def routes() -> list[BaseRoute]:
    """The table's routes, each with and without a trailing slash."""
    return [Route(p, endpoint, methods=methods) for path, endpoint, methods in TABLE for p in (path, path + "/")]

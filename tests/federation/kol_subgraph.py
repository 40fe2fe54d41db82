"""A second subgraph for the supergraph tests: key opinion leader tiers, a field it adds to ccgw's Person by `id`.

It answers only requests that carry a bearer token (as a router forwarding the caller's Authorization would send),
and keeps the tokens it saw, so a test can tell that the router forwarded the caller's own."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.types import Info


@dataclass
class KolService:
    """The tiers, by ccgw Person id (highest first), and the bearer tokens the subgraph was called with."""

    tiers: dict[str, str]
    tokens: list[str] = field(default_factory=list)


def _service(info: Info) -> KolService:
    return info.context["kol"]


@strawberry.federation.type(keys=["id"])
class Person:
    id: strawberry.ID
    kol_tier: str | None

    @classmethod
    def resolve_reference(cls, info: Info, id: strawberry.ID) -> Person:
        return cls(id=id, kol_tier=_service(info).tiers.get(id))


@strawberry.type
class Query:
    @strawberry.field(description="The people with a KOL tier, highest first.")
    def top_kols(self, info: Info) -> list[Person]:
        return [Person(id=strawberry.ID(pid), kol_tier=tier) for pid, tier in _service(info).tiers.items()]


schema = strawberry.federation.Schema(query=Query, types=[Person], federation_version="2.3")


class _App(GraphQL):
    def __init__(self, service: KolService) -> None:
        super().__init__(schema, graphql_ide=None)
        self.service = service

    async def get_context(self, request: Any, response: Any) -> dict[str, Any]:
        return {"request": request, "kol": self.service}

    async def execute_single(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(request, Request):
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token:
                raise HTTPException(401, "a bearer token is required")
            self.service.tokens.append(token)
        return await super().execute_single(request, *args, **kwargs)


def create_app(service: KolService) -> Starlette:
    """The subgraph at /graphql."""
    return Starlette(routes=[Route("/graphql", _App(service), methods=["GET", "POST"])])

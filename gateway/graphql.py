"""The /graphql endpoint: strawberry over HTTP with the GraphQL-over-HTTP media type, and our GraphiQL page."""

from __future__ import annotations

from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from gateway.graphiql import graphiql_response
from resolvers.context import Services, build_context
from schema.root import schema

GRAPHQL_RESPONSE = "application/graphql-response+json"
EXAMPLE_QUERY = """# A person's unified timeline: CTMS clinical activities and CRM calls sent to Clinical, merged.
query Timeline {
  people(first: 3) {
    edges {
      node {
        firstName
        lastName
        accounts { connection { name } accountId name }
        timeline(first: 10) {
          edges {
            node {
              __typename kind date channel status owner subject
              sync { connection { name } state attempts lastError }
            }
          }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }
}
"""


class GatewayGraphQL(GraphQL):
    def __init__(self, services_of: Any) -> None:
        super().__init__(schema, graphql_ide="graphiql", allow_queries_via_get=True)
        self._services_of = services_of

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> dict:
        services: Services = self._services_of(request)
        request.state.sub_response = response
        actor = request.app.state.actor
        return {"request": request, "response": response, "ctx": await build_context(services, actor)}

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed (strawberry says 400).
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, exc.reason) from exc
            raise

    def decode_json(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not UTF-8") from None

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response("/graphql", EXAMPLE_QUERY)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        for error in data.get("errors") or []:
            # Parse failures never reach the schema's error shaping: give them a code here.
            extensions = error.setdefault("extensions", {})
            if "code" not in extensions:
                syntax = str(error.get("message", "")).startswith("Syntax Error")
                extensions["code"] = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
        accept = request.headers.get("accept", "")
        sub: Response | None = getattr(request.state, "sub_response", None)
        if sub is not None and (GRAPHQL_RESPONSE in accept or "application/json" not in accept):
            sub.headers["x-ccgw-media"] = GRAPHQL_RESPONSE
            # Under the GraphQL-over-HTTP media type a request that never executed is a 4xx.
            if result.data is None and result.errors and all(e.path is None for e in result.errors):
                sub.status_code = 400
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        media = sub_response.headers.get("x-ccgw-media")
        if media:
            del sub_response.headers["x-ccgw-media"]
        response = super().create_response(response_data, sub_response)
        if media:
            response.headers["content-type"] = f"{media}; charset=utf-8"
        return response

"""The /graphql endpoint: strawberry over HTTP with the GraphQL-over-HTTP media type, and our GraphiQL page."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.schema.base import BaseSchema
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET

from gateway.graphiql import graphiql_response, graphql_params
from gateway.limits import DeadlineExceeded, within_deadline
from gateway.persisted import PersistedQueries, PersistedQueryRefused
from gateway.refusals import GRAPHQL_RESPONSE
from gateway.request_log import CLIENT_CLOSED
from gateway.subscriptions import SocketHandler, SocketSettings, accept_connection
from resolvers.context import Services, build_context
from schema.cost import MAX_COST
from schema.root import schema

log = logging.getLogger("ccgw.graphql")
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
    graphql_transport_ws_handler_class = SocketHandler

    def __init__(self, services_of: Any, served: BaseSchema = schema, sockets: SocketSettings | None = None,
                 persisted: PersistedQueries | None = None) -> None:
        """`served`: the standalone schema, or the federated subgraph (schema.federation); `sockets`: what the
        WebSocket endpoint (subscriptions) allows; `persisted`: the queries clients sent with their hash (APQ)."""
        sockets = sockets or SocketSettings()
        super().__init__(served, graphql_ide="graphiql", allow_queries_via_get=True, **sockets.view_options())
        self.max_subscriptions = sockets.max_subscriptions
        self.persisted = persisted if persisted is not None else PersistedQueries()
        self._services_of = services_of

    async def get_context(self, request: Request | WebSocket, response: Response | WebSocket) -> dict:
        if isinstance(request, WebSocket):  # the user comes with connection_init (on_ws_connect)
            return {"request": request, "response": response, "ctx": None,
                    MAX_COST: request.app.state.settings.max_cost}
        services: Services = self._services_of(request)
        request.state.sub_response = response
        actor = request.state.actor  # set by gateway.authentication for every request that reaches here
        return {"request": request, "response": response, "ctx": await build_context(services, actor),
                MAX_COST: request.app.state.settings.max_cost}

    async def on_ws_connect(self, context: dict[str, Any]) -> None:
        await accept_connection(context["request"], context, self._services_of(context["request"]))

    async def run(self, request: Request | WebSocket, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        """Queries over GET (when allowed) answer with no-store; an answer over max_response_bytes becomes an error."""
        if not isinstance(request, Request):
            return await super().run(request, context, root_value)
        settings = request.app.state.settings
        via_get = request.method == "GET" and graphql_params(request.query_params)
        if via_get and not settings.allow_get:
            response: Response = JSONResponse({"errors": [{
                "message": "GraphQL over GET is turned off here: use POST",
                "extensions": {"code": "METHOD_NOT_ALLOWED"}}]}, status_code=405)
        else:
            try:
                plain = await self._plain_post(request) if request.method == "POST" and context is UNSET else None
                response = plain if plain is not None else await super().run(request, context, root_value)
            except ClientDisconnect:
                return Response(status_code=CLIENT_CLOSED)  # nobody reads it: for the request log and metrics
            except HTTPException as exc:
                response = _http_error(request, exc)
            except PersistedQueryRefused as exc:
                response = _persisted_refusal(request, exc)
            if (settings.max_response_bytes and _json(response) and len(response.body) > settings.max_response_bytes
                    and not _ran_mutation(request)):
                response = _too_large(response, settings.max_response_bytes)
        if via_get:
            response.headers["cache-control"] = "no-store"
            if response.status_code == 405:
                response.headers["allow"] = "POST"
        return response

    async def _plain_post(self, request: Request) -> Response | None:
        """The common request, a POST of one JSON operation that asks for no stream, run by the same steps as
        strawberry's view (the body, the persisted query, the context, execute_single, process_result,
        create_response) without the parsing of media types through `email.message` and the checks only other
        requests need; None for any other request, or any body strawberry's view would refuse: it takes those."""
        media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        accept = request.headers.get("accept", "").lower()
        if media != "application/json" or "multipart/mixed" in accept or "event-stream" in accept:
            return None
        data: dict[str, Any] = self.parse_json(await request.body())  # type: ignore[assignment]
        query, variables, extensions = data.get("query"), data.get("variables"), data.get("extensions")
        if not (isinstance(query, str | None) and isinstance(variables, dict | None)
                and isinstance(extensions, dict | None)):
            return None
        request_data = self.persisted.resolve(GraphQLRequestData(
            query=query, variables=variables, operation_name=data.get("operationName"), extensions=extensions,
            protocol="http"))
        sub_response = await self.get_sub_response(request)
        context = await self.get_context(request, response=sub_response)
        result = await self.execute_single(request=request, request_adapter=self.request_adapter_class(request),
                                           sub_response=sub_response, context=context,
                                           root_value=await self.get_root_value(request), request_data=request_data)
        return self.create_response(response_data=await self.process_result(request=request, result=result),
                                    sub_response=sub_response)

    def should_render_graphql_ide(self, request: Any) -> bool:
        return super().should_render_graphql_ide(request) and not graphql_params(request.query_params)

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, list):
            return [self.persisted.resolve(d) for d in data]
        return self.persisted.resolve(data)

    async def execute_single(self, request: Request, *args: Any, **kwargs: Any) -> ExecutionResult:
        request.state.graphql_request = kwargs.get("request_data")  # for the size cap (_ran_mutation)
        query = getattr(kwargs.get("request_data"), "query", None)
        subscribes = isinstance(query, str) and "subscription" in query  # parsed only then
        if subscribes and _operation_type(request) is OperationType.SUBSCRIPTION:
            return ExecutionResult(data=None, errors=[GraphQLError(
                "subscriptions are not allowed over HTTP: open a WebSocket (graphql-transport-ws) to /graphql",
                extensions={"code": "OPERATION_NOT_ALLOWED"})])
        timeout_s = request.app.state.settings.request_timeout_s
        try:
            return await within_deadline(super().execute_single(request, *args, **kwargs), timeout_s)
        except DeadlineExceeded:
            return ExecutionResult(data=None, errors=[GraphQLError(
                f"The request ran past its deadline of {timeout_s:g} s and was cancelled",
                extensions={"code": "DEADLINE_EXCEEDED", "timeoutS": timeout_s})])
        except HTTPException as exc:
            # GraphQL over HTTP: a mutation sent with GET is 405 Method Not Allowed (strawberry says 400).
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, exc.reason) from exc
            raise

    def encode_json(self, data: object) -> str:
        """Answers (HTTP and WebSocket) as compact JSON text; orjson writes it several times faster than json."""
        return orjson.dumps(data).decode()

    def decode_json(self, data: str | bytes) -> object:
        """JSON that must be an object: the request body, and the variables and extensions sent with GET."""
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:  # the standard library's parser says what is wrong (or takes what orjson
            value = self._decoded_slowly(data)  # refuses: NaN, an integer past 64 bits)
        if not isinstance(value, dict):
            raise HTTPException(400, f"Expected a JSON object, not {_json_kind(value)}")
        return value

    def _decoded_slowly(self, data: str | bytes) -> object:
        try:
            return super().decode_json(data)
        except UnicodeDecodeError:
            raise HTTPException(400, "The request body is not UTF-8") from None
        except RecursionError:
            raise HTTPException(400, "The JSON is nested too deeply") from None

    async def render_graphql_ide(self, request: Request) -> Response:
        return graphiql_response("/graphql", EXAMPLE_QUERY, issuer=request.app.state.settings.oidc_issuer)

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        data = await super().process_result(request, result)
        request_id = getattr(request.state, "request_id", None)
        for error in data.get("errors") or []:
            # Parse failures never reach the schema's error shaping: give them a code and the request id here.
            extensions = error.setdefault("extensions", {})
            if "code" not in extensions:
                syntax = str(error.get("message", "")).startswith("Syntax Error")
                extensions["code"] = "GRAPHQL_PARSE_FAILED" if syntax else "GRAPHQL_VALIDATION_FAILED"
            if request_id:
                extensions.setdefault("requestId", request_id)
        # A missing Accept, `*/*` or one naming neither media type gets application/json (GraphQL over HTTP).
        sub: Response | None = getattr(request.state, "sub_response", None)
        if sub is not None and GRAPHQL_RESPONSE in request.headers.get("accept", ""):
            sub.headers["x-ccgw-media"] = GRAPHQL_RESPONSE
            # Under the GraphQL-over-HTTP media type a request that never executed is a 4xx, with no `data` entry.
            if result.data is None and result.errors and all(e.path is None for e in result.errors):
                deadline = any((e.extensions or {}).get("code") == "DEADLINE_EXCEEDED" for e in result.errors)
                sub.status_code = 504 if deadline else 400
                data.pop("data", None)
        return data

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        media = sub_response.headers.get("x-ccgw-media")
        if media:
            del sub_response.headers["x-ccgw-media"]
        response = super().create_response(response_data, sub_response)
        if media:
            response.headers["content-type"] = f"{media}; charset=utf-8"
        return response


_HTTP_CODES = {400: "BAD_REQUEST", 405: "METHOD_NOT_ALLOWED", 415: "UNSUPPORTED_MEDIA_TYPE"}


def _http_error(request: Request, exc: HTTPException) -> Response:
    """A request that could not be taken as GraphQL (not JSON, not an object, a mutation over GET): a GraphQL error."""
    log.info("request %s: HTTP %d (%s)", getattr(request.state, "request_id", None), exc.status_code, exc.reason)
    return _request_error(request, exc.reason, _HTTP_CODES.get(exc.status_code, "BAD_REQUEST"), exc.status_code)


def _persisted_refusal(request: Request, exc: PersistedQueryRefused) -> Response:
    """A persisted query that cannot run, as Apollo's servers answer it (the miss is never cached on the way)."""
    return _request_error(request, exc.message, exc.code, exc.status, exc.strict_status,
                          {"cache-control": "private, no-cache, must-revalidate"})


def _request_error(request: Request, message: str, code: str, status: int, strict_status: int | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    """One GraphQL error for a request that never ran, with the request id, in the media type the caller accepts;
    `strict_status` (when given) under the GraphQL-over-HTTP media type."""
    request_id = getattr(request.state, "request_id", None)
    extensions = {"code": code, **({"requestId": request_id} if request_id else {})}
    strict = GRAPHQL_RESPONSE in request.headers.get("accept", "")
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]},
                        status_code=strict_status if strict and strict_status is not None else status,
                        media_type=GRAPHQL_RESPONSE if strict else "application/json", headers=headers)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    return {list: "a list", str: "a string", bool: "a boolean"}.get(type(value), "a number")


def _json(response: Response) -> bool:
    return "json" in response.headers.get("content-type", "") and hasattr(response, "body")


def _ran_mutation(request: Request) -> bool:
    """Whether the request ran a mutation. Its writes are done: its answer goes out whatever its size, as the caller
    could not tell otherwise what was written (and might write it again)."""
    return _operation_type(request) is OperationType.MUTATION


def _operation_type(request: Request) -> OperationType | None:
    """The type of the one operation the request runs (None when that is not one of its operations)."""
    data = getattr(request.state, "graphql_request", None)
    try:
        document = parse(data.query)
    except (GraphQLError, AttributeError, TypeError):
        return None
    name = data.operation_name
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)
                  and (name is None or (d.name is not None and d.name.value == name))]
    return operations[0].operation if len(operations) == 1 else None


def _too_large(response: Response, limit: int) -> Response:
    """The answer replaced by an error; under the GraphQL-over-HTTP media type a 400 with no `data`, like refusals."""
    media = response.headers.get("content-type", "")
    error = {"message": f"The answer is larger than the limit of {limit} bytes: ask for fewer items or fields",
             "extensions": {"code": "RESPONSE_TOO_LARGE", "limit": limit}}
    body = {"errors": [error]} if GRAPHQL_RESPONSE in media else {"data": None, "errors": [error]}
    refusal = JSONResponse(body, status_code=400 if GRAPHQL_RESPONSE in media else 200)
    if media:
        refusal.headers["content-type"] = media
    return refusal

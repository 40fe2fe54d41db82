"""Metadata routes: API versions, the version's resources, limits, describeGlobal and per-object describe."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import describe
from .context import Call, api, object_in_path, org_of

__all__ = ["versions", "resources", "limits", "sobjects", "sobject_describe"]


async def versions(request: Request) -> Response:
    return JSONResponse(describe.versions(org_of(request).api_version))


@api
async def resources(_request: Request, call: Call) -> Response:
    names = ("sobjects", "query", "queryAll", "composite", "limits")
    return JSONResponse({n: f"{call.base}/{n}" for n in names})


@api
async def limits(_request: Request, call: Call) -> Response:
    usage = call.org.usage
    return JSONResponse({"DailyApiRequests": {"Max": usage.daily_limit,
                                              "Remaining": max(0, usage.daily_limit - usage.used)}})


@api
async def sobjects(_request: Request, call: Call) -> Response:
    return JSONResponse(describe.describe_global(call.base))


@api
async def sobject_describe(request: Request, call: Call) -> Response:
    return JSONResponse(describe.describe_object(object_in_path(request), call.base))

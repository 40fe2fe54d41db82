"""Metadata routes: API versions, objects and their fields, picklists, and the object types of activities."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .context import Call, api, object_in_path, ok
from .errors import ApiError
from .objects import OBJECT_TYPES, OBJECTS, PICKLISTS
from .vault import API_VERSIONS

__all__ = ["versions", "list_objects", "describe_object", "picklist", "object_types"]


async def versions(request: Request) -> Response:
    base = str(request.base_url).rstrip("/")
    return ok(values={v: f"{base}/api/{v}" for v in API_VERSIONS})


@api
async def list_objects(_request: Request, call: Call) -> Response:
    return ok(objects=[{"name": o.name, "label": o.label, "url": f"{call.base}/metadata/vobjects/{o.name}"}
                       for o in OBJECTS.values()])


@api
async def describe_object(request: Request, call: Call) -> Response:
    obj = object_in_path(request)
    described: dict[str, Any] = {
        "name": obj.name, "label": obj.label, "url": f"{call.base}/metadata/vobjects/{obj.name}",
        "fields": [f.as_metadata(call.base) for f in obj.fields.values()],
        "object_types": [{"id": t.id, "api_name": t.api_name, "label": t.label} for t in obj.object_types],
    }
    if obj.name_format:
        described["system_managed_name"] = True
    return ok(object=described)


@api
async def picklist(request: Request, _call: Call) -> Response:
    name = request.path_params["name"]
    if name not in PICKLISTS:
        raise ApiError("INVALID_DATA", f"Picklist [{name}] does not exist")
    return ok(picklistValues=[{"name": k, "label": v} for k, v in PICKLISTS[name].items()])


@api
async def object_types(_request: Request, _call: Call) -> Response:
    return ok(data=[{"id": t.id, "object": "crm_activity__v", "api_name": t.api_name, "label": t.label}
                    for t in OBJECT_TYPES])

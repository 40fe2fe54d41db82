"""One signed-in Salesforce call: its context, and the version, session and usage checks before it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .errors import ApiError, not_found
from .objects import SObject, object_named
from .org import Org
from .sessions import Session

__all__ = ["SUBREQUEST", "Call", "api", "object_in_path", "org_of"]

VERSION_RE = re.compile(r"^\d{2}\.0$")
# Set in the scope of a Composite subrequest: the composite call it is part of was counted already.
SUBREQUEST = "salesforce.composite_subrequest"


@dataclass
class Call:
    """One signed-in API call: the org, the caller's session, and `/services/data/vNN.N`."""

    org: Org
    session: Session
    base: str

    @property
    def user(self) -> str:
        return self.session.user_id


Handler = Callable[[Request, Call], Awaitable[Response]]


def org_of(request: Request) -> Org:
    return request.app.state.org


def object_in_path(request: Request) -> SObject:
    """The sObject a path names (case-insensitively), or NOT_FOUND."""
    obj = object_named(request.path_params["sobject"])
    if obj is None:
        raise not_found()
    return obj


def api(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the version and the bearer token, then count the call against the org's allowance.

    Salesforce counts only signed-in calls, so the usage check comes after the session check.
    """

    async def endpoint(request: Request) -> Response:
        org = org_of(request)
        version = request.path_params.get("version", "")
        if not VERSION_RE.match(version) or not 20 <= float(version) <= float(org.api_version):
            raise not_found()
        session = org.sessions.lookup(request.headers.get("authorization"))
        if session is None:
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")
        if not request.scope.get(SUBREQUEST):
            org.usage.admit()
        return await handler(request, Call(org, session, f"/services/data/v{version}"))

    return endpoint

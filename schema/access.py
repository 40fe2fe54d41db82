"""Permission wiring: every guarded field and mutation, and introspection, checked by one permission class."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from graphql import FieldNode, GraphQLError, visit
from graphql.language import Visitor
from strawberry.extensions import FieldExtension, SchemaExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import ExecutionResult, Info

from domain.permissions import Permission
from resolvers.access import allowed, refused
from resolvers.errors import Forbidden
from schema.context import rc

_WHAT = {
    Permission.CLINICAL_ACTIVITY_CREATE: "creating clinical activities",
    Permission.CLINICAL_ACTIVITY_EDIT: "editing clinical activities",
    Permission.MEDICAL_ACTIVITY_VIEW: "medical activities",
    Permission.CONNECTION_ADMIN: "administering connections",
}


class Requires(BasePermission):
    """The acting user must hold `permission`; a refusal is a FORBIDDEN error and an audit entry."""

    def __init__(self, permission: Permission) -> None:
        self.permission = permission
        self.message = f"{_WHAT[permission]} needs the {permission.value} permission"

    def on_unauthorized(self) -> None:
        raise Forbidden(self.message or "forbidden")

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        ctx = rc(info)
        if allowed(ctx, self.permission):
            return True
        parent = info.path.typename or ""
        roots = ("Query", "Mutation", "Subscription")
        await refused(ctx, info.field_name if parent in roots else f"{parent}.{info.field_name}", self.permission)
        return False


def requires(permission: Permission) -> list[FieldExtension]:
    """The field extensions that guard a field or mutation with one permission."""
    return [PermissionExtension([Requires(permission)], use_directives=False)]


# `_service { sdl }` (the federated subgraph) prints the whole schema: it counts as introspection.
INTROSPECTION_FIELDS = ("__schema", "__type", "_service")
_INTROSPECTION = re.compile(r"__schema|__type\b|_service\b")


class IntrospectionGuard(SchemaExtension):
    """`__schema`, `__type` and `_service` for CONNECTION_ADMIN ("admin"), everyone ("open") or no one ("closed")."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        ctx = ec.context.get("ctx") if isinstance(ec.context, dict) else None
        if ctx is not None and ec.query and _INTROSPECTION.search(ec.query) and _introspects(ec.graphql_document):
            policy = ctx.services.introspection
            if policy == "closed" or (policy != "open" and not allowed(ctx, Permission.CONNECTION_ADMIN)):
                ec.result = ExecutionResult(data=None, errors=[GraphQLError(
                    "introspection needs the CONNECTION_ADMIN permission" if policy != "closed"
                    else "introspection is turned off", extensions={"code": "FORBIDDEN"})])
                await refused(ctx, "introspection", Permission.CONNECTION_ADMIN)
        yield


class _Finder(Visitor):
    found = False

    def enter_field(self, node: FieldNode, *_: Any) -> None:
        if node.name.value in INTROSPECTION_FIELDS:
            self.found = True


def _introspects(document: Any) -> bool:
    if document is None:
        return False
    finder = _Finder()
    visit(document, finder)
    return finder.found

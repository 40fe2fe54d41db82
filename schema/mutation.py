"""The root Mutation: writes through to both systems, and connection administration."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from resolvers import connections as connections_resolver
from resolvers.errors import BadInput
from resolvers.ids import raw_id
from schema.context import rc
from schema.inputs import UpdateConnectionInput
from schema.types import Connection


@strawberry.type
class UserError:
    field: list[str] | None = strawberry.field(description='Path to the input field at fault, e.g. ["input", '
                                                           '"context"].')
    message: str
    code: str


@strawberry.type
class ConnectionPayload:
    connection: Connection | None
    user_errors: list[UserError]


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def update_connection(self, info: Info, input: UpdateConnectionInput) -> ConnectionPayload:
        try:
            name = raw_id(input.id, "Connection", "input.id")
            row = await connections_resolver.update_connection(
                rc(info), name, enabled=input.enabled, ctms_field=input.ctms_identifier_field,
                crm_field=input.crm_identifier_field)
        except BadInput as exc:
            field = exc.extensions.get("field", "input").split(".")
            return ConnectionPayload(connection=None, user_errors=[UserError(field=field, message=exc.message,
                                                                             code="INVALID")])
        return ConnectionPayload(connection=Connection(row=row), user_errors=[])

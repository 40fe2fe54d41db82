"""The same schema as an Apollo Federation 2 subgraph: keyed entities, `_entities` and `_service`, one access rule."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import strawberry
from graphql import GraphQLAbstractType, GraphQLResolveInfo, GraphQLUnionType
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.types import Info
from strawberry.types.base import get_object_definition

from resolvers.errors import BadInput
from resolvers.ids import RAW_ID, from_global, to_global
from schema import types as t
from schema.errors import GatewaySchema
from schema.mutation import Mutation
from schema.query import Query, find_node
from schema.root import EXTENSIONS, TYPES
from schema.subscription import Subscription

# The entities other subgraphs may reference or extend, and their keys (GraphQL field sets).
ENTITY_KEYS: dict[str, tuple[str, ...]] = {
    "Person": ("id", "ctmsId"),
    "Study": ("id", "ctmsId"),
    "StudySite": ("id", "ctmsId"),
    "ClinicalActivity": ("id", "ctmsId"),
    "MedicalActivity": ("id", "connection { name } crmCallId"),
}

# The keys live on subclasses named like the shared types, so the standalone schema never carries a federation
# directive. The federated schema registers these first: every field typed with a shared class gets the subclass's
# GraphQL type (same fields, same resolvers), and the resolvers go on returning instances of the shared classes.


@strawberry.federation.type(keys=list(ENTITY_KEYS["Person"]), name="Person",
                            description=get_object_definition(t.Person, strict=True).description)
class PersonEntity(t.Person):
    pass


@strawberry.federation.type(keys=list(ENTITY_KEYS["Study"]), name="Study")
class StudyEntity(t.Study):
    pass


@strawberry.federation.type(keys=list(ENTITY_KEYS["StudySite"]), name="StudySite")
class StudySiteEntity(t.StudySite):
    pass


@strawberry.federation.type(keys=list(ENTITY_KEYS["ClinicalActivity"]), name="ClinicalActivity")
class ClinicalActivityEntity(t.ClinicalActivity):
    pass


@strawberry.federation.type(keys=list(ENTITY_KEYS["MedicalActivity"]), name="MedicalActivity")
class MedicalActivityEntity(t.MedicalActivity):
    pass


# Every Relay-style subgraph has a PageInfo: shareable, it composes with theirs.
@strawberry.federation.type(shareable=True, name="PageInfo")
class SharedPageInfo(t.PageInfo):
    pass


FEDERATED_TYPES = [PersonEntity, StudyEntity, StudySiteEntity, ClinicalActivityEntity, MedicalActivityEntity,
                   SharedPageInfo]


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise BadInput(f"representations: {field} must be a non-empty string", field=field)
    return value


def _bare(value: object, field: str) -> str:
    text = _text(value, field)
    if not RAW_ID.match(text) or ":" in text:
        raise BadInput(f"representations: {field}: {text[:60]!r} is not a valid backend id", field=field)
    return text


def _global_id(type_name: str, representation: dict[str, Any]) -> str:
    """The global id a representation names, through whichever of its type's keys it carries."""
    if "id" in representation:
        value = _text(representation["id"], "id")
        decoded = from_global(value)
        if decoded is None:
            raise BadInput(f"representations: id: {value[:60]!r} is not a valid {type_name} id", field="id")
        if decoded[0] != type_name:
            raise BadInput(f"representations: id: expected a {type_name} id, got a {decoded[0]} id", field="id")
        return value
    if "ctmsId" in representation and "ctmsId" in ENTITY_KEYS[type_name]:
        return to_global(type_name, _bare(representation["ctmsId"], "ctmsId"))
    connection = representation.get("connection")
    if type_name == "MedicalActivity" and "crmCallId" in representation and isinstance(connection, dict):
        name = _bare(connection.get("name"), "connection.name")
        return to_global(type_name, f"{name}:{_bare(representation['crmCallId'], 'crmCallId')}")
    keys = " or ".join(f'"{k}"' for k in ENTITY_KEYS[type_name])
    raise BadInput(f"representations: a {type_name} is found by its key {keys}", field="representations")


async def resolve_reference(info: Info, representation: object) -> object | None:
    """The entity a representation names, looked up as `node` does (so null where `node` would be null)."""
    if not isinstance(representation, dict):
        raise BadInput("representations: each one is an object with __typename and the fields of a key",
                       field="representations")
    type_name = representation.get("__typename")
    if not isinstance(type_name, str) or type_name not in ENTITY_KEYS:
        raise BadInput(f"representations: __typename {str(type_name)[:60]!r} is not one of the entities here: "
                       f"{', '.join(sorted(ENTITY_KEYS))}", field="__typename")
    return await find_node(info, _global_id(type_name, representation))


def _by_name(value: object, info: GraphQLResolveInfo, abstract_type: GraphQLAbstractType) -> str | None:
    definition = get_object_definition(value)
    return definition.name if definition is not None else None


class FederatedSchema(GatewaySchema, strawberry.federation.Schema):
    """strawberry's Federation 2 schema, logging errors as the standalone one does."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # An instance of a shared class is of no member's exact definition here, and strawberry's fallback would
        # take the first member it is an instance of by interface (any Node): unions resolve by type name, as
        # interfaces already do.
        for named in self._schema.type_map.values():
            if isinstance(named, GraphQLUnionType):
                named.resolve_type = _by_name

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        # One awaitable per representation: a bad one is an error at its own index, the others still resolve.
        found: list[Awaitable[object | None]] = [resolve_reference(info, r) for r in representations]
        return found  # type: ignore[return-value]


# Same-name validation is off because the keyed subclasses replace the shared types by name (they add no field);
# tests/schema/test_subgraph_sdl.py checks that the subgraph is the standalone schema plus federation, nothing else.
# Federation 2.3 has all the subgraph uses (@key, @shareable) and every current composition tool and router takes it.
schema = FederatedSchema(query=Query, mutation=Mutation, subscription=Subscription, types=[*FEDERATED_TYPES, *TYPES],
                         extensions=EXTENSIONS,
                         config=StrawberryConfig(_unsafe_disable_same_type_validation=True), federation_version="2.3")

__all__ = ["ENTITY_KEYS", "FederatedSchema", "resolve_reference", "schema"]

"""Generated GraphQL operations: hypothesis-graphql over the live schema, with ids, strings and dates that mix real
values of the seeded world into its own, and mutations made to also select what tells whether they wrote.

Arguments come from hypothesis-graphql's strategies, except four scalars. `ID` is a seeded record's global id (of
any type), its bare CTMS or CRM id, a global id naming the wrong type, hypothesis-graphql's own text, or a reference
that becomes a record of the type its argument asks for (a person for `personId`, a site for `studySiteId`, ...),
so that some writes are well-formed enough to succeed. `String` is a real cursor (or one with a field changed), a
real identifier field name or search word, or generated text. `Date` is a date within three years of today, any
date, or any text. `Int` (a page size wherever it is asked for) is within the pages' bounds, or any 32-bit integer.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import date, timedelta

import graphql
from hypothesis import strategies as st
from hypothesis_graphql import mutations, nodes, queries

from emulators.seed import World

# What a mutation's payload must also select (under aliases of our own) for the test to see what it did.
CHECKS = {
    "createClinicalActivity": "fuzzErrors: userErrors { code } fuzzActivity: activity { id ctmsId }",
    "updateClinicalActivity": "fuzzErrors: userErrors { code } fuzzActivity: activity { id ctmsId }",
    "deleteClinicalActivity": "fuzzErrors: userErrors { code } fuzzDeleted: deletedId",
    "sendCallToClinical": "fuzzErrors: userErrors { code } fuzzActivity: activity { id crmCallId }",
    "logCall": "fuzzErrors: userErrors { code } fuzzCall: callId fuzzActivity: activity { id crmCallId }",
    "retrySync": "fuzzErrors: userErrors { code } fuzzActivity: activity { __typename id }",
    "reconcile": "fuzzErrors: userErrors { code } fuzzJob: job { id dryRun }",
    "updateConnection": "fuzzErrors: userErrors { code } fuzzConnection: connection { id name enabled "
                        "identifier { ctmsField crmField } }",
}
WORDS = ["a", "aiko", "Abe", "CCG", "hospital.example.org", "%", "_", "'", "\\", " ", "EXT-000001",
         "external_id__v", "npi_number__c", "email__sys", "External_ID_vod__c", "NPI_Number__c", "Name", "Id"]
ODD_VALUES = [None, -1, 0, 10**20, 1.5, "", "x", "2026-02-30", "0PE000000000001", [], {}, True]
REF = "\u2063ref:"  # an ID drawn as a reference to a record of the type its argument asks for
REF_TYPES = {"personId": "Person", "studyId": "Study", "studyCountryId": "StudyCountry", "studySiteId": "StudySite",
             "studyPersonnelId": "StudyPersonnel", "connectionId": "Connection", "callId": "call",
             "activityId": "activity", "person.id": "Person", "updateConnection.id": "Connection",
             "updateClinicalActivity.id": "ClinicalActivity", "deleteClinicalActivity.id": "ClinicalActivity"}


def global_id(type_name: str, raw: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw}".encode()).decode().rstrip("=")


def _b64(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@dataclass(frozen=True, repr=False)
class Pools:
    """Real values of the fuzzed world: global ids by type, bare CTMS and CRM ids, cursors the gateway gave out."""

    by_type: dict[str, tuple[str, ...]]
    bare_ids: tuple[str, ...]
    cursors: tuple[str, ...]

    @classmethod
    def of(cls, world: World, cursors: list[str]) -> Pools:
        types = {"person__sys": "Person", "study__v": "Study", "study_country__v": "StudyCountry",
                 "site__v": "StudySite", "study_person__clin": "StudyPersonnel", "crm_activity__v": "ClinicalActivity"}
        by_type: dict[str, list[str]] = {t: [] for t in [*types.values(), "Connection", "MedicalActivity", "call"]}
        bare = []
        for obj, type_name in types.items():
            for rec in world.ctms[obj][:12]:
                by_type[type_name].append(global_id(type_name, rec["id"]))
                bare.append(rec["id"])
        for org, records in world.crm.items():
            by_type["Connection"].append(global_id("Connection", org))
            for call in records["Call2_vod__c"][:12]:
                by_type["MedicalActivity"].append(global_id("MedicalActivity", f"{org}:{call['Id']}"))
                by_type["call"].append(call["Id"])
        by_type["activity"] = by_type["ClinicalActivity"] + by_type["MedicalActivity"]
        return cls({t: tuple(v) for t, v in by_type.items()}, tuple(bare), tuple(cursors))

    def __repr__(self) -> str:
        return f"Pools({sum(map(len, self.by_type.values()))} ids, {len(self.cursors)} cursors)"

    @property
    def global_ids(self) -> tuple[str, ...]:
        return tuple(g for t, ids in self.by_type.items() if t not in ("call", "activity") for g in ids)

    def pick(self, field: str | None, name: str | None, n: int) -> str:
        """The n-th record of the type the argument `name` of `field` asks for (any record's, for others)."""
        kind = REF_TYPES.get(name or "") or REF_TYPES.get(f"{field}.{name}")
        ids = self.by_type[kind] if kind else self.global_ids
        return ids[n % len(ids)]

    def resolve(self, document: graphql.DocumentNode) -> graphql.DocumentNode:
        """The document with each reference replaced by a record of the type its argument asks for."""
        return graphql.visit(document, _Resolve(self))


class _Resolve(graphql.Visitor):
    def __init__(self, pools: Pools) -> None:
        super().__init__()
        self.pools = pools
        self.fields: list[str] = []
        self.names: list[str] = []

    def enter_field(self, node: graphql.FieldNode, *_: object) -> None:
        self.fields.append(node.name.value)

    def leave_field(self, *_: object) -> None:
        self.fields.pop()

    def enter_argument(self, node: graphql.ArgumentNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *_: object) -> None:
        self.names.pop()

    def enter_object_field(self, node: graphql.ObjectFieldNode, *_: object) -> None:
        self.names.append(node.name.value)

    def leave_object_field(self, *_: object) -> None:
        self.names.pop()

    def leave_string_value(self, node: graphql.StringValueNode, *_: object) -> graphql.StringValueNode | None:
        if not node.value.startswith(REF):
            return None
        n = int(node.value.removeprefix(REF))
        return graphql.StringValueNode(value=self.pools.pick(self.fields[-1] if self.fields else None,
                                                             self.names[-1] if self.names else None, n))


def _retyped(gid: str) -> st.SearchStrategy[str]:
    """A real record's id under another type's name (a person's id presented as a study's, ...)."""
    raw = base64.urlsafe_b64decode(gid + "=" * (-len(gid) % 4)).decode().partition(":")[2]
    return st.sampled_from(["Person", "Study", "StudySite", "ClinicalActivity", "MedicalActivity", "Connection",
                            "Spaceship"]).map(lambda t: global_id(t, raw))


def _changed_cursor(cursor: str) -> st.SearchStrategy[str]:
    """A real cursor with one of its fields given an odd value."""
    payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    return st.tuples(st.sampled_from(sorted(payload)), st.sampled_from(ODD_VALUES)).map(
        lambda kv: _b64({**payload, kv[0]: kv[1]}))


def scalars(pools: Pools) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    text = st.text(max_size=40)
    ids = st.one_of(st.integers(0, 99).map(lambda n: f"{REF}{n}"), st.sampled_from(pools.global_ids),
                    st.sampled_from(pools.bare_ids), st.sampled_from(pools.global_ids).flatmap(_retyped), text)
    strings = st.one_of(text, st.sampled_from(WORDS), st.sampled_from(pools.cursors),
                        st.sampled_from(pools.cursors).flatmap(_changed_cursor))
    today = date.today()
    dates = st.one_of(st.dates(today - timedelta(days=1000), today + timedelta(days=1000)).map(date.isoformat),
                      st.dates().map(date.isoformat), text)
    # Every Int argument is a page size: in its range (1-100) as often as anywhere.
    ints = st.one_of(st.integers(1, 100), st.integers(-(2**31), 2**31 - 1))
    return {"ID": ids.map(nodes.String), "String": strings.map(nodes.String), "Date": dates.map(nodes.String),
            "Int": ints.map(nodes.Int), "DateTime": st.datetimes().map(lambda d: nodes.String(d.isoformat()))}


def _checks_of(schema: graphql.GraphQLSchema, name: str) -> tuple[graphql.SelectionNode, ...]:
    """What to add to a mutation field's selection: CHECKS, or its user errors for a mutation not known here."""
    payload = graphql.get_named_type(schema.mutation_type.fields[name].type)
    text = CHECKS.get(name) or ("fuzzErrors: userErrors { code }" if "userErrors" in payload.fields else "")
    return graphql.parse("{ " + text + " }").definitions[0].selection_set.selections if text else ()


def with_checks(schema: graphql.GraphQLSchema, document: graphql.DocumentNode) -> graphql.DocumentNode:
    """The document with CHECKS added to each mutation field's selection."""
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, graphql.OperationDefinitionNode) and definition.operation.value == "mutation":
            fields = []
            for field in definition.selection_set.selections:
                selections = (*field.selection_set.selections, *_checks_of(schema, field.name.value))
                fields.append(_copy(field, selection_set=graphql.SelectionSetNode(selections=selections)))
            definition = _copy(definition, selection_set=graphql.SelectionSetNode(selections=tuple(fields)))
        definitions.append(definition)
    return graphql.DocumentNode(definitions=tuple(definitions))


def _copy(node: graphql.Node, **changes: object) -> graphql.Node:
    return type(node)(**{**{k: getattr(node, k) for k in node.keys if k != "loc"}, **changes})


def _keep(document: graphql.DocumentNode) -> graphql.DocumentNode:
    return document


def operations(schema: graphql.GraphQLSchema, pools: Pools) -> st.SearchStrategy[str]:
    """Queries, mutations of one field (each field as likely as the others), and mutations of several fields (which
    the gateway refuses before running any), printed."""
    custom = scalars(pools)
    singles = [mutations(schema, fields=[name], custom_scalars=custom, print_ast=_keep)
               for name in sorted(schema.mutation_type.fields)]
    writes = st.one_of(st.one_of(*singles), mutations(schema, custom_scalars=custom, print_ast=_keep))
    return st.one_of(queries(schema, custom_scalars=custom, print_ast=_keep).map(pools.resolve),
                     writes.map(pools.resolve).map(lambda doc: with_checks(schema, doc))).map(graphql.print_ast)

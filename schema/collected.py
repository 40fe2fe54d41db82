"""Subfield collections kept across requests: a document without directives collects the same subfields for the same
type and field nodes whatever its variables, and the documents themselves come from the parser's cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import DirectiveNode, FragmentDefinitionNode, GraphQLObjectType, Node, OperationDefinitionNode
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet

from schema.acyclic import AcyclicExecution

KEPT = 256  # operations, as many as the parser keeps documents; each entry keeps its operation alive (its ids too)


def directive_free(node: Node) -> bool:
    """Whether nothing under `node` carries a directive and no fragment declares variables: the only ways variables
    reach field collection (@skip, @include, @defer, fragment arguments)."""
    if isinstance(node, DirectiveNode):
        return False
    if isinstance(node, FragmentDefinitionNode) and node.variable_definitions:
        return False
    for key in node.keys:
        if key == "loc":
            continue
        value = getattr(node, key, None)
        if isinstance(value, Node) and not directive_free(value):
            return False
        if isinstance(value, tuple | list) and any(isinstance(v, Node) and not directive_free(v) for v in value):
            return False
    return True


_UNKNOWN = object()


class _Kept:
    """What is kept of one operation: its collections, and what the execution derived from each field set."""

    __slots__ = ("operation", "collections", "derived", "extras")

    def __init__(self, operation: OperationDefinitionNode) -> None:
        self.operation = operation
        self.collections: dict[tuple[GraphQLObjectType, tuple[int, ...]], CollectedFields] = {}
        # By id() of a kept field set, with the set itself: its id is never another's while it is kept here.
        self.derived: dict[int, tuple[GroupedFieldSet, Any]] = {}
        self.extras: dict[tuple[Any, ...], Any] = {}  # what kept_for made


class KeptCollections(AcyclicExecution):
    """Collects an object's subfields once per (operation, type, field nodes) in the process, when the operation's
    document has no directive; otherwise once per request, as graphql-core does. A subclass may keep what it
    derives from each kept field set (`derive`), read back with `derived`."""

    # id(operation) -> what is kept of it, or None when its document has a directive (the operation itself then)
    _operations: dict[int, _Kept | OperationDefinitionNode] = {}
    _entry: _Kept | None | object = _UNKNOWN  # this request's, once looked up

    def collect_subfields(self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
                          ) -> CollectedFields:
        kept = self._kept()
        if kept is None:
            return super().collect_subfields(return_type, field_details_list)
        # The request's own memo first, as graphql-core keeps it: a list's items ask with the same field details.
        request_key = (return_type, id(field_details_list))
        seen = self._relevant_sub_fields.get(request_key)
        if seen is not None:
            return seen[1]
        key = (return_type, tuple(id(d.node) for d in field_details_list))
        collected = kept.collections.get(key)
        if collected is None:
            collected = kept.collections[key] = super().collect_subfields(return_type, field_details_list)
            fields = collected.grouped_field_set
            kept.derived[id(fields)] = (fields, self.derive(return_type, fields))
        self._relevant_sub_fields[request_key] = (field_details_list, collected)
        return collected

    def derive(self, return_type: GraphQLObjectType, fields: GroupedFieldSet) -> Any:
        """What to keep beside a field set collected for the process (kept as long as it is)."""
        return None

    def derived(self, fields: GroupedFieldSet) -> Any:
        """What `derive` made of a kept field set; None for any other (the operation's root fields, a document
        with a directive)."""
        kept = self._kept()
        found = None if kept is None else kept.derived.get(id(fields))
        return found[1] if found is not None and found[0] is fields else None

    def kept_for(self, key: tuple[Any, ...], make: Callable[[], Any]) -> Any:
        """What `make` makes for `key` (ids of the operation's own nodes, which live as long as it is kept), made
        once while the operation is kept; None when it is not (a document with a directive)."""
        kept = self._kept()
        if kept is None:
            return None
        found = kept.extras.get(key, _UNKNOWN)
        if found is _UNKNOWN:
            found = kept.extras[key] = make()
        return found

    def _kept(self) -> _Kept | None:
        """What is kept of the operation, None when its document has a directive."""
        if self._entry is not _UNKNOWN:
            return self._entry  # type: ignore[return-value]
        operation = self.operation
        entry = self._operations.get(id(operation))
        found = entry.operation if isinstance(entry, _Kept) else entry
        if found is not operation:
            free = directive_free(operation) and all(directive_free(f.definition) for f in self.fragments.values())
            if len(self._operations) >= KEPT:
                self._forget_oldest()
            entry = self._operations[id(operation)] = _Kept(operation) if free else operation
        kept = self._entry = entry if isinstance(entry, _Kept) else None
        return kept

    def _forget_oldest(self) -> None:
        """Drop the longest kept operation (another thread serving another app may be dropping it too)."""
        try:
            self._operations.pop(next(iter(self._operations)), None)
        except (RuntimeError, StopIteration):  # changed meanwhile: the next collection tries again
            pass

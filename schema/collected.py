"""Subfield collections kept across requests: a document without directives collects the same subfields for the same
type and field nodes whatever its variables, and the documents themselves come from the parser's cache."""

from __future__ import annotations

from graphql import DirectiveNode, FragmentDefinitionNode, GraphQLObjectType, Node, OperationDefinitionNode
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

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


class KeptCollections(StrawberryGraphQLCoreExecutionContext):
    """Collects an object's subfields once per (operation, type, field nodes) in the process, when the operation's
    document has no directive; otherwise once per request, as graphql-core does."""

    # id(operation) -> (operation, whether it is directive-free, its collections by (type, ids of the field nodes))
    _operations: dict[int, tuple[OperationDefinitionNode, bool, dict[tuple[GraphQLObjectType, tuple[int, ...]],
                                                                    CollectedFields]]] = {}

    def collect_subfields(self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
                          ) -> CollectedFields:
        kept = self._kept()
        if kept is None:
            return super().collect_subfields(return_type, field_details_list)
        key = (return_type, tuple(id(d.node) for d in field_details_list))
        collected = kept.get(key)
        if collected is None:
            collected = kept[key] = super().collect_subfields(return_type, field_details_list)
        return collected

    def _kept(self) -> dict[tuple[GraphQLObjectType, tuple[int, ...]], CollectedFields] | None:
        """The operation's collections, None when its document has a directive."""
        operation = self.operation
        entry = self._operations.get(id(operation))
        if entry is None or entry[0] is not operation:
            free = directive_free(operation) and all(directive_free(f.definition) for f in self.fragments.values())
            if len(self._operations) >= KEPT:
                del self._operations[next(iter(self._operations))]
            entry = self._operations[id(operation)] = (operation, free, {})
        return entry[2] if entry[1] else None

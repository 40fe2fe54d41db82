"""One mutation per operation: a validation rule refusing, before anything runs, an operation with several mutation
fields. Every payload is non-null, so an error in one of them nulls the whole answer and would hide what the others
wrote: the caller could not tell which writes were made, and might make them again."""

from __future__ import annotations

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValidationRule,
)


class OneMutation(ValidationRule):
    def enter_operation_definition(self, node: OperationDefinitionNode, *_: object) -> None:
        if node.operation is not OperationType.MUTATION:
            return
        names = self._fields(node.selection_set, set())
        if len(names) > 1:
            self.report_error(GraphQLError(
                f"An operation runs one mutation, this one has {len(names)} ({', '.join(names)}): send each in a "
                "request of its own, so that an error in one cannot hide what another wrote", node))

    def _fields(self, selection_set: SelectionSetNode, seen: set[str]) -> list[str]:
        """The mutation fields selected (each alias counts), through fragments; `__typename` is not a mutation."""
        names: list[str] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                if selection.name.value != "__typename":
                    names.append(selection.alias.value if selection.alias else selection.name.value)
            elif isinstance(selection, InlineFragmentNode):
                names += self._fields(selection.selection_set, seen)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in seen:
                seen.add(selection.name.value)
                fragment = self.context.get_fragment(selection.name.value)
                if fragment is not None:
                    names += self._fields(fragment.selection_set, seen)
        return names

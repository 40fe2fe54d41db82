"""The cost of an operation, counted before it runs, and the budget that refuses the costly ones."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    ListValueNode,
    NamedTypeNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SchemaMetaFieldDef,
    SelectionSetNode,
    TypeMetaFieldDef,
    TypeNameMetaFieldDef,
    VariableNode,
    get_argument_values,
    get_named_type,
    get_nullable_type,
    get_variable_values,
    is_abstract_type,
    is_list_type,
    type_from_ast,
)
from graphql.execution.values import VariableValues
from strawberry.extensions import SchemaExtension

from datasources.cache import LruCache
from domain.timeline import FIRST_MAX

# A list without `first` (accounts, studyRoles, sync, countries, sites, fieldMappings, ...): its estimated length.
LIST_ESTIMATE = 10
# `first: null` lets the resolver choose its default page (20; the audit log's 50): counted as the larger.
NULL_PAGE = 50
# The request context's key holding the budget (an int; absent or 0: no budget).
MAX_COST = "max_cost"
CACHE_SIZE = 512

SelectionSets = tuple[SelectionSetNode, ...]
K = TypeVar("K")
T = TypeVar("T")


def operation_cost(schema: GraphQLSchema, document: DocumentNode, operation_name: str | None = None,
                   variables: Mapping[str, Any] | None = None) -> int | None:
    """The cost of the operation a request would run; None when it cannot run (no such operation, bad variables).

    Every field costs 1 and a list multiplies the cost of what it selects by the items it may hold: its `first`
    (at most FIRST_MAX, more is refused by the resolvers), the enclosing connection's `first` for `edges`, or
    LIST_ESTIMATE. Fragments count where they apply, each alias counts, an abstract type costs its costliest member,
    fields skipped by `@skip`/`@include` are free, and introspection (over the fixed, in-memory schema) counts its
    fields once. Federation's `_entities` holds one item per representation it is given."""
    operation = _operation(document, operation_name)
    if operation is None:
        return None
    root = schema.get_root_type(operation.operation)
    coerced = get_variable_values(schema, operation.variable_definitions or (), dict(variables or {}))
    if root is None or isinstance(coerced, list):
        return None
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    return _Counter(schema, fragments, coerced).sets_cost((operation.selection_set,), root, None)


def _operation(document: DocumentNode, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


class _Counter:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode],
                 variables: VariableValues) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        # Selections reached again (through a fragment spread in several places) are counted once, not re-walked.
        self.memo: dict[tuple[tuple[int, ...], str, int | None], int] = {}

    def sets_cost(self, sets: SelectionSets, parent: GraphQLNamedType, page: int | None) -> int:
        """What the merged selection sets cost on one value of `parent`; `page` is its `first`, if it has one."""
        key = (tuple(id(s) for s in sets), parent.name, page)
        if key not in self.memo:
            runtime: Sequence[GraphQLObjectType] = (
                self.schema.get_possible_types(parent) if is_abstract_type(parent)  # type: ignore[arg-type]
                else [parent] if isinstance(parent, GraphQLObjectType) else [])
            self.memo[key] = max((sum(self.field_cost(nodes, t, page) for nodes in self.collect(sets, t).values())
                                  for t in runtime), default=0)
        return self.memo[key]

    def field_cost(self, nodes: list[FieldNode], parent: GraphQLObjectType, parent_page: int | None) -> int:
        node = nodes[0]
        field = _field(parent, node.name.value)
        sets = tuple(n.selection_set for n in nodes if n.selection_set is not None)
        if field is None or not sets:
            return 1
        page = self.page(field, node)
        if parent.name.startswith("__") or not is_list_type(get_nullable_type(field.type)):
            items = 1
        elif page is not None:
            items = page
        elif (given := self.representations(field, node)) is not None:
            items = given
        elif node.name.value == "edges" and parent_page is not None:
            items = parent_page
        else:
            items = LIST_ESTIMATE
        return 1 + items * self.sets_cost(sets, get_named_type(field.type), page)

    def page(self, field: GraphQLField, node: FieldNode) -> int | None:
        if "first" not in field.args:
            return None
        try:
            first = _argument(field, node, "first", self.variables)
        except GraphQLError:
            return NULL_PAGE
        return min(max(first, 0), FIRST_MAX) if isinstance(first, int) else NULL_PAGE

    def representations(self, field: GraphQLField, node: FieldNode) -> int | None:
        """Federation's `_entities` resolves one item per representation it is given."""
        if "representations" not in field.args:
            return None
        try:
            given = _argument(field, node, "representations", self.variables)
        except GraphQLError:
            return None
        return len(given) if isinstance(given, list) else None

    def collect(self, sets: SelectionSets, runtime: GraphQLObjectType) -> dict[str, list[FieldNode]]:
        """The fields selected on a value of type `runtime`, by response key (as execution merges them)."""
        grouped: dict[str, list[FieldNode]] = {}
        visited: set[str] = set()
        for selection_set in sets:
            self._visit(selection_set, runtime, grouped, visited)
        return grouped

    def _visit(self, selection_set: SelectionSetNode, runtime: GraphQLObjectType,
               grouped: dict[str, list[FieldNode]], visited: set[str]) -> None:
        # A method, not a closure calling itself: that would be a reference cycle kept until a collection.
        for selection in selection_set.selections:
            if not self.included(selection):
                continue
            if isinstance(selection, FieldNode):
                key = selection.alias.value if selection.alias else selection.name.value
                grouped.setdefault(key, []).append(selection)
            elif isinstance(selection, InlineFragmentNode):
                if self.applies(selection.type_condition, runtime):
                    self._visit(selection.selection_set, runtime, grouped, visited)
            elif isinstance(selection, FragmentSpreadNode) and selection.name.value not in visited:
                visited.add(selection.name.value)
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None and self.applies(fragment.type_condition, runtime):
                    self._visit(fragment.selection_set, runtime, grouped, visited)

    def included(self, node: Any) -> bool:
        for directive in node.directives or ():
            if directive.name.value in ("skip", "include"):
                definition = GraphQLSkipDirective if directive.name.value == "skip" else GraphQLIncludeDirective
                condition = get_argument_values(definition, directive, self.variables).get("if")
                if condition is (directive.name.value == "skip"):
                    return False
        return True

    def applies(self, condition: NamedTypeNode | None, runtime: GraphQLObjectType) -> bool:
        if condition is None:
            return True
        kind = type_from_ast(self.schema, condition)
        return kind is runtime or (is_abstract_type(kind) and self.schema.is_sub_type(kind, runtime))  # type: ignore


def _argument(field: GraphQLField, node: FieldNode, name: str, variables: VariableValues) -> Any:
    """One argument's value as the field receives it (its default when not given), whatever the others hold;
    GraphQLError when it cannot be coerced."""
    alone = GraphQLField(field.type, {name: field.args[name]})
    given = FieldNode(name=node.name, arguments=tuple(a for a in node.arguments or () if a.name.value == name))
    return get_argument_values(alone, given, variables).get(name)


def _field(parent: GraphQLObjectType, name: str) -> GraphQLField | None:
    meta = {"__typename": TypeNameMetaFieldDef, "__schema": SchemaMetaFieldDef, "__type": TypeMetaFieldDef}
    return meta.get(name) or parent.fields.get(name)


def _canonical(value: object) -> bytes:
    """One spelling of a request's text, operation and variables (keys sorted)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS, default=str)
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, sort_keys=True, default=str).encode()


def cost_inputs(document: DocumentNode) -> frozenset[str]:
    """The variables a count can read: those given to a field's `first` or `representations`, and to `@skip` or
    `@include`. Every other variable (an id, a filter, a mutation's input) leaves the cost as it is."""
    names: set[str] = set()
    for definition in document.definitions:
        for node in _nodes(definition):
            for argument in node.arguments or () if isinstance(node, FieldNode) else ():
                if argument.name.value in ("first", "representations"):
                    _variables_in(argument.value, names)
            for directive in node.directives or ():
                if directive.name.value in ("skip", "include"):
                    for argument in directive.arguments or ():
                        _variables_in(argument.value, names)
    return frozenset(names)


def _variables_in(node: Any, names: set[str]) -> None:
    """Add the names of the variables in a value (a list's and an object's too) to `names`."""
    if isinstance(node, VariableNode):
        names.add(node.name.value)
    elif isinstance(node, (ListValueNode, ObjectValueNode)):
        for child in node.values if isinstance(node, ListValueNode) else (f.value for f in node.fields):
            _variables_in(child, names)


def _nodes(node: Any) -> Iterator[Any]:
    """A definition and every selection under it."""
    yield node
    selection_set = getattr(node, "selection_set", None)  # none on a fragment spread
    for selection in selection_set.selections if selection_set is not None else ():
        yield from _nodes(selection)


class _CostCache:
    """Costs of recent (query, operation, variables the count reads), by digest: most requests repeat a few queries,
    and the variables that vary most (ids, inputs) leave the cost unchanged.

    A remembered cost is the cost of the same query with the same counted variables, whatever the other variables
    hold; were those invalid, the operation fails as it runs."""

    def __init__(self, size: int) -> None:
        self.entries: LruCache[tuple[tuple[int, bytes], bytes], int | None] = LruCache(size)
        self.inputs: LruCache[tuple[int, bytes], frozenset[str]] = LruCache(size)  # by schema and query digest
        self.lock = threading.Lock()  # one process may serve several apps, each on its own thread

    def cost(self, schema: GraphQLSchema, query: str, document: DocumentNode, operation_name: str | None,
             variables: Mapping[str, Any] | None) -> int | None:
        given = variables or {}
        # By digest, not by the text, which may be long. (A parsed query holds no lone surrogate: it encodes.)
        text = (id(schema), hashlib.blake2b(query.encode(), digest_size=16).digest())
        inputs = self._remembered(self.inputs, text, lambda: cost_inputs(document))
        counted = {name: given[name] for name in inputs if name in given}
        key = (text, hashlib.blake2b(_canonical([operation_name, counted]), digest_size=16).digest())
        return self._remembered(self.entries, key, lambda: operation_cost(schema, document, operation_name, variables))

    def _remembered(self, cache: LruCache[K, T], key: K, compute: Callable[[], T]) -> T:
        """`cache[key]`; when absent, computed (outside the lock) and kept."""
        with self.lock:
            try:
                return cache[key]
            except KeyError:
                pass
        value = compute()
        with self.lock:
            cache[key] = value
        return value


_CACHE = _CostCache(CACHE_SIZE)


def too_costly(cost: int, limit: int) -> GraphQLError:
    return GraphQLError(f"The query's cost is {cost}, over the limit of {limit}: ask for fewer items (`first`), "
                        "fewer nested lists or fewer aliases.",
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limit})


class CostBudget(SchemaExtension):
    """Refuse, before anything runs, an operation costing more than the request context's `max_cost`."""

    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        limit = ec.context.get(MAX_COST) if isinstance(ec.context, dict) else None
        if limit and ec.graphql_document is not None and ec.query is not None:
            cost = _CACHE.cost(ec.schema._schema, ec.query, ec.graphql_document, ec.operation_name, ec.variables)
            if cost is not None and cost > limit:
                ec.result = ExecutionResult(data=None, errors=[too_costly(cost, limit)])
        yield

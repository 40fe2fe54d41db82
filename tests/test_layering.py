"""The layers: imports point only down gateway -> schema -> resolvers -> datasources -> domain; backend field names
and query text live in `datasources/ctms/`, `datasources/crm/` (and the query builder) only.

The field-name check reads code, not prose: identifiers and string literals are checked (f-string parts included),
while comments, docstrings and GraphQL `description=` texts may name a backend field to explain the mapping (the
schema's descriptions are fixed by schema.graphql). A raw `Select` (the VQL/SOQL builder) may not be imported or
built outside those places either. (That the stand-ins import nothing of ours is tests/emulators/test_shape.py's.)"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("datasources", "domain", "gateway", "resolvers", "schema", "emulators")
# Where backend names belong: each backend's own package, the query builder, and the stand-ins.
ALLOWED = ("datasources/ctms/", "datasources/crm/", "datasources/query.py", "emulators/")
# Vault's `__v`, `__c`, `__sys`, `__clin` names; Veeva CRM's `_vod` picklist values (`Submitted_vod`), and its
# `__c` objects and fields (`Call2_vod__c`).
FIELD_NAME = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z][A-Za-z0-9_]*?(?:__v|__c|__sys|__clin|_vod)(?![A-Za-z0-9_])")
PROSE_KEYWORDS = frozenset({"description"})
# Top to bottom: a module may import its own package and those below it, never one above.
LAYERS = ("gateway", "schema", "resolvers", "datasources", "domain")
# Packages of ours outside the layers, and the layers that may import them: only the gateway starts the stand-ins
# (the demo, `ccgw emulate`); nothing imports the tests or the benchmarks.
OUTSIDE = {"emulators": {"gateway"}, "tests": set(), "bench": set()}


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of the string constants that are docstrings."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def _prose(tree: ast.AST) -> set[int]:
    """The ids of string constants given as `description=`: documentation shown to API users."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
            found.update(id(n) for n in ast.walk(node.value) if isinstance(n, ast.Constant))
    return found


def _identifiers(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        return [node.attr]
    if isinstance(node, ast.arg):
        return [node.arg]
    if isinstance(node, ast.keyword) and node.arg:
        return [node.arg]
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return [node.name]
    if isinstance(node, ast.alias):
        return [node.name, node.asname or ""]
    return []


def _raw_select(node: ast.AST) -> bool:
    if isinstance(node, ast.Call):
        func = node.func
        return (isinstance(func, ast.Name) and func.id == "Select") or \
            (isinstance(func, ast.Attribute) and func.attr == "Select")
    return isinstance(node, ast.ImportFrom) and any(a.name == "Select" for a in node.names)


def violations(source: str, where: str) -> list[str]:
    """Every backend field name or raw query in a module's code, as "where:line: what"."""
    tree = ast.parse(source)
    skip = _docstrings(tree) | _prose(tree)
    out = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            out += [f"{where}:{line}: {m}" for m in FIELD_NAME.findall(node.value)]
        out += [f"{where}:{line}: {name}" for name in _identifiers(node) if FIELD_NAME.fullmatch(name)]
        if _raw_select(node):
            out.append(f"{where}:{line}: Select")
    return out


def _modules() -> list[Path]:
    return sorted(p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")
                  if not p.relative_to(ROOT).as_posix().startswith(ALLOWED))


def test_modules_are_found() -> None:
    checked = {p.relative_to(ROOT).as_posix() for p in _modules()}
    assert {"datasources/loaders.py", "resolvers/delivery.py", "domain/status.py", "gateway/demo.py"} <= checked
    assert not any(p.startswith(("datasources/ctms/", "datasources/crm/", "emulators/")) for p in checked)


def test_no_backend_name_or_raw_query_outside_the_backends() -> None:
    found = [v for p in _modules() for v in violations(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert not found, "backend names or raw queries outside datasources/<backend>/:\n" + "\n".join(found)


@pytest.mark.parametrize(("code", "expected"), [
    ('rec.get("name__v")', "name__v"),
    ('status = "Submitted_vod"', "Submitted_vod"),
    ('sel = f"SELECT Id FROM {obj} WHERE Call2_vod__c = 1"', "Call2_vod__c"),
    ('fields = ["id", "object_type__v.api_name__v"]', "object_type__v"),
    ("x = rec.person__clin", "person__clin"),
    ("def f(user__sys): pass", "user__sys"),
    ('Select(m.person, ["id"])', "Select"),
    ("from datasources.query import Select", "Select"),
])
def test_the_check_finds(code: str, expected: str) -> None:
    assert any(v.endswith(f": {expected}") for v in violations(code, "m.py")), violations(code, "m.py")


@pytest.mark.parametrize("code", [
    '"""Reads name__v and Submitted_vod."""',
    'def f():\n    """The Call2_vod__c id."""\n',
    '# person__clin\nx = 1',
    'call_id = strawberry.field(description="The CRM call (Call2_vod__c) id.")',
    'kind = "CUSTOM" if name.endswith("__c") and not name.endswith("_vod__c") else "STANDARD"',
    "from datasources.query import In, Cmp",
])
def test_the_check_lets_prose_and_suffix_tests_be(code: str) -> None:
    assert violations(code, "m.py") == []


def upward_imports(source: str, where: str, layer: str) -> list[str]:
    """Every import in a module of `layer` (function-level ones too) of a layer above it, or of a package of ours
    outside the layers that it may not use, as "where:line: module"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            above = top in LAYERS and LAYERS.index(top) < LAYERS.index(layer)
            if above or (top in OUTSIDE and layer not in OUTSIDE[top]):
                found.append(f"{where}:{node.lineno}: {name}")
    return found


def test_imports_point_down_the_layers() -> None:
    found = [v for layer in LAYERS for p in sorted((ROOT / layer).rglob("*.py"))
             for v in upward_imports(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix(), layer)]
    assert not found, "imports against gateway -> schema -> resolvers -> datasources -> domain:\n" + "\n".join(found)


@pytest.mark.parametrize(("layer", "code", "expected"), [
    ("resolvers", "from schema.types import Person", ["m.py:1: schema.types"]),
    ("domain", "import datasources.query", ["m.py:1: datasources.query"]),
    ("datasources", "def f():\n    from resolvers import delivery", ["m.py:2: resolvers"]),
    ("schema", "from emulators.seed import build_world", ["m.py:1: emulators.seed"]),
    ("gateway", "from tests.conftest import Stack", ["m.py:1: tests.conftest"]),
    ("gateway", "from emulators.server import EmulatorServer", []),
    ("schema", "from resolvers.ids import raw_id\nfrom domain import Person\nimport strawberry", []),
    ("resolvers", "from resolvers.context import Services\nfrom . import ids", []),
])
def test_the_import_check_finds_upward_imports_only(layer: str, code: str, expected: list[str]) -> None:
    assert upward_imports(code, "m.py", layer) == expected

"""Size and shape of the code: every function does one job in at most MAX_LINES lines, every module says what it
holds in a docstring. (Which way imports point is tests/test_layering.py's; the stand-ins' docstrings are
tests/emulators/test_shape.py's.)"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 40
# Functions are held to MAX_LINES in these packages; the database migrations are a record of schema changes, kept
# as they were written.
SIZED = ("gateway", "schema", "resolvers", "datasources", "domain", "emulators")
NOT_SIZED = ("datasources/store/migrations/",)
DOCUMENTED = ("gateway", "schema", "resolvers", "datasources", "domain")


def _modules(packages: tuple[str, ...], skip: tuple[str, ...] = ()) -> list[Path]:
    return sorted(p for pkg in packages for p in (ROOT / pkg).rglob("*.py")
                  if not p.relative_to(ROOT).as_posix().startswith(skip))


def long_functions(source: str, where: str, max_lines: int = MAX_LINES) -> list[str]:
    """Every function or method (nested ones too) longer than `max_lines`, as "where:line name (n lines)"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > max_lines:
                found.append(f"{where}:{node.lineno} {node.name} ({lines} lines)")
    return found


def test_the_sized_modules_are_found() -> None:
    checked = {p.relative_to(ROOT).as_posix() for p in _modules(SIZED, NOT_SIZED)}
    assert {"resolvers/clinical_writes.py", "gateway/app.py", "emulators/seed.py", "datasources/store/repo.py"} \
        <= checked
    assert not any(p.startswith("datasources/store/migrations/") for p in checked)


def test_no_function_is_longer_than_the_limit() -> None:
    found = [f for p in _modules(SIZED, NOT_SIZED)
             for f in long_functions(p.read_text(encoding="utf-8"), p.relative_to(ROOT).as_posix())]
    assert not found, f"functions over {MAX_LINES} lines (split them, one job each):\n" + "\n".join(found)


def test_every_module_opens_with_a_docstring() -> None:
    missing = [p.relative_to(ROOT).as_posix() for p in _modules(DOCUMENTED)
               if ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) is None]
    assert not missing, "modules without a docstring:\n" + "\n".join(missing)


def _function(body_lines: int, *, is_async: bool = False, method: bool = False) -> str:
    head = ("async def" if is_async else "def") + " f():\n"
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines))
    if method:
        return "class C:\n" + "".join(f"    {line}\n" for line in (head + body).splitlines())
    return head + body


@pytest.mark.parametrize(("code", "expected"), [
    (_function(MAX_LINES), ["m.py:1 f (41 lines)"]),
    (_function(MAX_LINES, is_async=True), ["m.py:1 f (41 lines)"]),
    (_function(MAX_LINES, method=True), ["m.py:2 f (41 lines)"]),
    (_function(MAX_LINES - 1), []),
    ("@decorated\n" + _function(MAX_LINES - 1), []),  # the decorator is not counted
])
def test_the_length_check_counts_from_def_to_the_last_line(code: str, expected: list[str]) -> None:
    assert long_functions(code, "m.py") == expected

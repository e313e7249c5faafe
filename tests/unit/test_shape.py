"""The code's shape, as STANDARDS.md asks it: no function over 60 lines, no module docstring over
30 lines (a longer argument goes in docs/, linked), and no private (underscore) name imported
from another module. Checked for every package of ``src/s3ledger``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "s3ledger"
PACKAGES = sorted(path.name for path in SRC.iterdir() if (path / "__init__.py").is_file())
MAX_FUNCTION_LINES = 60
MAX_DOCSTRING_LINES = 30


def _modules(package: str) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted((SRC / package).rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("package", PACKAGES)
def test_no_function_is_over_sixty_lines(package: str) -> None:
    """Every function, decorators included, is at most 60 lines long."""
    long = [
        f"{path.relative_to(SRC)}:{node.lineno} {node.name} ({length} lines)"
        for path, tree in _modules(package)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and (
            length := (node.end_lineno or node.lineno) - node.lineno + 1 + len(node.decorator_list)
        )
        > MAX_FUNCTION_LINES
    ]
    assert long == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_docstring_is_over_thirty_lines(package: str) -> None:
    """A module's docstring is a short why-note; the argument lives in docs/."""
    long = []
    for path, tree in _modules(package):
        first = tree.body[0] if tree.body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            length = (first.end_lineno or first.lineno) - first.lineno + 1
            if isinstance(first.value.value, str) and length > MAX_DOCSTRING_LINES:
                long.append(f"{path.relative_to(SRC)} ({length} lines)")
    assert long == []


@pytest.mark.parametrize("package", PACKAGES)
def test_no_private_name_is_imported_from_another_module(package: str) -> None:
    """``from s3ledger.x import _name`` reaches past a module's boundary: the name is made
    public (in ``__all__``) or stays where it is used."""
    private = [
        f"{path.relative_to(SRC)}:{node.lineno} {alias.name} from {node.module}"
        for path, tree in _modules(package)
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("s3ledger")
        for alias in node.names
        if alias.name.startswith("_")
    ]
    assert private == []

"""The Amazon States Language's JSONPath subset the bulk state machine uses: reference paths
(``$``, ``$.a.b``, ``$$.Map.Item.Value``), payload templates (``"key.$": "$.path"``), the
``InputPath``/``ResultSelector``/``ResultPath``/``OutputPath`` chain, and Choice rules.

As the *Amazon States Language* specification and the Step Functions Developer Guide's "Input and
output processing" describe them, restricted to what ``template.yaml``'s definition uses: a path
outside the subset (filters, wildcards, array slices) raises :class:`UnsupportedDefinition`
rather than being read another way. A path that names a missing field raises
``States.Runtime``, as Step Functions does.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = [
    "StatesError",
    "UnsupportedDefinition",
    "apply_result",
    "choose",
    "fill",
    "read_path",
]

_PATH: Final = re.compile(r"\$\$?(\.[A-Za-z_][A-Za-z0-9_]*)*")
_MISSING: Final = object()


class UnsupportedDefinition(Exception):
    """The definition uses something the stand-in does not execute (it refuses, never guesses)."""


class StatesError(Exception):
    """A Step Functions error, by name (``States.Runtime``, ``BatchRetryableError``, ...)."""

    def __init__(self, name: str, cause: str) -> None:
        super().__init__(f"{name}: {cause}")
        self.name = name
        self.cause = cause


def _lookup(document: Any, path: str) -> Any:
    if not _PATH.fullmatch(path):
        raise UnsupportedDefinition(f"path {path!r} is outside the stand-in's JSONPath subset")
    node = document
    for name in path.lstrip("$").split(".")[1:]:
        node = node.get(name, _MISSING) if isinstance(node, Mapping) else _MISSING
        if node is _MISSING:
            return _MISSING
    return node


def read_path(path: str, document: Any, context: Mapping[str, Any]) -> Any:
    """The value at ``path`` (``$$`` paths read the context object)."""
    value = _lookup(context if path.startswith("$$") else document, path)
    if value is _MISSING:
        raise StatesError("States.Runtime", f"the JSONPath {path!r} could not be found")
    return copy.deepcopy(value)


def is_present(path: str, document: Any) -> bool:
    return _lookup(document, path) is not _MISSING


def fill(template: Any, document: Any, context: Mapping[str, Any]) -> Any:
    """A payload template with each ``"key.$": path`` replaced by ``"key": value``."""
    if isinstance(template, Mapping):
        filled: dict[str, Any] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or value.startswith("States."):
                    raise UnsupportedDefinition(f"{key}: intrinsic functions are not supported")
                filled[key[:-2]] = read_path(value, document, context)
            else:
                filled[key] = fill(value, document, context)
        return filled
    if isinstance(template, list):
        return [fill(item, document, context) for item in template]
    return template


def _put(document: Any, path: str, value: Any) -> Any:
    """``document`` with ``value`` placed at ``path`` (a ResultPath)."""
    if path == "$":
        return value
    if not _PATH.fullmatch(path) or path.startswith("$$"):
        raise UnsupportedDefinition(f"ResultPath {path!r} is outside the stand-in's subset")
    root = copy.deepcopy(document) if isinstance(document, dict) else {}
    node = root
    names = path.split(".")[1:]
    for name in names[:-1]:
        node = node.setdefault(name, {})
    node[names[-1]] = value
    return root


def apply_result(state: Mapping[str, Any], raw_input: Any, result: Any, context: Any) -> Any:
    """ResultSelector, ResultPath and OutputPath, in that order (``raw_input``: the state's
    input before its InputPath, which ResultPath writes into)."""
    if "ResultSelector" in state:
        result = fill(state["ResultSelector"], result, context)
    result_path = state.get("ResultPath", "$")
    output = raw_input if result_path is None else _put(raw_input, result_path, result)
    output_path = state.get("OutputPath", "$")
    return output if output_path is None else read_path(output_path, output, context)


_COMPARISONS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
    "NumericEquals": lambda a, b: isinstance(a, int | float) and a == b,
}


def _matches(rule: Mapping[str, Any], document: Any, context: Mapping[str, Any]) -> bool:
    if "Not" in rule:
        return not _matches(rule["Not"], document, context)
    if "And" in rule:
        return all(_matches(r, document, context) for r in rule["And"])
    if "Or" in rule:
        return any(_matches(r, document, context) for r in rule["Or"])
    variable = rule["Variable"]
    if "IsPresent" in rule:
        return is_present(variable, document) is bool(rule["IsPresent"])
    for operator, compare in _COMPARISONS.items():
        if operator in rule:
            return bool(compare(read_path(variable, document, context), rule[operator]))
    raise UnsupportedDefinition(f"Choice rule {sorted(rule)} is not supported")


def choose(state: Mapping[str, Any], document: Any, context: Mapping[str, Any]) -> str:
    """The next state of a Choice state for ``document``."""
    for rule in state.get("Choices", []):
        if _matches(rule, document, context):
            return str(rule["Next"])
    if "Default" not in state:
        raise StatesError("States.NoChoiceMatched", "no Choice rule matched and no Default")
    return str(state["Default"])

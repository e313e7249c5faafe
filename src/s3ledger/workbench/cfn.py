"""CloudFormation as the workbench reads it: short-form tags and the few intrinsics it resolves.

PyYAML's SafeLoader cannot read ``!Ref`` and friends; :class:`CfnLoader` turns each short-form tag
into its long form (``{"Ref": x}``). :class:`Template` then resolves what the template's names
need, and nothing more: ``Ref`` to a parameter, to ``AWS::StackName`` or to a table (its resolved
``TableName``); ``Fn::Sub`` over those; ``Fn::Join`` of literals or of a list parameter; ``Fn::If``
on conditions built from ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition``.
Anything else is a :class:`TemplateError` that names the property.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

__all__ = ["CfnLoader", "Template", "TemplateError", "properties"]

# ${Name} or ${!Literal} in an Fn::Sub string.
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")


class TemplateError(Exception):
    """``template.yaml`` is missing, unreadable, or lacks a setting the workbench needs."""


# ---------------------------------------------------------------------------------------- YAML


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns CloudFormation short-form tags into their long form."""


def _construct_tag(loader: yaml.SafeLoader, name: str, node: yaml.Node) -> Any:
    key = "Ref" if name == "Ref" else "Condition" if name == "Condition" else f"Fn::{name}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if name == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    elif isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    else:  # pragma: no cover - PyYAML has no other node kinds
        raise TemplateError(f"unsupported YAML node for !{name}")
    return {key: value}


_TAGS = (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "Select",
    "Join",
    "Split",
    "FindInMap",
    "Condition",
    "And",
    "Or",
    "ImportValue",
    "GetAZs",
    "Base64",
    "Cidr",
)


def _constructor(tag: str) -> Callable[[yaml.SafeLoader, yaml.Node], Any]:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        return _construct_tag(loader, tag, node)

    return construct


for _tag in _TAGS:
    CfnLoader.add_constructor(f"!{_tag}", _constructor(_tag))


# ---------------------------------------------------------------------------------- resolution


class Template:
    """The parsed template plus resolved parameter values."""

    def __init__(
        self, document: Mapping[str, Any], overrides: Mapping[str, str], stack_name: str
    ) -> None:
        resources = document.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise TemplateError("template has no Resources section")
        self.resources: dict[str, Any] = resources
        declared = document.get("Parameters") or {}
        if not isinstance(declared, dict):
            raise TemplateError("template's Parameters section is not a mapping")
        conditions = document.get("Conditions") or {}
        if not isinstance(conditions, dict):
            raise TemplateError("template's Conditions section is not a mapping")
        self.conditions: dict[str, Any] = conditions
        self.parameters = _parameter_values(declared, overrides)
        self.list_parameters = {
            name
            for name, definition in declared.items()
            if str(definition.get("Type", "")).startswith(("CommaDelimitedList", "List<"))
        }
        self.stack_name = stack_name
        self._truth: dict[str, bool | None] = {}  # None: being evaluated (a cycle)

    def resolve(self, value: Any, where: str) -> str:
        """A literal, or an intrinsic this module resolves (see the module's docstring)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref":
                return self._ref(argument, where)
            if function == "Fn::If":
                return self._if(argument, where)
            if function == "Fn::Sub":
                return self._sub(argument, where)
            if function == "Fn::Join":
                return self._join(argument, where)
        raise TemplateError(
            f"{where}: cannot resolve {value!r} (the workbench resolves literals, Ref to a "
            "parameter, AWS::StackName or a table, Fn::Sub, Fn::Join and Fn::If)"
        )

    def resolve_int(self, value: Any, where: str) -> int:
        text = self.resolve(value, where)
        try:
            return int(text)
        except ValueError:
            raise TemplateError(f"{where}: {text!r} is not an integer") from None

    def _ref(self, name: Any, where: str) -> str:
        if name == "AWS::StackName":
            return self.stack_name
        if isinstance(name, str) and name in self.parameters:
            return self.parameters[name]
        resource = self.resources.get(name) if isinstance(name, str) else None
        if isinstance(resource, dict) and resource.get("Type") == "AWS::DynamoDB::Table":
            table_name = properties(resource, f"table {name}").get("TableName")
            return self.resolve(table_name, f"table {name} TableName")
        raise TemplateError(
            f"{where}: Ref to {name!r}, which is not a parameter, AWS::StackName or a table"
        )

    def _if(self, argument: Any, where: str) -> str:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise TemplateError(f"{where}: Fn::If takes [condition, if true, if false]")
        condition, if_true, if_false = argument
        return self.resolve(if_true if self.condition(condition, where) else if_false, where)

    def _sub(self, argument: Any, where: str) -> str:
        variables: Mapping[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, variables = argument
        if not isinstance(argument, str):
            raise TemplateError(f"{where}: Fn::Sub takes a string or [string, variables]")

        def substitute(match: re.Match[str]) -> str:
            literal, name = match.groups()
            if literal:
                return f"${{{name}}}"
            if name in variables:
                return self.resolve(variables[name], where)
            return self._ref(name, f"{where} (${{{name}}})")

        return _SUB_VARIABLE.sub(substitute, argument)

    def _join(self, argument: Any, where: str) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"{where}: Fn::Join takes [delimiter, values]")
        delimiter, values = argument
        if isinstance(values, dict) and set(values) == {"Ref"}:
            if values["Ref"] not in self.list_parameters:
                raise TemplateError(f"{where}: Fn::Join of {values!r}, which is not a list")
            items = self.parameters[values["Ref"]].split(",")
        elif isinstance(values, list):
            items = [self.resolve(item, where) for item in values]
        else:
            raise TemplateError(f"{where}: Fn::Join of {values!r}, which is not a list")
        return self.resolve(delimiter, where).join(items)

    def condition(self, name: Any, where: str) -> bool:
        """The truth of the template's condition ``name``."""
        if not isinstance(name, str) or name not in self.conditions:
            raise TemplateError(f"{where}: no condition named {name!r}")
        if name not in self._truth:
            self._truth[name] = None
            self._truth[name] = self._evaluate(self.conditions[name], f"{where}: condition {name}")
        truth = self._truth[name]
        if truth is None:
            raise TemplateError(f"{where}: condition {name!r} refers to itself")
        return truth

    def _evaluate(self, expression: Any, where: str) -> bool:
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Condition":
                return self.condition(argument, where)
            if isinstance(argument, list):
                if function == "Fn::Equals" and len(argument) == 2:
                    return self.resolve(argument[0], where) == self.resolve(argument[1], where)
                if function == "Fn::Not" and len(argument) == 1:
                    return not self._evaluate(argument[0], where)
                if function == "Fn::And":
                    return all(self._evaluate(item, where) for item in argument)
                if function == "Fn::Or":
                    return any(self._evaluate(item, where) for item in argument)
        raise TemplateError(
            f"{where}: cannot evaluate {expression!r} (the workbench evaluates Fn::Equals, "
            "Fn::Not, Fn::And, Fn::Or and Condition)"
        )

    def of_type(self, *types: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.resources.items()
            if isinstance(resource, dict) and resource.get("Type") in types
        }

    def resource(self, logical_id: str, where: str) -> dict[str, Any]:
        found = self.resources.get(logical_id)
        if not isinstance(found, dict):
            raise TemplateError(f"{where}: no resource named {logical_id!r}")
        return found


def _parameter_values(declared: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"overrides name unknown parameters: {', '.join(unknown)}")
    values: dict[str, str] = {}
    for name, definition in declared.items():
        if not isinstance(definition, dict):
            raise TemplateError(f"parameter {name!r} is not a mapping")
        if name in overrides:
            value = str(overrides[name])
            allowed = definition.get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name!r}: {value!r} is not one of {allowed}")
            values[name] = value
        elif "Default" in definition:
            values[name] = str(definition["Default"])
    return values


def properties(resource: Mapping[str, Any], where: str) -> dict[str, Any]:
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        raise TemplateError(f"{where} has no Properties")
    return properties

"""CloudFormation as the workbench reads it: short-form tags and the few intrinsics it resolves.

PyYAML's SafeLoader cannot read ``!Ref`` and friends; :class:`CfnLoader` turns each short-form tag
into its long form (``{"Ref": x}``). :class:`Template` then resolves what the template's names
need, and nothing more: ``Ref`` to a parameter, to a pseudo parameter (``AWS::StackName``,
``AWS::Region``, ``AWS::AccountId``, ``AWS::Partition``) or to a table (its resolved
``TableName``); ``Fn::Sub`` over those; ``Fn::Join`` of literals or of a list parameter; ``Fn::If``
on conditions built from ``Fn::Equals``, ``Fn::Not``, ``Fn::And``, ``Fn::Or`` and ``Condition``.
Where the caller names what other resources are on the workbench (:attr:`Template.physical` for
``Ref``, :attr:`Template.attributes` for ``Fn::GetAtt`` and ``${X.Attr}``), those resolve too, and
:meth:`Template.resolve_tree` resolves a whole property tree (``AWS::NoValue`` removes its key).
Anything else is a :class:`TemplateError` that names the property.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import yaml

__all__ = ["PSEUDO_PARAMETERS", "CfnLoader", "Template", "TemplateError", "properties"]

# ${Name} or ${!Literal} in an Fn::Sub string.
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")

# What the workbench's pseudo parameters resolve to: moto's account and region, AWS's partition.
PSEUDO_PARAMETERS: Mapping[str, str] = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}
# Ref AWS::NoValue: the property it stands in is left out (resolve_tree drops it).
_NO_VALUE = object()


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
        self.document = document
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
        # Physical ids (Ref) and attributes (Fn::GetAtt "X.Attr") of resources the caller made.
        self.physical: dict[str, str] = {}
        self.attributes: dict[str, str] = {}
        self._truth: dict[str, bool | None] = {}  # None: being evaluated (a cycle)

    def resolve(self, value: Any, where: str) -> str:
        """A literal, or an intrinsic this module resolves (see the module's docstring)."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            intrinsics: dict[str, Callable[[Any, str], str]] = {
                "Ref": self._ref,
                "Fn::If": self._if,
                "Fn::Sub": self._sub,
                "Fn::Join": self._join,
                "Fn::GetAtt": self._get_att_of,
            }
            if function in intrinsics:
                return intrinsics[function](argument, where)
        raise TemplateError(
            f"{where}: cannot resolve {value!r} (the workbench resolves literals, Ref to a "
            "parameter, a pseudo parameter, a table or a resource it made, Fn::GetAtt, "
            "Fn::Sub, Fn::Join and Fn::If)"
        )

    def resolve_tree(self, value: Any, where: str) -> Any:
        """``value`` with every intrinsic in it resolved (scalars stay as they are); a property
        whose value is ``Ref AWS::NoValue`` (or an ``Fn::If`` branch of it) is left out."""
        resolved = self._tree(value, where)
        if resolved is _NO_VALUE:
            raise TemplateError(f"{where}: the whole value is AWS::NoValue")
        return resolved

    def _tree(self, value: Any, where: str) -> Any:
        if isinstance(value, dict) and len(value) == 1:
            ((function, argument),) = value.items()
            if function == "Ref" and argument == "AWS::NoValue":
                return _NO_VALUE
            if function == "Fn::If":
                if not (isinstance(argument, list) and len(argument) == 3):
                    raise TemplateError(f"{where}: Fn::If takes [condition, if true, if false]")
                chosen = argument[1] if self.condition(argument[0], where) else argument[2]
                return self._tree(chosen, where)
            if function == "Ref" or function.startswith("Fn::"):
                return self.resolve(value, where)
        if isinstance(value, dict):
            fields = {key: self._tree(item, f"{where}.{key}") for key, item in value.items()}
            return {key: item for key, item in fields.items() if item is not _NO_VALUE}
        if isinstance(value, list):
            items = [self._tree(item, f"{where}[{i}]") for i, item in enumerate(value)]
            return [item for item in items if item is not _NO_VALUE]
        return value

    def _get_att_of(self, argument: Any, where: str) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise TemplateError(f"{where}: Fn::GetAtt takes [resource, attribute]")
        return self._get_att(f"{argument[0]}.{argument[1]}", where)

    def _get_att(self, name: str, where: str) -> str:
        if name in self.attributes:
            return self.attributes[name]
        raise TemplateError(
            f"{where}: cannot resolve Fn::GetAtt {name} (not an attribute of a resource the "
            "workbench made)"
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
        if isinstance(name, str) and name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        resource = self.resources.get(name) if isinstance(name, str) else None
        if isinstance(resource, dict) and resource.get("Type") == "AWS::DynamoDB::Table":
            table_name = properties(resource, f"table {name}").get("TableName")
            return self.resolve(table_name, f"table {name} TableName")
        if isinstance(name, str) and name in self.physical:
            return self.physical[name]
        raise TemplateError(
            f"{where}: Ref to {name!r}, which is not a parameter, a pseudo parameter, a table "
            "or a resource the workbench made"
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
            if "." in name:  # ${Resource.Attribute}: Fn::GetAtt's short form
                return self._get_att(name, f"{where} (${{{name}}})")
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

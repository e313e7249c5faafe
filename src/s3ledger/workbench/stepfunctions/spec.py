"""The bulk state machine as ``template.yaml`` declares it: its name, its own definition, what its
``DefinitionSubstitutions`` name, and the bulk function's handler, timeout and limits.

Nothing is restated: the stand-in runs this very definition, after the substitutions
CloudFormation would make (``${BulkFunctionArn}``, ``${ResultsBucket}``) with the workbench's
function and bucket.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from s3ledger.core.config import DEFAULT_STACK_NAME
from s3ledger.pipeline.bulk.handler import BulkLimits
from s3ledger.workbench.cfn import CfnLoader, Template, TemplateError, properties
from s3ledger.workbench.template import DEFAULT_TEMPLATE_PATH

__all__ = ["BulkSpec", "load_bulk_spec", "substitute"]

Substitution = tuple[Literal["function", "bucket", "value"], str]


@dataclass(frozen=True)
class BulkSpec:
    """The state machine (``definition`` still holds its ``${...}`` placeholders)."""

    state_machine_name: str
    definition: Mapping[str, Any]
    substitutions: Mapping[str, Substitution]
    function_name: str
    handler: str
    timeout: int
    memory_mb: int
    limits: BulkLimits


def substitute(definition: Mapping[str, Any], values: Mapping[str, str]) -> dict[str, Any]:
    """``definition`` with each ``${Name}`` replaced, as CloudFormation does in the string."""
    text = json.dumps(definition)
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    document = json.loads(text)
    assert isinstance(document, dict)  # noqa: S101 -- a mapping stays a mapping
    return document


def _substitution(template: Template, name: str, value: Any) -> Substitution:
    where = f"state machine substitution {name}"
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "function", str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value and value["Ref"] in template.resources:
        return "bucket", str(value["Ref"])
    return "value", template.resolve(value, where)


def _limits(template: Template, variables: Mapping[str, Any], where: str) -> BulkLimits:
    resolved = {str(k): template.resolve(v, f"{where} {k}") for k, v in variables.items()}
    return BulkLimits.from_env(resolved)


def load_bulk_spec(
    path: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> BulkSpec:
    """Read the one ``AWS::Serverless::StateMachine`` of the template and its Lambda function."""
    template_path = DEFAULT_TEMPLATE_PATH if path is None else path
    document = yaml.load(template_path.read_text(encoding="utf-8"), Loader=CfnLoader)  # noqa: S506 -- a SafeLoader subclass
    template = Template(document, overrides or {}, stack_name)
    machines = template.of_type("AWS::Serverless::StateMachine")
    if len(machines) != 1:
        raise TemplateError(f"{template_path}: expected one state machine, found {len(machines)}")
    ((logical_id, resource),) = machines.items()
    props = properties(resource, f"state machine {logical_id}")
    substitutions = {
        str(name): _substitution(template, str(name), value)
        for name, value in (props.get("DefinitionSubstitutions") or {}).items()
    }
    functions = [target for kind, target in substitutions.values() if kind == "function"]
    if len(functions) != 1:
        raise TemplateError(f"{template_path}: the state machine must name one function")
    where = f"function {functions[0]}"
    function = properties(template.resource(functions[0], where), where)
    variables = (function.get("Environment") or {}).get("Variables") or {}
    return BulkSpec(
        state_machine_name=template.resolve(props.get("Name"), f"{logical_id} Name"),
        definition=props["Definition"],
        substitutions=substitutions,
        function_name=f"{stack_name}-bulk",
        handler=template.resolve(function.get("Handler"), f"{where} Handler"),
        timeout=template.resolve_int(function.get("Timeout", 3), f"{where} Timeout"),
        memory_mb=template.resolve_int(function.get("MemorySize", 128), f"{where} MemorySize"),
        limits=_limits(template, variables, where),
    )

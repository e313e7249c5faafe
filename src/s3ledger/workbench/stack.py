"""The workbench's pipeline as a CloudFormation stack, so that it is found by name as on AWS.

``sam deploy`` leaves a stack whose outputs and parameters name everything the operator commands
need (``--stack NAME``: :mod:`s3ledger.operate.stack`). ``s3ledger up`` makes its pipeline from
the template on DynamoDB Local and moto instead (:mod:`s3ledger.workbench.provision`), and then
creates, in moto's CloudFormation, a stack of the same name holding what can be described there:

* **Parameters**: every parameter of ``template.yaml``, with the value the workbench used;
* **Outputs**: every output of ``template.yaml``, resolved against what the workbench made (its
  bucket, queues, tables, the runner's function name); an output that refers to something the
  workbench does not make is left out, and :func:`create_workbench_stack` returns its name;
* **Resources**: the template's CloudWatch alarms and dashboard, resolved the same way (moto
  creates them; :mod:`s3ledger.workbench.moto_cloudwatch` makes it create the alarms).

The tables, queues and bucket themselves are not in it: they live where the workbench made them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from s3ledger.workbench.cfn import Template, TemplateError, properties
from s3ledger.workbench.provision import Resources
from s3ledger.workbench.template import PipelineSpec

__all__ = ["STACK_RESOURCE_TYPES", "StackBody", "create_workbench_stack", "workbench_stack_body"]

STACK_RESOURCE_TYPES: Final = ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::Dashboard")
"""The template's resources that the workbench's stack holds."""


@dataclass(frozen=True)
class StackBody:
    """A stack's template and parameter values, and the template's outputs and resources that
    could not be described on the workbench."""

    template: dict[str, Any]
    parameters: dict[str, str]
    left_out: tuple[str, ...]


def _name_workbench_resources(
    template: Template, spec: PipelineSpec, resources: Resources, where: Mapping[str, str]
) -> None:
    """Tell ``template`` the physical ids and attributes of what the workbench made."""
    ids = spec.logical_ids
    queue_name = resources.queue_url.rsplit("/", 1)[1]
    dlq_name = resources.dlq_url.rsplit("/", 1)[1]
    template.physical.update(
        {
            ids["bucket"]: resources.bucket,
            ids["queue"]: resources.queue_url,
            ids["dlq"]: resources.dlq_url,
            ids["function"]: where["function_name"],
        }
    )
    template.attributes.update(
        {
            f"{ids['bucket']}.Arn": f"arn:aws:s3:::{resources.bucket}",
            f"{ids['queue']}.Arn": where["queue_arn"],
            f"{ids['queue']}.QueueName": queue_name,
            f"{ids['dlq']}.Arn": where["dlq_arn"],
            f"{ids['dlq']}.QueueName": dlq_name,
        }
    )
    for logical_id, resource in template.of_type("AWS::CloudWatch::Dashboard").items():
        name = properties(resource, f"dashboard {logical_id}").get("DashboardName")
        template.physical[logical_id] = template.resolve(name, f"dashboard {logical_id}")


def _enabled(template: Template, definition: Mapping[str, Any], where: str) -> bool:
    condition = definition.get("Condition")
    return condition is None or template.condition(condition, where)


def workbench_stack_body(
    template: Template,
    spec: PipelineSpec,
    resources: Resources,
    *,
    function_name: str,
    queue_arn: str,
    dlq_arn: str,
    also_made: Mapping[str, str] | None = None,
) -> StackBody:
    """The stack that describes the workbench's pipeline (see the module's docstring);
    ``also_made`` gives the physical ids of other resources the workbench made, by logical id
    (the bulk state machine's stand-in)."""
    _name_workbench_resources(
        template,
        spec,
        resources,
        {"function_name": function_name, "queue_arn": queue_arn, "dlq_arn": dlq_arn},
    )
    template.physical.update(also_made or {})
    left_out: list[str] = []
    body_resources: dict[str, Any] = {}
    for logical_id, resource in template.of_type(*STACK_RESOURCE_TYPES).items():
        where = f"resource {logical_id}"
        if not _enabled(template, resource, where):
            continue
        try:
            resolved = template.resolve_tree(properties(resource, where), where)
        except TemplateError:
            left_out.append(logical_id)
            continue
        body_resources[logical_id] = {"Type": resource["Type"], "Properties": resolved}
    outputs: dict[str, Any] = {}
    for key, output in (template.document.get("Outputs") or {}).items():
        where = f"output {key}"
        if not _enabled(template, output, where):
            continue
        try:
            value = template.resolve(output.get("Value"), where)
        except TemplateError:
            left_out.append(key)
            continue
        outputs[key] = {"Value": value, "Description": str(output.get("Description", ""))}
    body = {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "s3ledger workbench: what `s3ledger up` made, described as on AWS",
        "Parameters": {name: {"Type": "String"} for name in template.parameters},
        "Resources": body_resources,
        "Outputs": outputs,
    }
    return StackBody(body, dict(template.parameters), tuple(left_out))


def create_workbench_stack(cloudformation: Any, name: str, body: StackBody) -> str:
    """Create (or replace) the stack ``name`` in moto's CloudFormation; its id."""
    existing = cloudformation.list_stacks(StackStatusFilter=["CREATE_COMPLETE"])
    if any(s["StackName"] == name for s in existing.get("StackSummaries", [])):
        cloudformation.delete_stack(StackName=name)
    answer = cloudformation.create_stack(
        StackName=name,
        TemplateBody=json.dumps(body.template),
        Parameters=[
            {"ParameterKey": key, "ParameterValue": value} for key, value in body.parameters.items()
        ],
    )
    return str(answer["StackId"])

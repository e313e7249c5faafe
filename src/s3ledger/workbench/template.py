"""Read the pipeline's settings from ``template.yaml``, the single source of truth.

The workbench provisions tables, queues and the event source from what the SAM template says, so
nothing restates a key name, a TTL attribute or a batch size. This module reads the template with
PyYAML (CloudFormation short-form tags such as ``!Ref`` become their long form, ``{"Ref": x}``),
substitutes parameter defaults (or caller overrides) and returns frozen dataclasses.

It resolves what the template's names need, and nothing more: ``Ref`` to a parameter, to
``AWS::StackName`` (the caller's stack name, :data:`DEFAULT_STACK_NAME` unless given) or to a
table (its resolved ``TableName``); ``Fn::Sub`` over those; ``Fn::Join`` of literals or of a list
parameter; ``Fn::If`` on conditions built from ``Fn::Equals``, ``Fn::Not``, ``Fn::And``,
``Fn::Or`` and ``Condition``. Anything else is a :class:`TemplateError` that names the property.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

from s3ledger.core.config import DEFAULT_STACK_NAME

__all__ = [
    "DEFAULT_STACK_NAME",
    "DEFAULT_TEMPLATE_PATH",
    "FunctionSpec",
    "NotificationSpec",
    "PipelineSpec",
    "QueueSpec",
    "TableSpec",
    "TemplateError",
    "load_pipeline_spec",
]

# src/s3ledger/local/template.py -> the repository root.
DEFAULT_TEMPLATE_PATH = Path(__file__).resolve().parents[3] / "template.yaml"

# Which table plays which role: the function's variable that names it (``!Ref <Table>``).
_TABLE_ROLES = {
    "S3LEDGER_LEDGER_TABLE": "ledger",
    "S3LEDGER_AUDIT_TABLE": "audit",
    "S3LEDGER_IDEMPOTENCY_TABLE": "idempotency",
}

# ${Name} or ${!Literal} in an Fn::Sub string.
_SUB_VARIABLE = re.compile(r"\$\{(!?)([^}]*)\}")

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


class TemplateError(Exception):
    """``template.yaml`` is missing, unreadable, or lacks a setting the workbench needs."""


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table: its name, partition key, TTL attribute and stream view type."""

    logical_id: str
    name: str
    hash_key: str
    ttl_attribute: str | None
    stream_view_type: str | None


@dataclass(frozen=True)
class QueueSpec:
    """The events queue: visibility timeout, redrive threshold and retention, in seconds."""

    visibility_timeout: int
    max_receive_count: int
    message_retention_seconds: int | None


@dataclass(frozen=True)
class FunctionSpec:
    """The Lambda function and its SQS event source mapping."""

    handler: str
    timeout: int
    batch_size: int
    maximum_batching_window: int
    report_batch_item_failures: bool
    environment: dict[str, str]


@dataclass(frozen=True)
class NotificationSpec:
    """The S3 event types the bucket sends to the queue (e.g. ``s3:ObjectCreated:*``)."""

    events: tuple[str, ...]


@dataclass(frozen=True)
class PipelineSpec:
    """Everything the workbench reads from the template.

    ``tables`` is keyed by role: ``"ledger"``, ``"audit"``, ``"idempotency"``. ``bucket_name`` is
    ``None`` when the template generates the name (the ``BucketName`` parameter is empty).
    ``stack_name`` is what ``AWS::StackName`` resolved to.
    """

    tables: dict[str, TableSpec]
    queue: QueueSpec
    dlq_retention_seconds: int | None
    function: FunctionSpec
    notification: NotificationSpec
    versioning: bool
    bucket_name: str | None
    parameters: dict[str, str]
    stack_name: str = DEFAULT_STACK_NAME

    def without_streams(self) -> PipelineSpec:
        """This spec with no table stream (for runs that never read the streams)."""
        return replace(
            self,
            tables={
                role: replace(table, stream_view_type=None) for role, table in self.tables.items()
            },
        )


# ---------------------------------------------------------------------------------------- YAML


class _CfnLoader(yaml.SafeLoader):
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
    _CfnLoader.add_constructor(f"!{_tag}", _constructor(_tag))


# ---------------------------------------------------------------------------------- resolution


class _Template:
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
            table_name = _properties(resource, f"table {name}").get("TableName")
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


def _properties(resource: Mapping[str, Any], where: str) -> dict[str, Any]:
    properties = resource.get("Properties")
    if not isinstance(properties, dict):
        raise TemplateError(f"{where} has no Properties")
    return properties


def _getatt_target(value: Any, where: str) -> str:
    """The logical id of ``!GetAtt X.Arn`` (or ``!Ref X``)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    raise TemplateError(f"{where}: expected !GetAtt <Resource>.Arn, got {value!r}")


# ------------------------------------------------------------------------------------- readers


def _tables(template: _Template, variables: Mapping[str, Any]) -> dict[str, TableSpec]:
    """The tables the function's variables name (``S3LEDGER_LEDGER_TABLE: !Ref LedgerTable``)."""
    tables: dict[str, TableSpec] = {}
    for variable, role in _TABLE_ROLES.items():
        value = variables.get(variable)
        logical_id = value.get("Ref") if isinstance(value, dict) and set(value) == {"Ref"} else None
        resource = template.resources.get(logical_id) if isinstance(logical_id, str) else None
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        where = f"table {logical_id}"
        props = _properties(resource, where)
        hash_keys = [
            k.get("AttributeName")
            for k in props.get("KeySchema") or []
            if isinstance(k, dict) and k.get("KeyType") == "HASH"
        ]
        if len(hash_keys) != 1 or not isinstance(hash_keys[0], str):
            raise TemplateError(f"{where}: KeySchema needs exactly one HASH key")
        ttl = props.get("TimeToLiveSpecification")
        ttl_attribute = None
        if isinstance(ttl, dict) and template.resolve(ttl.get("Enabled", False), where) == "true":
            ttl_attribute = template.resolve(ttl.get("AttributeName"), f"{where} TTL")
        stream = props.get("StreamSpecification")
        stream_view_type = (
            template.resolve(stream.get("StreamViewType"), f"{where} stream")
            if isinstance(stream, dict)
            else None
        )
        tables[role] = TableSpec(
            logical_id=str(logical_id),
            name=template.resolve(props.get("TableName"), f"{where} TableName"),
            hash_key=hash_keys[0],
            ttl_attribute=ttl_attribute,
            stream_view_type=stream_view_type,
        )
    missing = sorted(set(_TABLE_ROLES.values()) - set(tables))
    if missing:
        wanted = {role: variable for variable, role in _TABLE_ROLES.items()}
        names = ", ".join(
            f"{role} (function variable {wanted[role]}: !Ref <Table>)" for role in missing
        )
        raise TemplateError(f"template has no table for: {names}")
    return tables


def _function(template: _Template) -> tuple[str, FunctionSpec, dict[str, Any]]:
    """The function with an SQS event source, its queue's logical id, its raw variables."""
    for logical_id, resource in template.of_type(*_FUNCTION_TYPES).items():
        props = _properties(resource, f"function {logical_id}")
        events = props.get("Events") or {}
        for event_name, event in events.items():
            if not isinstance(event, dict) or event.get("Type") != "SQS":
                continue
            where = f"function {logical_id} event {event_name}"
            source = event.get("Properties") or {}
            variables = (props.get("Environment") or {}).get("Variables") or {}
            spec = FunctionSpec(
                handler=template.resolve(props.get("Handler"), f"function {logical_id} Handler"),
                timeout=template.resolve_int(
                    props.get("Timeout", 3), f"function {logical_id} Timeout"
                ),
                batch_size=template.resolve_int(source.get("BatchSize", 10), f"{where} BatchSize"),
                maximum_batching_window=template.resolve_int(
                    source.get("MaximumBatchingWindowInSeconds", 0),
                    f"{where} MaximumBatchingWindowInSeconds",
                ),
                report_batch_item_failures="ReportBatchItemFailures"
                in (source.get("FunctionResponseTypes") or []),
                environment={
                    str(k): template.resolve(v, f"function {logical_id} environment {k}")
                    for k, v in variables.items()
                },
            )
            return _getatt_target(source.get("Queue"), f"{where} Queue"), spec, variables
    raise TemplateError("template has no function with an SQS event source (Events: Type: SQS)")


def _queue(template: _Template, logical_id: str) -> tuple[QueueSpec, int | None]:
    where = f"queue {logical_id}"
    props = _properties(template.resource(logical_id, where), where)
    redrive = props.get("RedrivePolicy")
    if not isinstance(redrive, dict):
        raise TemplateError(f"{where} has no RedrivePolicy (a dead-letter queue is required)")
    dlq_id = _getatt_target(redrive.get("deadLetterTargetArn"), f"{where} deadLetterTargetArn")
    dlq_props = _properties(template.resource(dlq_id, f"{where} DLQ"), f"queue {dlq_id}")
    dlq_retention = dlq_props.get("MessageRetentionPeriod")
    retention = props.get("MessageRetentionPeriod")
    spec = QueueSpec(
        visibility_timeout=template.resolve_int(
            props.get("VisibilityTimeout", 30), f"{where} VisibilityTimeout"
        ),
        max_receive_count=template.resolve_int(
            redrive.get("maxReceiveCount"), f"{where} maxReceiveCount"
        ),
        message_retention_seconds=(
            None
            if retention is None
            else template.resolve_int(retention, f"{where} MessageRetentionPeriod")
        ),
    )
    return spec, (
        None
        if dlq_retention is None
        else template.resolve_int(dlq_retention, f"queue {dlq_id} MessageRetentionPeriod")
    )


def _bucket(template: _Template, queue_id: str) -> tuple[NotificationSpec, bool, str | None]:
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        where = f"bucket {logical_id}"
        props = _properties(resource, where)
        configs = (props.get("NotificationConfiguration") or {}).get("QueueConfigurations") or []
        events = tuple(
            template.resolve(c.get("Event"), f"{where} notification Event")
            for c in configs
            if isinstance(c, dict) and _getatt_target(c.get("Queue"), where) == queue_id
        )
        if not events:
            continue
        status = (props.get("VersioningConfiguration") or {}).get("Status", "Suspended")
        bucket_name = template.parameters.get("BucketName") or None
        return (
            NotificationSpec(events=events),
            template.resolve(status, f"{where} VersioningConfiguration") == "Enabled",
            bucket_name,
        )
    raise TemplateError(f"template has no bucket that notifies queue {queue_id!r}")


def load_pipeline_spec(
    path: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> PipelineSpec:
    """Read the pipeline's settings from ``template.yaml``.

    ``path`` defaults to the repository's ``template.yaml``. ``overrides`` replaces parameter
    defaults, as ``--parameter-overrides`` would (e.g. ``{"LedgerTableName": "x"}``), and
    ``stack_name`` stands for ``AWS::StackName``, as ``--stack-name`` would: the table names
    derive from it unless a parameter names them.
    Raises :class:`TemplateError` naming what is missing or invalid.
    """
    template_path = DEFAULT_TEMPLATE_PATH if path is None else path
    try:
        text = template_path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {template_path}: {exc.strerror}") from exc
    try:
        document = yaml.load(text, Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {template_path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"template {template_path} is not a YAML mapping")
    try:
        template = _Template(document, overrides or {}, stack_name)
        queue_id, function, variables = _function(template)
        queue, dlq_retention = _queue(template, queue_id)
        notification, versioning, bucket_name = _bucket(template, queue_id)
        tables = _tables(template, variables)
    except TemplateError as exc:
        raise TemplateError(f"{template_path}: {exc}") from None
    return PipelineSpec(
        tables=tables,
        queue=queue,
        dlq_retention_seconds=dlq_retention,
        function=function,
        notification=notification,
        versioning=versioning,
        bucket_name=bucket_name,
        parameters=dict(template.parameters),
        stack_name=stack_name,
    )

"""Read the pipeline's settings from ``template.yaml``, the single source of truth.

The workbench provisions tables, queues and the event source from what the SAM template says, so
nothing restates a key name, a TTL attribute or a batch size. This module reads the template with
PyYAML (CloudFormation short-form tags such as ``!Ref`` become their long form, ``{"Ref": x}``),
substitutes parameter defaults (or caller overrides) for ``Ref`` to a parameter, and returns frozen
dataclasses. It resolves nothing else: a value the workbench needs must be a literal or a ``Ref`` to
a parameter, and anything else is a :class:`TemplateError` that names the property.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import yaml

__all__ = [
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

# Which table plays which role, by the parameter its TableName refers to.
_TABLE_ROLES = {
    "LedgerTableName": "ledger",
    "AuditTableName": "audit",
    "IdempotencyTableName": "idempotency",
}

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
    """

    tables: dict[str, TableSpec]
    queue: QueueSpec
    dlq_retention_seconds: int | None
    function: FunctionSpec
    notification: NotificationSpec
    versioning: bool
    bucket_name: str | None
    parameters: dict[str, str]

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

    def __init__(self, document: Mapping[str, Any], overrides: Mapping[str, str]) -> None:
        resources = document.get("Resources")
        if not isinstance(resources, dict) or not resources:
            raise TemplateError("template has no Resources section")
        self.resources: dict[str, Any] = resources
        declared = document.get("Parameters") or {}
        if not isinstance(declared, dict):
            raise TemplateError("template's Parameters section is not a mapping")
        self.parameters = _parameter_values(declared, overrides)

    def resolve(self, value: Any, where: str) -> str:
        """A literal or a ``Ref`` to a parameter, as a string."""
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str | int | float):
            return str(value)
        if isinstance(value, dict) and set(value) == {"Ref"}:
            name = value["Ref"]
            if name in self.parameters:
                return self.parameters[name]
            raise TemplateError(f"{where}: Ref to {name!r}, which is not a parameter")
        raise TemplateError(f"{where}: {value!r} is neither a literal nor a Ref to a parameter")

    def resolve_int(self, value: Any, where: str) -> int:
        text = self.resolve(value, where)
        try:
            return int(text)
        except ValueError:
            raise TemplateError(f"{where}: {text!r} is not an integer") from None

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


def _tables(template: _Template) -> dict[str, TableSpec]:
    tables: dict[str, TableSpec] = {}
    for logical_id, resource in template.of_type("AWS::DynamoDB::Table").items():
        where = f"table {logical_id}"
        props = _properties(resource, where)
        name_ref = props.get("TableName")
        role = (
            _TABLE_ROLES.get(name_ref["Ref"])
            if isinstance(name_ref, dict) and set(name_ref) == {"Ref"}
            else None
        )
        if role is None:
            continue
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
            logical_id=logical_id,
            name=template.resolve(name_ref, f"{where} TableName"),
            hash_key=hash_keys[0],
            ttl_attribute=ttl_attribute,
            stream_view_type=stream_view_type,
        )
    missing = sorted(set(_TABLE_ROLES.values()) - set(tables))
    if missing:
        wanted = {role: param for param, role in _TABLE_ROLES.items()}
        names = ", ".join(f"{role} (TableName: !Ref {wanted[role]})" for role in missing)
        raise TemplateError(f"template has no table for: {names}")
    return tables


def _function(template: _Template) -> tuple[str, FunctionSpec]:
    """The function with an SQS event source, and the logical id of its queue."""
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
            return _getatt_target(source.get("Queue"), f"{where} Queue"), spec
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
    path: Path | None = None, overrides: Mapping[str, str] | None = None
) -> PipelineSpec:
    """Read the pipeline's settings from ``template.yaml``.

    ``path`` defaults to the repository's ``template.yaml``. ``overrides`` replaces parameter
    defaults, as ``--parameter-overrides`` would (e.g. ``{"LedgerTableName": "x"}``).
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
        template = _Template(document, overrides or {})
        queue_id, function = _function(template)
        queue, dlq_retention = _queue(template, queue_id)
        notification, versioning, bucket_name = _bucket(template, queue_id)
        tables = _tables(template)
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
    )

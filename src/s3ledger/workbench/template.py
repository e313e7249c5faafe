"""Read the pipeline's settings from ``template.yaml``, the single source of truth.

The workbench provisions tables, queues and the event source from what the SAM template says, so
nothing restates a key name, a TTL attribute or a batch size. This module reads the template with
PyYAML and :mod:`s3ledger.workbench.cfn` (which resolves the intrinsics the names need, with the
caller's stack name, :data:`DEFAULT_STACK_NAME` unless given), substitutes parameter defaults (or
caller overrides) and returns frozen dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from s3ledger.core.config import DEFAULT_STACK_NAME
from s3ledger.workbench.cfn import CfnLoader, Template, TemplateError, properties

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
    "load_template",
]

# Package data: in a checkout a symlink to the repository's template.yaml, in a wheel its copy.
DEFAULT_TEMPLATE_PATH = Path(__file__).resolve().parent / "template.yaml"

# Which table plays which role: the function's variable that names it (``!Ref <Table>``).
_TABLE_ROLES = {
    "S3LEDGER_LEDGER_TABLE": "ledger",
    "S3LEDGER_AUDIT_TABLE": "audit",
    "S3LEDGER_IDEMPOTENCY_TABLE": "idempotency",
}

_FUNCTION_TYPES = ("AWS::Serverless::Function", "AWS::Lambda::Function")


@dataclass(frozen=True)
class TableSpec:
    """One DynamoDB table: its name, partition and sort keys, TTL attribute and stream view
    type."""

    logical_id: str
    name: str
    hash_key: str
    ttl_attribute: str | None
    stream_view_type: str | None
    range_key: str | None = None


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
    ``stack_name`` is what ``AWS::StackName`` resolved to. ``logical_ids`` names the template's
    resources by role: ``queue``, ``dlq``, ``bucket`` (the bucket that notifies the queue) and
    ``function``.
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
    logical_ids: dict[str, str] = field(default_factory=dict)

    def without_streams(self) -> PipelineSpec:
        """This spec with no table stream (for runs that never read the streams)."""
        return replace(
            self,
            tables={
                role: replace(table, stream_view_type=None) for role, table in self.tables.items()
            },
        )


def _getatt_target(value: Any, where: str) -> str:
    """The logical id of ``!GetAtt X.Arn`` (or ``!Ref X``)."""
    if isinstance(value, dict):
        if "Fn::GetAtt" in value and isinstance(value["Fn::GetAtt"], list):
            return str(value["Fn::GetAtt"][0])
        if "Ref" in value:
            return str(value["Ref"])
    raise TemplateError(f"{where}: expected !GetAtt <Resource>.Arn, got {value!r}")


# ------------------------------------------------------------------------------------- readers


def _tables(template: Template, variables: Mapping[str, Any]) -> dict[str, TableSpec]:
    """The tables the function's variables name (``S3LEDGER_LEDGER_TABLE: !Ref LedgerTable``)."""
    tables: dict[str, TableSpec] = {}
    for variable, role in _TABLE_ROLES.items():
        value = variables.get(variable)
        logical_id = value.get("Ref") if isinstance(value, dict) and set(value) == {"Ref"} else None
        resource = template.resources.get(logical_id) if isinstance(logical_id, str) else None
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        where = f"table {logical_id}"
        props = properties(resource, where)
        hash_keys, range_keys = (
            [
                k.get("AttributeName")
                for k in props.get("KeySchema") or []
                if isinstance(k, dict) and k.get("KeyType") == kind
            ]
            for kind in ("HASH", "RANGE")
        )
        if len(hash_keys) != 1 or not isinstance(hash_keys[0], str):
            raise TemplateError(f"{where}: KeySchema needs exactly one HASH key")
        if len(range_keys) > 1 or not all(isinstance(k, str) for k in range_keys):
            raise TemplateError(f"{where}: KeySchema has at most one RANGE key")
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
            range_key=range_keys[0] if range_keys else None,
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


def _function(template: Template) -> tuple[str, str, FunctionSpec, dict[str, Any]]:
    """The function with an SQS event source: its logical id, its queue's, its spec, its raw
    variables."""
    for logical_id, resource in template.of_type(*_FUNCTION_TYPES).items():
        props = properties(resource, f"function {logical_id}")
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
            queue_id = _getatt_target(source.get("Queue"), f"{where} Queue")
            return logical_id, queue_id, spec, variables
    raise TemplateError("template has no function with an SQS event source (Events: Type: SQS)")


def _queue(template: Template, logical_id: str) -> tuple[QueueSpec, int | None, str]:
    where = f"queue {logical_id}"
    props = properties(template.resource(logical_id, where), where)
    redrive = props.get("RedrivePolicy")
    if not isinstance(redrive, dict):
        raise TemplateError(f"{where} has no RedrivePolicy (a dead-letter queue is required)")
    dlq_id = _getatt_target(redrive.get("deadLetterTargetArn"), f"{where} deadLetterTargetArn")
    dlq_props = properties(template.resource(dlq_id, f"{where} DLQ"), f"queue {dlq_id}")
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
    return (
        spec,
        None
        if dlq_retention is None
        else template.resolve_int(dlq_retention, f"queue {dlq_id} MessageRetentionPeriod"),
        dlq_id,
    )


def _bucket(template: Template, queue_id: str) -> tuple[NotificationSpec, bool, str | None, str]:
    for logical_id, resource in template.of_type("AWS::S3::Bucket").items():
        where = f"bucket {logical_id}"
        props = properties(resource, where)
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
            logical_id,
        )
    raise TemplateError(f"template has no bucket that notifies queue {queue_id!r}")


def _read_document(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TemplateError(f"cannot read template {path}: {exc.strerror}") from exc
    try:
        document = yaml.load(text, Loader=CfnLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise TemplateError(f"template {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise TemplateError(f"template {path} is not a YAML mapping")
    return document


def load_template(
    path: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> Template:
    """``template.yaml`` parsed, with its parameters resolved (see :func:`load_pipeline_spec`)."""
    template_path = DEFAULT_TEMPLATE_PATH if path is None else path
    document = _read_document(template_path)
    try:
        return Template(document, overrides or {}, stack_name)
    except TemplateError as exc:
        raise TemplateError(f"{template_path}: {exc}") from None


def load_pipeline_spec(
    path: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    *,
    stack_name: str = DEFAULT_STACK_NAME,
) -> PipelineSpec:
    """Read the pipeline's settings from ``template.yaml``.

    ``path`` defaults to the ``template.yaml`` shipped with the package (the repository's).
    ``overrides`` replaces parameter defaults, as ``--parameter-overrides`` would (e.g.
    ``{"LedgerTableName": "x"}``), and ``stack_name`` stands for ``AWS::StackName``, as
    ``--stack-name`` would: the table names derive from it unless a parameter names them.
    Raises :class:`TemplateError` naming what is missing or invalid.
    """
    template_path = DEFAULT_TEMPLATE_PATH if path is None else path
    template = load_template(template_path, overrides, stack_name=stack_name)
    try:
        function_id, queue_id, function, variables = _function(template)
        queue, dlq_retention, dlq_id = _queue(template, queue_id)
        notification, versioning, bucket_name, bucket_id = _bucket(template, queue_id)
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
        logical_ids={
            "queue": queue_id,
            "dlq": dlq_id,
            "bucket": bucket_id,
            "function": function_id,
        },
    )

"""Create the pipeline's resources on the workbench, exactly as ``template.yaml`` declares them.

Everything the template decides (table keys, streams, TTL, visibility timeout, redrive threshold,
retention, versioning, notification events) comes from a :class:`PipelineSpec`; nothing here
restates it. What the workbench cannot or need not reproduce is left out on purpose:

* the tables' SSE and point-in-time recovery (DynamoDB Local ignores both);
* the queues' ``SqsManagedSseEnabled`` and the queue policy (moto does not enforce policies);
* the bucket policy that denies non-TLS access: the workbench speaks plain HTTP on loopback.

Every key attribute is created as a string (``S``): the template declares all three so, and
:class:`TableSpec` carries the key's name only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, cast

from botocore.exceptions import ClientError

from s3ledger.core.config import Mode, Settings
from s3ledger.pipeline.aws import error_code
from s3ledger.workbench.errors import WorkbenchError
from s3ledger.workbench.template import PipelineSpec

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import EventType
    from mypy_boto3_sqs import SQSClient

__all__ = [
    "DEFAULT_BUCKET",
    "DEFAULT_DLQ",
    "DEFAULT_QUEUE",
    "TABLE_ROLES",
    "QueueUrls",
    "Resources",
    "drop_tables",
    "provision",
    "provision_bucket_and_queues",
    "provision_tables",
    "resource_names",
    "route_s3_events_to_queue",
]

TABLE_ROLES = ("ledger", "audit", "idempotency")
"""The roles of the three tables, keys of :attr:`PipelineSpec.tables`."""

DEFAULT_BUCKET = "s3ledger-local-bucket"
"""Bucket name when the template generates one (its ``BucketName`` parameter is empty)."""

DEFAULT_QUEUE = "s3ledger-events"
DEFAULT_DLQ = "s3ledger-events-dlq"

# The intersection of what bucket, queue and table names allow, so one prefix fits all three.
_PREFIX_PATTERN = re.compile(r"[a-z0-9-]*")


@dataclass(frozen=True)
class QueueUrls:
    """The events queue and its dead-letter queue, by URL and ARN."""

    queue_url: str
    dlq_url: str
    queue_arn: str
    dlq_arn: str


@dataclass(frozen=True)
class Resources:
    """The names and URLs of one provisioned pipeline."""

    bucket: str
    queue_url: str
    dlq_url: str
    ledger_table: str
    audit_table: str
    idempotency_table: str

    def settings(self, mode: Mode) -> Settings:
        """The handler's settings for this pipeline's tables, in ``mode``."""
        return Settings(
            mode=mode,
            ledger_table=self.ledger_table,
            audit_table=self.audit_table,
            idempotency_table=self.idempotency_table,
        )

    @property
    def tables(self) -> dict[str, str]:
        """Table names by role (``ledger``, ``audit``, ``idempotency``)."""
        return {
            "ledger": self.ledger_table,
            "audit": self.audit_table,
            "idempotency": self.idempotency_table,
        }


# -------------------------------------------------------------------------------------- tables


def _table_names(spec: PipelineSpec, names: Mapping[str, str] | None) -> dict[str, str]:
    overrides = dict(names or {})
    unknown = sorted(set(overrides) - set(TABLE_ROLES))
    if unknown:
        raise WorkbenchError(
            f"unknown table roles {', '.join(unknown)}; use {', '.join(TABLE_ROLES)}"
        )
    return {role: overrides.get(role, spec.tables[role].name) for role in TABLE_ROLES}


def _table_exists(dynamodb: DynamoDBClient, name: str) -> bool:
    try:
        dynamodb.describe_table(TableName=name)
    except ClientError as error:
        if error_code(error) == "ResourceNotFoundException":
            return False
        raise
    return True


def provision_tables(
    dynamodb: DynamoDBClient,
    spec: PipelineSpec,
    names: Mapping[str, str] | None = None,
    *,
    exist_ok: bool = False,
) -> dict[str, str]:
    """Create the ledger, audit and idempotency tables; return their names by role.

    Each table gets the template's keys, on-demand billing, its stream (if any) and its TTL
    attribute (if any). Names come from the spec unless ``names`` (role -> name) overrides them.
    An existing table raises :class:`WorkbenchError` unless ``exist_ok``, which leaves it as is.
    Returns once every table is ACTIVE.
    """
    resolved = _table_names(spec, names)
    for role, name in resolved.items():
        table = spec.tables[role]
        if _table_exists(dynamodb, name):
            if exist_ok:
                continue
            raise WorkbenchError(
                f"table {name!r} ({role}) already exists; drop it or pick another prefix"
            )
        keys = [(table.hash_key, "HASH")]
        if table.range_key is not None:
            keys.append((table.range_key, "RANGE"))
        kwargs: dict[str, Any] = {
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": k, "AttributeType": "S"} for k, _ in keys],
            "KeySchema": [{"AttributeName": k, "KeyType": kind} for k, kind in keys],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if table.stream_view_type is not None:
            kwargs["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": table.stream_view_type,
            }
        dynamodb.create_table(**kwargs)
        dynamodb.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        if table.ttl_attribute is not None:
            # DynamoDB Local accepts UpdateTimeToLive and reports it in DescribeTimeToLive.
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
            )
    return resolved


def drop_tables(
    dynamodb: DynamoDBClient,
    spec: PipelineSpec,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Delete the tables :func:`provision_tables` would create; missing ones are skipped.

    Returns the names actually deleted, once they are gone.
    """
    dropped: list[str] = []
    for name in _table_names(spec, names).values():
        try:
            dynamodb.delete_table(TableName=name)
        except ClientError as error:
            if error_code(error) == "ResourceNotFoundException":
                continue
            raise
        dropped.append(name)
    for name in dropped:
        dynamodb.get_waiter("table_not_exists").wait(
            TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
    return dropped


# ----------------------------------------------------------------------------- bucket, queues


def _queue_exists(sqs: SQSClient, name: str) -> bool:
    try:
        sqs.get_queue_url(QueueName=name)
    except ClientError as error:
        if error_code(error) in {
            "AWS.SimpleQueueService.NonExistentQueue",
            "QueueDoesNotExist",
        }:
            return False
        raise
    return True


def _bucket_exists(s3: S3Client, name: str) -> bool:
    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        if error_code(error) in {"404", "NoSuchBucket", "NotFound"}:
            return False
        raise
    return True


def _create_queue(sqs: SQSClient, name: str, attributes: dict[str, str]) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]  # template names: str keys
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def provision_bucket_and_queues(  # noqa: PLR0917 - bucket and queue names, as callers expect
    s3: S3Client,
    sqs: SQSClient,
    spec: PipelineSpec,
    bucket: str,
    queue_name: str,
    dlq_name: str,
    *,
    exist_ok: bool = False,
) -> QueueUrls:
    """Create the DLQ, the events queue and the bucket that notifies it.

    The DLQ keeps the template's retention; the queue gets its visibility timeout, retention and
    redrive policy (``maxReceiveCount``). The bucket gets versioning (if the template enables
    it), a full public access block, AES256 default encryption, BucketOwnerEnforced ownership
    and one queue notification per event type of the template. Configuring the notification
    makes S3 (and moto) send one ``s3:TestEvent`` message to the queue; it is left there, as on
    AWS, and the parser sets it aside.

    An existing bucket or queue raises :class:`WorkbenchError` unless ``exist_ok``, in which
    case its settings are (re)applied.
    """
    if not exist_ok:
        _refuse_existing(s3, sqs, bucket, (dlq_name, queue_name))
    urls = _create_queues(sqs, spec, queue_name, dlq_name, exist_ok=exist_ok)
    _create_bucket(s3, spec, bucket, urls.queue_arn, exist_ok=exist_ok)
    return urls


def _refuse_existing(s3: S3Client, sqs: SQSClient, bucket: str, queues: tuple[str, ...]) -> None:
    for name in queues:
        if _queue_exists(sqs, name):
            raise WorkbenchError(f"queue {name!r} already exists; delete it or pick another prefix")
    if _bucket_exists(s3, bucket):
        raise WorkbenchError(f"bucket {bucket!r} already exists; delete it or pick another prefix")


def _create_queues(
    sqs: SQSClient, spec: PipelineSpec, queue_name: str, dlq_name: str, *, exist_ok: bool
) -> QueueUrls:
    """The DLQ with the template's retention, then the queue that redrives to it."""
    dlq_attributes: dict[str, str] = {}
    if spec.dlq_retention_seconds is not None:
        dlq_attributes["MessageRetentionPeriod"] = str(spec.dlq_retention_seconds)
    dlq_url, dlq_arn = _create_queue(sqs, dlq_name, dlq_attributes)

    queue_attributes = {
        "VisibilityTimeout": str(spec.queue.visibility_timeout),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.queue.max_receive_count}
        ),
    }
    if spec.queue.message_retention_seconds is not None:
        queue_attributes["MessageRetentionPeriod"] = str(spec.queue.message_retention_seconds)
    if exist_ok and _queue_exists(sqs, queue_name):
        # CreateQueue refuses differing attributes on an existing queue; set them instead.
        queue_url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        sqs.set_queue_attributes(QueueUrl=queue_url, Attributes=queue_attributes)  # type: ignore[arg-type]  # str keys
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
    else:
        queue_url, queue_arn = _create_queue(sqs, queue_name, queue_attributes)
    return QueueUrls(queue_url=queue_url, dlq_url=dlq_url, queue_arn=queue_arn, dlq_arn=dlq_arn)


def _create_bucket(
    s3: S3Client, spec: PipelineSpec, bucket: str, queue_arn: str, *, exist_ok: bool
) -> None:
    """The bucket, private, encrypted, versioned as the template says, notifying the queue."""
    if not (exist_ok and _bucket_exists(s3, bucket)):
        # us-east-1 takes no LocationConstraint.
        s3.create_bucket(Bucket=bucket)
    if spec.versioning:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_ownership_controls(
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                # The template's event names, checked by cfn-lint; the stubs want the literals.
                {"QueueArn": queue_arn, "Events": [cast("EventType", event)]}
                for event in spec.notification.events
            ]
        },
    )


# ----------------------------------------------------------------------------------- pipeline


def resource_names(spec: PipelineSpec, prefix: str = "") -> dict[str, str]:
    """The names :func:`provision` uses: keys ``bucket``, ``queue``, ``dlq`` and the table roles.

    Without a prefix: the template's table names, the template's bucket name or
    :data:`DEFAULT_BUCKET`, :data:`DEFAULT_QUEUE` and :data:`DEFAULT_DLQ`. A prefix (lowercase
    letters, digits, ``-``) goes in front of every name.
    """
    if _PREFIX_PATTERN.fullmatch(prefix) is None:
        raise WorkbenchError(
            f"prefix {prefix!r} may hold only lowercase letters, digits and '-' "
            "(it must suit bucket, queue and table names)"
        )
    names = {
        "bucket": prefix + (spec.bucket_name or DEFAULT_BUCKET),
        "queue": prefix + DEFAULT_QUEUE,
        "dlq": prefix + DEFAULT_DLQ,
    }
    names.update({role: prefix + spec.tables[role].name for role in TABLE_ROLES})
    return names


def provision(
    dynamodb: DynamoDBClient,
    s3: S3Client,
    sqs: SQSClient,
    spec: PipelineSpec,
    *,
    prefix: str = "",
    exist_ok: bool = False,
) -> Resources:
    """Provision the tables, queues and bucket of one pipeline; see :func:`resource_names`.

    Distinct prefixes (e.g. ``"naive-"``, ``"inbox-"``) let several isolated pipelines share
    one workbench.
    """
    names = resource_names(spec, prefix)
    tables = provision_tables(
        dynamodb, spec, {role: names[role] for role in TABLE_ROLES}, exist_ok=exist_ok
    )
    queues = provision_bucket_and_queues(
        s3, sqs, spec, names["bucket"], names["queue"], names["dlq"], exist_ok=exist_ok
    )
    return Resources(
        bucket=names["bucket"],
        queue_url=queues.queue_url,
        dlq_url=queues.dlq_url,
        ledger_table=tables["ledger"],
        audit_table=tables["audit"],
        idempotency_table=tables["idempotency"],
    )


# What the stack's rule matches for attached buckets (*Using EventBridge*: S3 sends these
# detail types to the default bus once a bucket's EventBridge delivery is on).
S3_EVENTBRIDGE_PATTERN: Final = {
    "source": ["aws.s3"],
    "detail-type": ["Object Created", "Object Deleted"],
}


def route_s3_events_to_queue(events: Any, queue_url: str, sqs: SQSClient, rule: str) -> str:
    """An EventBridge rule on the default bus that sends every bucket's ``Object Created`` and
    ``Object Deleted`` events to the queue: what feeds the pipeline from attached buckets.
    Returns the rule's ARN. (moto enforces no queue policy; on AWS the template grants
    ``events.amazonaws.com`` ``sqs:SendMessage`` for this rule only.)"""
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    arn = str(
        events.put_rule(Name=rule, EventPattern=json.dumps(S3_EVENTBRIDGE_PATTERN))["RuleArn"]
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "s3ledger-queue", "Arn": queue_arn}])
    return arn

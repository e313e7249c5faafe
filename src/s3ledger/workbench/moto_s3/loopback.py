"""The server's own public API, called from inside it: what the notifier reads of S3 (a version's
size and ETag, a key's versions, a bucket's versioning and region) and how it delivers (SQS
SendMessage, SNS Publish, EventBridge PutEvents), each a boto3 call to this server over loopback
HTTP, so nothing depends on how moto keeps its state. Needs no moto.
"""

from __future__ import annotations

import datetime
import json
import logging
import threading
from dataclasses import dataclass
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

__all__ = ["Loopback", "VersionEntry"]

_log = logging.getLogger(__name__)

# The workbench's dummy credentials: moto maps them to its default account.
_CREDENTIALS: Final = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# S3's subject for the notifications it publishes to SNS.
_SNS_SUBJECT: Final = "Amazon S3 Notification"


@dataclass(frozen=True, slots=True)
class VersionEntry:
    """One version or delete marker of a key, as ListObjectVersions lists it."""

    version_id: str
    is_marker: bool
    etag: str | None


class Loopback:
    """boto3 clients for this server, one per service and region, shared by its threads."""

    def __init__(self, endpoint_url: str) -> None:
        self._endpoint_url = endpoint_url
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._queue_urls: dict[str, str] = {}

    def client(self, service: str, region: str = "us-east-1") -> Any:
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                config = Config(
                    retries={"max_attempts": 1},
                    s3={"addressing_style": "path"},
                    read_timeout=30,
                )
                client = boto3.session.Session().client(
                    service,  # type: ignore[call-overload]  # a service name chosen at run time
                    endpoint_url=self._endpoint_url,
                    region_name=region,
                    config=config,
                    **_CREDENTIALS,
                )
                self._clients[(service, region)] = client
            return client

    # --- what S3 shows ----------------------------------------------------------------------

    def bucket_region(self, bucket: str) -> str | None:
        """The bucket's region, or None if there is no such bucket."""
        try:
            answer = self.client("s3").get_bucket_location(Bucket=bucket)
        except ClientError:
            return None
        return str(answer.get("LocationConstraint") or "us-east-1")

    def versioned(self, bucket: str) -> bool:
        """Whether the bucket is or was versioned (Suspended still has versions)."""
        status = self.client("s3").get_bucket_versioning(Bucket=bucket).get("Status")
        return status in ("Enabled", "Suspended")

    def head(self, bucket: str, key: str, version_id: str | None) -> dict[str, Any] | None:
        """HeadObject of the version (the current one if None), or None if it is not there."""
        extra = {"VersionId": version_id} if version_id is not None else {}
        try:
            return dict(self.client("s3").head_object(Bucket=bucket, Key=key, **extra))
        except ClientError:
            return None

    def versions(self, bucket: str, key: str) -> dict[str, VersionEntry]:
        """Every version and delete marker of ``key``, by version id."""
        found: dict[str, VersionEntry] = {}
        paginator = self.client("s3").get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket, Prefix=key):
            for version in page.get("Versions", []):
                if version["Key"] == key:
                    etag = str(version.get("ETag", "")).strip('"') or None
                    found[str(version["VersionId"])] = VersionEntry(
                        str(version["VersionId"]), False, etag
                    )
            for marker in page.get("DeleteMarkers", []):
                if marker["Key"] == key:
                    found[str(marker["VersionId"])] = VersionEntry(
                        str(marker["VersionId"]), True, None
                    )
        return found

    # --- delivery ---------------------------------------------------------------------------

    def send_to_queue(self, queue_arn: str, body: dict[str, Any]) -> None:
        """SendMessage to the queue an ARN names; asynchronous on AWS, so a failure is logged,
        never raised into the S3 request."""
        _, _, _, region, account, name = queue_arn.split(":", 5)
        try:
            sqs = self.client("sqs", region)
            url = self._queue_urls.get(queue_arn)
            if url is None:
                url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
                self._queue_urls[queue_arn] = url
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body))
        except ClientError:
            self._queue_urls.pop(queue_arn, None)
            _log.warning("S3 notification not delivered to %s", queue_arn, exc_info=True)

    def publish_to_topic(self, topic_arn: str, body: dict[str, Any]) -> None:
        """SNS Publish, as S3 publishes (subject "Amazon S3 Notification"); failures logged."""
        region = topic_arn.split(":")[3]
        try:
            self.client("sns", region).publish(
                TopicArn=topic_arn, Message=json.dumps(body), Subject=_SNS_SUBJECT
            )
        except ClientError:
            _log.warning("S3 notification not delivered to %s", topic_arn, exc_info=True)

    def put_on_default_bus(self, event: dict[str, Any], time: datetime.datetime) -> None:
        """PutEvents of S3's event on the default bus of its region ("Your account's default
        event bus receives events from AWS services",
        https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_EventBus.html). The
        bus gives the event its id, account and region, as EventBridge does; ``time`` is the
        operation's, which the bus writes out in whole seconds, as EventBridge does."""
        try:
            answer = self.client("events", event["region"]).put_events(
                Entries=[
                    {
                        "Source": event["source"],
                        "DetailType": event["detail-type"],
                        "Detail": json.dumps(event["detail"]),
                        "Resources": event["resources"],
                        "Time": time,
                    }
                ]
            )
        except ClientError:
            _log.warning("S3 event not delivered to EventBridge", exc_info=True)
            return
        if answer.get("FailedEntryCount"):
            _log.warning("S3 event refused by EventBridge: %s", answer.get("Entries"))

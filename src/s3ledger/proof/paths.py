"""The ways S3's events reach the pipeline, as the README recommends them, on the workbench.

S3 sends each event of the chaos bucket three ways at once (*Amazon S3 Event Notifications*,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventNotifications.html), and chaos keeps,
per key, the message of the one path the seed chose for it:

=============  ===========================================================================
path           what the pipeline's queue receives
=============  ===========================================================================
``s3``         S3 → SQS: the notification itself (milliseconds in ``eventTime``)
``sns``        S3 → SNS → SQS without raw delivery: an SNS envelope whose ``Message`` is the
               notification (the fan-out the README describes)
``eventbridge``  S3 → EventBridge → SQS (existing buckets, ``s3ledger attach``): the
               EventBridge event, whose ``time`` has whole seconds (*EventBridge event
               message structure*, https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html)
=============  ===========================================================================

An event is tied to its request by S3's request id (``x-amz-request-id`` in the notification,
``request-id`` in EventBridge's detail), never by anything the writers compute.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, cast, get_args

from s3ledger.workbench.provision import Resources
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_s3.literals import EventType

__all__ = ["PATHS", "Collectors", "Path", "open_paths"]

Path = Literal["s3", "sns", "eventbridge"]
PATHS: Final[tuple[Path, ...]] = get_args(Path)
# How long the collectors may stay empty while S3's messages are awaited before chaos gives up.
_COLLECT_SECONDS: Final = 30


@dataclass(frozen=True)
class Collectors:
    """One queue per path that S3's messages for the chaos bucket land in."""

    bucket: str
    queues: Mapping[Path, str]

    def collect(self, workbench: Workbench, request_ids: set[str]) -> dict[str, dict[Path, str]]:
        """Per request id, the body each path delivered for it (every path, or an error once
        nothing new arrived for :data:`_COLLECT_SECONDS`)."""
        sqs = workbench.sqs()
        found: dict[str, dict[Path, str]] = {}
        missing = len(request_ids) * len(PATHS)
        quiet_until = time.monotonic() + _COLLECT_SECONDS
        while missing and time.monotonic() < quiet_until:
            got = sum(
                self._drain_once(sqs, path, url, request_ids, found)
                for path, url in self.queues.items()
            )
            if got:
                missing -= got
                quiet_until = time.monotonic() + _COLLECT_SECONDS
            else:
                time.sleep(0.05)
        if missing:
            short = sum(1 for r in request_ids if len(found.get(r, {})) < len(PATHS))
            raise RuntimeError(f"{short} of {len(request_ids)} requests' events never arrived")
        return found

    @staticmethod
    def _drain_once(
        sqs: Any, path: Path, url: str, request_ids: set[str], found: dict[str, dict[Path, str]]
    ) -> int:
        """Receive and delete one batch of ``path``'s queue; how many wanted bodies it held."""
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                    for n, m in enumerate(messages)
                ],
            )
        got = 0
        for message in messages:
            request_id = _request_id(message["Body"])
            if request_id in request_ids and path not in found.setdefault(request_id, {}):
                found[request_id][path] = message["Body"]
                got += 1
        return got


def _request_id(body: str) -> str | None:
    """S3's request id in a message of any path (``None`` for s3:TestEvent and the like)."""
    payload: Any = json.loads(body)
    if payload.get("Type") == "Notification":  # SNS envelope
        payload = json.loads(payload["Message"])
    if "detail" in payload:  # EventBridge
        return cast("str | None", payload["detail"].get("request-id"))
    records = payload.get("Records") or [{}]
    return cast("str | None", records[0].get("responseElements", {}).get("x-amz-request-id"))


def open_paths(workbench: Workbench, resources: Resources, events: tuple[str, ...]) -> Collectors:
    """Make the bucket send ``events`` to a collector queue per path (SQS, SNS, EventBridge)."""
    sqs, s3 = workbench.sqs(), workbench.s3()
    base = resources.bucket
    urls: dict[Path, str] = {
        path: sqs.create_queue(QueueName=f"{base}-via-{path}")["QueueUrl"] for path in PATHS
    }
    arns = {
        path: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for path, url in urls.items()
    }
    sns = workbench.sns()
    topic = sns.create_topic(Name=f"{base}-topic")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arns["sns"])  # not raw: enveloped
    bus = workbench.events()
    rule = f"{base}-rule"
    pattern = {"source": ["aws.s3"], "detail": {"bucket": {"name": [base]}}}
    bus.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    bus.put_targets(Rule=rule, Targets=[{"Id": "collector", "Arn": arns["eventbridge"]}])
    wanted = [cast("EventType", event) for event in events]
    s3.put_bucket_notification_configuration(
        Bucket=base,
        NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arns["s3"], "Events": wanted}],
            "TopicConfigurations": [{"TopicArn": topic, "Events": wanted}],
            "EventBridgeConfiguration": {},
        },
    )
    return Collectors(base, urls)

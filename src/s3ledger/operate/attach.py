"""``s3ledger attach`` / ``detach``: turn a bucket's EventBridge delivery on or off, only that.

A bucket that already exists has notification settings of its own (queues, topics, functions
that other teams rely on), and S3 keeps all of them in one document that
``PutBucketNotificationConfiguration`` replaces whole. So attach reads the document, adds
``EventBridgeConfiguration`` and writes back everything else exactly as it was; detach removes
only that switch. With EventBridge on, S3 sends every object event of the bucket to the
account's default event bus (*Using EventBridge*,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/EventBridge.html), where the stack's rule
(or, on the workbench, the rule ``s3ledger up`` creates) forwards ``Object Created`` and
``Object Deleted`` to the pipeline's queue. The bucket-level switch is shared: detaching stops
EventBridge delivery for every rule that matched this bucket, which ``detach`` says.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["NotificationChange", "attach", "detach"]

# The parts of the notification document (GetBucketNotificationConfiguration's answer) that
# PutBucketNotificationConfiguration takes back.
_KEPT: Final = ("TopicConfigurations", "QueueConfigurations", "LambdaFunctionConfigurations")
_EVENTBRIDGE: Final = "EventBridgeConfiguration"


@dataclass(frozen=True)
class NotificationChange:
    """What attach or detach did to one bucket's notification document."""

    bucket: str
    eventbridge_before: bool
    eventbridge_after: bool
    kept: Mapping[str, int]  # other destinations, by kind, left as they were

    @property
    def changed(self) -> bool:
        return self.eventbridge_before != self.eventbridge_after

    def describe(self) -> str:
        others = ", ".join(f"{count} {kind}" for kind, count in self.kept.items() if count)
        kept = f"; kept as they were: {others}" if others else "; no other notification settings"
        if not self.changed:
            state = "on" if self.eventbridge_after else "off"
            return f"{self.bucket}: EventBridge delivery was already {state}; nothing changed"
        verb = "turned on" if self.eventbridge_after else "turned off"
        return f"{self.bucket}: EventBridge delivery {verb}{kept}"

    def to_json(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "changed": self.changed,
            "eventbridge_before": self.eventbridge_before,
            "eventbridge_after": self.eventbridge_after,
            "kept": dict(self.kept),
        }


def _document(s3: S3Client, bucket: str) -> dict[str, Any]:
    answer = dict(s3.get_bucket_notification_configuration(Bucket=bucket))
    return {name: answer[name] for name in (*_KEPT, _EVENTBRIDGE) if name in answer}


def _kept(document: Mapping[str, Any]) -> dict[str, int]:
    labels = {
        "TopicConfigurations": "topic",
        "QueueConfigurations": "queue",
        "LambdaFunctionConfigurations": "function",
    }
    return {labels[name]: len(document.get(name, [])) for name in _KEPT}


def _switch(s3: S3Client, bucket: str, *, on: bool) -> NotificationChange:
    document = _document(s3, bucket)
    before = _EVENTBRIDGE in document
    if before != on:
        updated = {name: value for name, value in document.items() if name != _EVENTBRIDGE}
        if on:
            updated[_EVENTBRIDGE] = {}
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            # The document as S3 returned it, less EventBridge: a plain dict, not the stubs' type.
            NotificationConfiguration=updated,  # type: ignore[arg-type]
            # The other destinations were valid when they were set: do not test them again.
            SkipDestinationValidation=True,
        )
    return NotificationChange(bucket, before, on, _kept(document))


def attach(s3: S3Client, bucket: str) -> NotificationChange:
    """Turn on the bucket's EventBridge delivery; keep every other notification setting."""
    return _switch(s3, bucket, on=True)


def detach(s3: S3Client, bucket: str) -> NotificationChange:
    """Turn off the bucket's EventBridge delivery; keep every other notification setting."""
    return _switch(s3, bucket, on=False)

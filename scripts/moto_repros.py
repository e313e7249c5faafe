"""Minimal repros of the moto behaviours the workbench still patches
(docs/workbench.md#what-still-reaches-into-moto).

Runs each against the moto installed in this interpreter, unpatched and in-process (moto's
``mock_aws``), and prints one line per repro: ``present`` (moto still differs from AWS, the
hook is still needed) or ``fixed`` (the hook may go). Exit status 0 either way: it reports.

    python scripts/moto_repros.py
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import boto3
import moto
from moto import mock_aws

REGION = "us-east-1"


def suspended_put_keeps_older_versions() -> bool:
    """S3: on a Suspended bucket a PUT replaces only the null version (AWS:
    AddingObjectstoVersionSuspendedBuckets.html). True if moto drops the Enabled-era version."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="repro-put")
    s3.put_bucket_versioning(Bucket="repro-put", VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket="repro-put", Key="k", Body=b"1")["VersionId"]
    s3.put_bucket_versioning(Bucket="repro-put", VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket="repro-put", Key="k", Body=b"2")
    listed = s3.list_object_versions(Bucket="repro-put", Prefix="k").get("Versions", [])
    return kept not in [v["VersionId"] for v in listed]


def suspended_delete_makes_a_null_marker() -> bool:
    """S3: on a Suspended bucket a DELETE without a version adds a null delete marker and keeps
    the older versions (AWS: DeletingObjectsfromVersioningSuspendedBuckets.html). True if moto
    does not."""
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="repro-delete")
    s3.put_bucket_versioning(Bucket="repro-delete", VersioningConfiguration={"Status": "Enabled"})
    kept = s3.put_object(Bucket="repro-delete", Key="k", Body=b"1")["VersionId"]
    s3.put_bucket_versioning(Bucket="repro-delete", VersioningConfiguration={"Status": "Suspended"})
    answer = s3.delete_object(Bucket="repro-delete", Key="k")
    listed = s3.list_object_versions(Bucket="repro-delete", Prefix="k")
    versions = [v["VersionId"] for v in listed.get("Versions", [])]
    markers = [m["VersionId"] for m in listed.get("DeleteMarkers", [])]
    return not (answer.get("DeleteMarker") and kept in versions and markers == ["null"])


def eventbridge_target_lacks_account() -> bool:
    """EventBridge: a target without an input transformer receives the whole event, ``account``
    included. True if moto leaves ``account`` out."""
    sqs = boto3.client("sqs", region_name=REGION)
    events = boto3.client("events", region_name=REGION)
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    events.put_rule(Name="r", EventPattern=json.dumps({"source": ["repro"]}))
    events.put_targets(Rule="r", Targets=[{"Id": "q", "Arn": arn["QueueArn"]}])
    events.put_events(Entries=[{"Source": "repro", "DetailType": "t", "Detail": "{}"}])
    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    return "account" not in json.loads(message["Body"])


REPROS: dict[str, Callable[[], bool]] = {
    "s3: Suspended PUT replaces every version": suspended_put_keeps_older_versions,
    "s3: Suspended DELETE makes no null marker": suspended_delete_makes_a_null_marker,
    "events: a target's event has no account": eventbridge_target_lacks_account,
}


def main() -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "testing")  # moto's in-process mock takes any
    print(f"moto {moto.__version__}")
    for name, repro in REPROS.items():
        with mock_aws():
            try:
                verdict = "present" if repro() else "fixed"
            except Exception as error:  # a repro that breaks is reported, not fatal
                verdict = f"could not run: {type(error).__name__}: {error}"
        print(f"  {name}: {verdict}")


if __name__ == "__main__":
    main()

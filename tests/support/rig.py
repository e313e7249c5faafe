"""A versioned bucket of the workbench's moto and fresh tables in DynamoDB Local, with what the
tests of versioned histories do on them: deliver S3's records through a sandbox, read the tables,
and compare the ledger with the bucket's own state (HeadObject), never with a model of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.core import ledger
from s3ledger.core.config import Mode
from s3ledger.core.consistency import check_consistency
from s3ledger.core.ledger import ObjectState
from s3ledger.workbench.context import LocalContext
from tests.support.pipeline import Harness, make_harness, sqs_event, sqs_message
from tests.support.tables import TableNames, scan_all
from tests.support.versioned import Clock, VersionedKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["VersionedRig"]


@dataclass(frozen=True)
class VersionedRig:
    dynamodb_endpoint: str
    aws_endpoint: str
    dynamodb: DynamoDBClient
    tables: TableNames
    s3: S3Client
    bucket: str

    def harness(self, mode: Mode = "inbox") -> Harness:
        """A sandbox in ``mode`` on the tables, reading objects' states from this S3."""
        return make_harness(
            self.dynamodb_endpoint, self.tables, mode, aws_endpoint=self.aws_endpoint
        )

    def key(self, name: str, clock: Clock = "ticking") -> VersionedKey:
        return VersionedKey(self.s3, self.bucket, name, clock=clock)

    def deliver(self, harness: Harness, *records: dict[str, Any]) -> None:
        """One SQS batch, one message per record; every message must succeed."""
        messages = [sqs_message(json.dumps({"Records": [r]})) for r in records]
        response = harness.pipeline.handle_sqs(sqs_event(*messages), LocalContext())
        assert response == {"batchItemFailures": []}

    def ledger_item(self, key: str) -> dict[str, Any] | None:
        """The ledger item of this bucket's ``key`` (plain form), read consistently."""
        answer = self.dynamodb.get_item(
            TableName=self.tables.ledger,
            Key={"id": {"S": f"{self.bucket}/{key}"}},
            ConsistentRead=True,
        )
        return ledger.from_item(answer["Item"]) if "Item" in answer else None

    def ledger_items(self) -> list[dict[str, Any]]:
        return [ledger.from_item(i) for i in scan_all(self.dynamodb, self.tables.ledger)]

    def audit_items(self) -> list[dict[str, Any]]:
        return [ledger.from_item(i) for i in scan_all(self.dynamodb, self.tables.audit)]

    def assert_ledger_shows_the_bucket(self, k: VersionedKey) -> None:
        """``k``'s ledger item is what a GET returns, and the tables agree with each other."""
        shown, truth = ObjectState.of_ledger(self.ledger_item(k.key)), k.state()
        assert shown == truth, f"ledger {shown}, GET {truth}"
        assert check_consistency(self.audit_items(), self.ledger_items()).anomalies_total == 0

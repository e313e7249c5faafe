"""The bulk engine's chunk writer against DynamoDB Local: one object DynamoDB refuses is counted
``failed`` and logged by key, the rest of the batch is written; throttled reads of a whole batch
raise, for Step Functions to retry the batch."""

from __future__ import annotations

import logging

import pytest

from s3ledger.core.config import Settings
from s3ledger.core.ledger import ObjectState
from s3ledger.pipeline.bulk import BulkWriter
from s3ledger.pipeline.bulk.handler import BatchRetryableError, BulkClients, handle
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.dynamodb_local import dynamodb_client
from s3ledger.workbench.faults import DynamoDBFaults
from tests.support.tables import TableNames, scan_all


class _NoReader:
    def current(self, bucket: str, key: str) -> ObjectState:
        raise AssertionError("a backfill reads no state")


def writer(endpoint: str, tables: TableNames) -> tuple[BulkWriter, DynamoDBFaults]:
    client = dynamodb_client(endpoint)
    faults = DynamoDBFaults(client)
    bulk = BulkWriter(
        client,
        ledger_table=tables.ledger,
        audit_table=tables.audit,
        state_reader=_NoReader(),
        context=LocalContext(),
    )
    return bulk, faults


def states(count: int) -> dict[str, ObjectState]:
    return {
        f"k/{i:03d}": ObjectState(True, etag=f"e{i}", size=i, as_of="2026-12-04T10:00:00.000Z")
        for i in range(count)
    }


def test_one_refused_object_fails_alone_and_is_logged_by_key(
    dynamodb_endpoint: str, fresh_tables: TableNames, caplog: pytest.LogCaptureFixture
) -> None:
    """DynamoDB rejects k/007's transaction (a ValidationException, as for an item too large):
    it is counted failed and logged with its key and error; the other 29 are written."""
    bulk, faults = writer(dynamodb_endpoint, fresh_tables)
    faults.fail("TransactWriteItems", "ValidationException", matching="k/007")
    with caplog.at_level(logging.WARNING, logger="s3ledger.pipeline.bulk.chunks"):
        result = bulk.backfill("b", states(30))
    assert result.counts["objects_written"] == 29
    assert (result.counts["failed"], result.examples["failed"]) == (1, ["k/007"])
    (record,) = caplog.records
    assert (record.key, record.error) == ("k/007", "RejectedWriteError")  # type: ignore[attr-defined]
    assert len(scan_all(dynamodb_client(dynamodb_endpoint), fresh_tables.ledger)) == 29


def test_a_batch_whose_reads_stay_throttled_fails_whole_to_be_retried(
    dynamodb_endpoint: str, fresh_tables: TableNames
) -> None:
    """The bulk handler's batch (inventory rows) whose BatchGetItem stays throttled past
    botocore's retries raises BatchRetryableError, the name the state machine retries, and
    writes nothing."""
    client = dynamodb_client(dynamodb_endpoint, retries={"mode": "standard", "max_attempts": 1})
    faults = DynamoDBFaults(client)
    faults.fail("BatchGetItem", "ProvisionedThroughputExceededException", times=10)
    settings = Settings(ledger_table=fresh_tables.ledger, audit_table=fresh_tables.audit)
    rows = [{"Bucket": "b", "Key": f"k/{i}", "Size": "1", "ETag": "e"} for i in range(5)]
    payload = {
        "Items": rows,
        "BatchInput": {"job": "backfill", "bucket": "b", "source": "inventory", "prefix": "",
                       "as_of": "2026-12-04T10:00:00.000Z", "apply": True},
    }  # fmt: skip
    clients = BulkClients(client, None, settings)  # type: ignore[arg-type]  # no S3 read here
    with pytest.raises(BatchRetryableError, match="ProvisionedThroughputExceeded"):
        handle(payload, LocalContext(), clients)
    assert scan_all(client, fresh_tables.ledger) == []

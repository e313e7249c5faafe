"""Per-test DynamoDB tables and read-back helpers for tests against DynamoDB Local.

Items are returned in the low-level form (``{"id": {"S": "..."}}``), exactly as the
DynamoDB client hands them out, so tests compare what was really stored.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.proof import stream_log

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "TableNames",
    "create_tables",
    "delete_tables",
    "scan_all",
    "stream_records",
    "unique_suffix",
]


@dataclass(frozen=True)
class TableNames:
    """The three tables one test works on."""

    ledger: str
    audit: str
    idempotency: str

    def all(self) -> tuple[str, str, str]:
        """The three names, ledger first."""
        return (self.ledger, self.audit, self.idempotency)


def unique_suffix() -> str:
    """A short random suffix that keeps table names of different tests apart."""
    return uuid.uuid4().hex[:12]


def _create_table(client: DynamoDBClient, name: str, hash_key: str, *, stream: bool) -> None:
    kwargs: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": [{"AttributeName": hash_key, "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": hash_key, "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if stream:
        kwargs["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        }
    client.create_table(**kwargs)


def create_tables(client: DynamoDBClient, suffix: str | None = None) -> TableNames:
    """Create ledger (``id``), audit (``event_id``) and idempotency (``id``) tables.

    All are on-demand; ledger and audit have a NEW_AND_OLD_IMAGES stream. Returns once all
    three are ACTIVE.
    """
    suffix = suffix or unique_suffix()
    names = TableNames(
        ledger=f"ledger-{suffix}",
        audit=f"audit-{suffix}",
        idempotency=f"idempotency-{suffix}",
    )
    _create_table(client, names.ledger, "id", stream=True)
    _create_table(client, names.audit, "event_id", stream=True)
    _create_table(client, names.idempotency, "id", stream=False)
    waiter = client.get_waiter("table_exists")
    for name in names.all():
        waiter.wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    return names


def delete_tables(client: DynamoDBClient, names: TableNames) -> None:
    """Delete the three tables; a table that is already gone is fine."""
    for name in names.all():
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=name)


def scan_all(client: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    """Every item of ``table`` (strongly consistent, all pages), in low-level form."""
    items: list[dict[str, Any]] = []
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        items.extend(page.get("Items", []))
    return items


def stream_records(client_streams: Any, client: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    """Every record in ``table``'s stream (see ``s3ledger.proof.stream_log``), as a list."""
    return list(stream_log.stream_records(client_streams, client, table))

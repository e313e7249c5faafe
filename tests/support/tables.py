"""Per-test DynamoDB tables and read-back helpers for tests against DynamoDB Local.

Items are returned in the low-level form (``{"id": {"S": "..."}}``), exactly as the
DynamoDB client hands them out, so tests compare what was really stored.
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from s3ledger.proof import stream_log
from s3ledger.workbench.provision import provision_tables
from s3ledger.workbench.template import PipelineSpec, load_pipeline_spec

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


@functools.cache
def _spec() -> PipelineSpec:
    """The pipeline's settings from ``template.yaml``, read once per test session."""
    return load_pipeline_spec()


def create_tables(client: DynamoDBClient, suffix: str | None = None) -> TableNames:
    """Create the ledger, audit and idempotency tables as ``template.yaml`` declares them.

    Keys, streams and TTL come from the template through the workbench's own provisioning
    (``provision_tables``), so a test's tables cannot drift from what ships; only the names get
    a per-test suffix. Returns once all three are ACTIVE.
    """
    suffix = suffix or unique_suffix()
    names = TableNames(
        ledger=f"ledger-{suffix}",
        audit=f"audit-{suffix}",
        idempotency=f"idempotency-{suffix}",
    )
    provision_tables(client, _spec(), _by_role(names))
    return names


def delete_tables(client: DynamoDBClient, names: TableNames) -> None:
    """Delete the three tables; a table that is already gone is fine."""
    for name in names.all():
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_table(TableName=name)


def _by_role(names: TableNames) -> dict[str, str]:
    return {"ledger": names.ledger, "audit": names.audit, "idempotency": names.idempotency}


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

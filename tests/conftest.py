"""Shared fixtures: one DynamoDB Local per test session, fresh tables per test.

A test that uses ``dynamodb_local`` (directly or through another fixture) is marked
``dynamodb`` automatically, so ``pytest -m "not dynamodb"`` runs without Java.
If DynamoDB Local is not installed, those tests FAIL (they do not skip) with the command
that installs it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from s3ledger.workbench.dynamodb_local import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    REGION,
    DynamoDBLocal,
)
from s3ledger.workbench.dynamodb_local import (
    dynamodb_client as make_dynamodb_client,
)
from s3ledger.workbench.errors import WorkbenchError
from s3ledger.workbench.moto_process import MotoServer, aws_client
from tests.support.tables import TableNames, create_tables, delete_tables

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that needs DynamoDB Local with the ``dynamodb`` marker."""
    for item in items:
        if "dynamodb_local" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.dynamodb)


def _serve(server: Any, name: str) -> Iterator[Any]:
    """Start ``server`` for the session or FAIL (never skip) with its one-line reason."""
    failure: str | None = None
    try:
        server.start()
    except WorkbenchError as error:
        failure = f"{name} could not start: {error}"
    if failure is not None:  # failed outside the except block: one message, no chained trace
        pytest.fail(failure, pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[DynamoDBLocal]:
    """One in-memory DynamoDB Local on a free 127.0.0.1 port for the whole session."""
    yield from _serve(DynamoDBLocal(), "DynamoDB Local")


@pytest.fixture(scope="session")
def dynamodb_endpoint(dynamodb_local: DynamoDBLocal) -> str:
    """``http://127.0.0.1:<port>`` of the session's DynamoDB Local."""
    return dynamodb_local.endpoint_url


@pytest.fixture(scope="session")
def dynamodb_client(dynamodb_endpoint: str) -> DynamoDBClient:
    """A DynamoDB client (dummy credentials, us-east-1) for the session's DynamoDB Local."""
    return make_dynamodb_client(dynamodb_endpoint)


@pytest.fixture(scope="session")
def streams_client(dynamodb_endpoint: str) -> Any:
    """A ``dynamodbstreams`` client on the same endpoint (untyped: no stubs installed)."""
    return boto3.client(
        "dynamodbstreams",
        endpoint_url=dynamodb_endpoint,
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=Config(
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=2,
            read_timeout=10,
        ),
    )


@pytest.fixture
def fresh_tables(dynamodb_client: DynamoDBClient) -> Iterator[TableNames]:
    """Ledger, audit and idempotency tables that exist for this test only."""
    names = create_tables(dynamodb_client)
    try:
        yield names
    finally:
        delete_tables(dynamodb_client, names)


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server (S3, SQS, in memory) on a free 127.0.0.1 port for the whole session."""
    yield from _serve(MotoServer(), "moto server")


@pytest.fixture(scope="session")
def aws_endpoint(moto_server: MotoServer) -> str:
    """``http://127.0.0.1:<port>`` of the session's moto server (S3 and SQS)."""
    return moto_server.endpoint_url


DEMO_BUCKET = "s3ledger-demo-bucket"
"""The bucket the payloads of ``events/`` are about."""


@pytest.fixture
def demo_bucket(aws_endpoint: str) -> str:
    """``s3ledger-demo-bucket`` on the session's moto, versioned and empty.

    The sample payloads' removals of a version are resolved from this bucket: empty, it says
    what S3 would after the only version of a key is removed (no version left: deleted).
    """
    s3 = aws_client("s3", aws_endpoint)
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
        s3.create_bucket(Bucket=DEMO_BUCKET)
    s3.put_bucket_versioning(Bucket=DEMO_BUCKET, VersioningConfiguration={"Status": "Enabled"})
    listing = s3.list_object_versions(Bucket=DEMO_BUCKET)
    entries = [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]
    for entry in entries:
        s3.delete_object(Bucket=DEMO_BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
    return DEMO_BUCKET

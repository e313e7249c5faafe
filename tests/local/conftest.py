"""Fixtures the local tests share: moto's S3 over HTTP, a fresh versioned bucket in it, and the
two with fresh tables (the rig of the versioned histories)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from s3ledger.workbench.moto_process import aws_client
from tests.support.rig import VersionedRig
from tests.support.tables import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client


@pytest.fixture
def s3(aws_endpoint: str) -> Iterator[S3Client]:
    client = aws_client("s3", aws_endpoint)
    yield client
    client.close()


@pytest.fixture
def bucket(s3: S3Client) -> str:
    """A new bucket with versioning on, for the versioned histories."""
    name = f"versions-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    return name


@pytest.fixture
def rig(
    dynamodb_endpoint: str,
    aws_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    s3: S3Client,
    bucket: str,
) -> VersionedRig:
    """Fresh tables and a new versioned bucket, with the helpers that deliver and compare."""
    return VersionedRig(dynamodb_endpoint, aws_endpoint, dynamodb_client, fresh_tables, s3, bucket)

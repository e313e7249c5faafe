"""The local workbench: DynamoDB Local plus moto's S3 and SQS, started and stopped together.

>>> with Workbench() as workbench:                                        # doctest: +SKIP
...     spec = load_pipeline_spec()
...     resources = provision(workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec)
...     os.environ.update(workbench.env(resources))

Default ports follow convention (DynamoDB Local 8000, S3/SQS 4566). moto binds 127.0.0.1 only;
DynamoDB Local cannot be told to (see :mod:`s3ledger.workbench.dynamodb_local`). moto's state is in
memory only; DynamoDB Local's is too unless ``data_dir`` is given.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from s3ledger.workbench.dynamodb_local import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    REGION,
    DynamoDBLocal,
    dynamodb_client,
    local_client,
)
from s3ledger.workbench.moto_process import DEFAULT_PORT as DEFAULT_AWS_PORT
from s3ledger.workbench.moto_process import MotoServer, aws_client
from s3ledger.workbench.process import StartStop
from s3ledger.workbench.provision import Resources

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

__all__ = ["DEFAULT_AWS_PORT", "DEFAULT_DYNAMODB_PORT", "Workbench"]

DEFAULT_DYNAMODB_PORT = 8000


class Workbench(StartStop):
    """DynamoDB Local and a moto server (S3, SQS) on 127.0.0.1; use as a context manager.

    :meth:`start` starts DynamoDB Local, then moto; if either fails, whatever was started is
    stopped before the error propagates, so nothing is left running. :meth:`stop` stops both
    and is idempotent.
    """

    def __init__(
        self,
        dynamodb_port: int = DEFAULT_DYNAMODB_PORT,
        aws_port: int = DEFAULT_AWS_PORT,
        data_dir: Path | None = None,
        dynamodb_home: Path | None = None,
    ) -> None:
        self._dynamodb = DynamoDBLocal(port=dynamodb_port, data_dir=data_dir, home=dynamodb_home)
        self._moto = MotoServer(port=aws_port)

    @property
    def dynamodb_local(self) -> DynamoDBLocal:
        """The DynamoDB Local process."""
        return self._dynamodb

    @property
    def moto_server(self) -> MotoServer:
        """The moto server process (S3, SQS)."""
        return self._moto

    @property
    def dynamodb_endpoint(self) -> str:
        """``http://127.0.0.1:<port>`` of DynamoDB Local."""
        return self._dynamodb.endpoint_url

    @property
    def aws_endpoint(self) -> str:
        """``http://127.0.0.1:<port>`` of moto, serving S3 and SQS."""
        return self._moto.endpoint_url

    @property
    def running(self) -> bool:
        """Whether both processes are up."""
        return self._dynamodb.running and self._moto.running

    def start(self) -> Self:
        """Start DynamoDB Local, then moto; on any failure stop both and re-raise."""
        try:
            self._dynamodb.start()
            self._moto.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop moto and DynamoDB Local (each is a no-op if not running)."""
        try:
            self._moto.stop()
        finally:
            self._dynamodb.stop()

    def dynamodb(self) -> DynamoDBClient:
        """A DynamoDB client for DynamoDB Local (dummy credentials, us-east-1)."""
        return dynamodb_client(self.dynamodb_endpoint)

    def s3(self) -> S3Client:
        """An S3 client for moto (dummy credentials, us-east-1, path-style addressing)."""
        return aws_client("s3", self.aws_endpoint)

    def sqs(self) -> SQSClient:
        """An SQS client for moto (dummy credentials, us-east-1)."""
        return aws_client("sqs", self.aws_endpoint)

    def streams(self) -> Any:
        """A DynamoDB Streams client for DynamoDB Local (untyped: no stubs installed)."""
        return local_client("dynamodbstreams", self.dynamodb_endpoint)

    def events(self) -> Any:
        """An EventBridge client for moto (untyped: no stubs installed)."""
        return aws_client("events", self.aws_endpoint)

    def cloudformation(self) -> Any:
        """A CloudFormation client for moto (untyped: no stubs installed)."""
        return aws_client("cloudformation", self.aws_endpoint)

    def cloudwatch(self) -> Any:
        """A CloudWatch client for moto (untyped: no stubs installed)."""
        return aws_client("cloudwatch", self.aws_endpoint)

    def sns(self) -> Any:
        """An SNS client for moto (untyped: no stubs installed)."""
        return aws_client("sns", self.aws_endpoint)

    def env(self, resources: Resources) -> dict[str, str]:
        """Environment variables that point the product (and boto3) at this workbench.

        boto3's own ``AWS_ENDPOINT_URL_<SERVICE>`` variables carry the endpoints, so the same
        code talks to AWS or to the workbench. Dummy credentials and region are included only
        where ``os.environ`` does not set them already, so a caller's choice is not overridden.
        """
        variables = {
            "AWS_ENDPOINT_URL_S3": self.aws_endpoint,
            "AWS_ENDPOINT_URL_SQS": self.aws_endpoint,
            "AWS_ENDPOINT_URL_EVENTBRIDGE": self.aws_endpoint,
            "AWS_ENDPOINT_URL_CLOUDFORMATION": self.aws_endpoint,
            "AWS_ENDPOINT_URL_CLOUDWATCH": self.aws_endpoint,
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_endpoint,
            "S3LEDGER_BUCKET": resources.bucket,
            "S3LEDGER_LEDGER_TABLE": resources.ledger_table,
            "S3LEDGER_AUDIT_TABLE": resources.audit_table,
            "S3LEDGER_IDEMPOTENCY_TABLE": resources.idempotency_table,
            "S3LEDGER_QUEUE_URL": resources.queue_url,
            "S3LEDGER_DLQ_URL": resources.dlq_url,
        }
        defaults = {
            "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_ACCESS_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }
        variables.update({k: v for k, v in defaults.items() if k not in os.environ})
        return variables

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Workbench dynamodb={self.dynamodb_endpoint} aws={self.aws_endpoint} {state}>"

"""The workbench's moto server as a child process on 127.0.0.1: :class:`MotoServer` starts and
stops it, :func:`aws_client` talks to it.

moto serves every AWS service it emulates on one port; the workbench uses it for S3, SQS,
EventBridge, CloudFormation and CloudWatch (DynamoDB comes from DynamoDB Local, see
:mod:`s3ledger.workbench.dynamodb_local`). The child runs ``python -m
s3ledger.workbench.moto_app -H 127.0.0.1 -p PORT`` (moto behind the workbench's S3 notifier,
with its speed-ups), so unlike DynamoDB Local it listens on loopback only. moto keeps its state
IN MEMORY ONLY: buckets, objects and queued messages vanish when the process stops. What its
S3 notifications look like: docs/workbench.md#s3-notifications-as-aws-sends-them.
"""

from __future__ import annotations

import importlib.util
import sys
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, Literal, overload

from s3ledger.workbench.dynamodb_local import free_port, local_client
from s3ledger.workbench.errors import MissingDependencyError
from s3ledger.workbench.process import LOOPBACK, LocalProcess

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

__all__ = ["DEFAULT_PORT", "MotoServer", "aws_client"]

DEFAULT_PORT = 4566
"""The conventional port of a local AWS emulator (LocalStack's), used by the workbench."""


@overload
def aws_client(service: Literal["s3"], endpoint_url: str, **config: Any) -> S3Client: ...
@overload
def aws_client(service: Literal["sqs"], endpoint_url: str, **config: Any) -> SQSClient: ...
@overload
def aws_client(service: str, endpoint_url: str, **config: Any) -> Any: ...
def aws_client(service: str, endpoint_url: str, **config: Any) -> Any:
    """Build a boto3 client for a local endpoint, with dummy credentials and us-east-1.

    ``config`` overrides the :class:`botocore.config.Config` defaults (those of
    :func:`~s3ledger.workbench.dynamodb_local.local_client`, with a 30 s read timeout), key by key.
    """
    options: dict[str, Any] = {"read_timeout": 30}
    if service == "s3":
        # Path-style: virtual-host style would need <bucket>.127.0.0.1 to resolve.
        options["s3"] = {"addressing_style": "path"}
    options.update(config)
    return local_client(service, endpoint_url, **options)


class MotoServer(LocalProcess):
    """One moto server (S3, SQS) on ``127.0.0.1:port``; use as a context manager.

    ``port=None`` picks a free port. State lives in the process's memory only: stopping the
    server loses every bucket, object and message. The process's stdout and stderr go to a
    temporary log file (:attr:`log_path`), so no pipe can fill up and block it. :meth:`start`
    waits (up to ~20 s) until it answers HTTP.
    """

    name = "moto server"
    log_prefix = "moto-server"
    port_flag = "--aws-port"
    startup_timeout_s = 20.0
    poll_interval_s = 0.1

    def __init__(self, port: int | None = None) -> None:
        super().__init__(port if port is not None else free_port())

    def command(self) -> list[str]:
        """The command line :meth:`start` runs (this interpreter, so moto is the venv's)."""
        # The server runs in a child process: tell a missing moto here, not in its log.
        if importlib.util.find_spec("moto") is None:
            raise MissingDependencyError(
                "moto is not installed: pip install 's3ledger[workbench]' for the workbench"
            )
        return [
            sys.executable,
            "-m",
            "s3ledger.workbench.moto_app",
            "-H",
            LOOPBACK,
            "-p",
            str(self._port),
        ]

    def _answers(self) -> bool:
        # moto's own API; any HTTP status, even an error, proves the server is serving.
        url = f"{self.endpoint_url}/moto-api/data.json"
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - a fixed http URL
                return True
        except urllib.error.HTTPError:
            return True
        except (urllib.error.URLError, OSError):
            return False

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MotoServer {self.endpoint_url} {state}>"

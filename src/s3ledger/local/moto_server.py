"""Run moto's server (S3 and SQS) as a child process on 127.0.0.1.

moto serves every AWS service it emulates on one port; the workbench uses it for S3 and SQS only
(DynamoDB comes from DynamoDB Local, see :mod:`s3ledger.local.dynamodb_local`). The server is
started with ``python -m moto.server -H 127.0.0.1 -p PORT``, so unlike DynamoDB Local it listens on
loopback only.

moto keeps its S3 and SQS state IN MEMORY ONLY: buckets, objects and queued messages vanish when
the process stops, and there is no option to persist them.

What moto's S3 -> SQS notifications look like (moto 5.2.5), so that no one is surprised:

* the body is ``{"Records": [...]}`` with ``eventName``, ``eventTime``, ``s3.bucket.name`` and
  ``s3.object.key``/``size``/``eTag``, but NO ``sequencer`` and NO ``versionId``;
* the key is encoded with ``urllib.parse.quote_plus``: a space is ``+``, ``+`` is ``%2B`` and
  ``/`` is ``%2F`` (AWS leaves ``/`` as is); parsing with ``unquote_plus`` copes with both;
* configuring a notification sends one ``s3:TestEvent`` message to the queue first.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Self, overload

import boto3
from botocore.config import Config

from s3ledger.local.dynamodb_local import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    REGION,
    free_port,
)
from s3ledger.local.errors import PortInUseError, WorkbenchError

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

__all__ = ["DEFAULT_PORT", "MotoServer", "aws_client"]

DEFAULT_PORT = 4566
"""The conventional port of a local AWS emulator (LocalStack's), used by the workbench."""

_LOOPBACK = "127.0.0.1"
_STARTUP_TIMEOUT_S = 20.0
_STOP_TIMEOUT_S = 10.0
_POLL_INTERVAL_S = 0.1
_LOG_TAIL_LINES = 20


def _port_is_free(port: int) -> bool:
    """Tell whether ``port`` can be bound on 127.0.0.1 (a TIME_WAIT leftover does not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((_LOOPBACK, port))
        except OSError:
            return False
        return True


@overload
def aws_client(service: Literal["s3"], endpoint_url: str, **config: Any) -> S3Client: ...
@overload
def aws_client(service: Literal["sqs"], endpoint_url: str, **config: Any) -> SQSClient: ...
@overload
def aws_client(service: str, endpoint_url: str, **config: Any) -> Any: ...
def aws_client(service: str, endpoint_url: str, **config: Any) -> Any:
    """Build a boto3 client for a local endpoint, with dummy credentials and us-east-1.

    Credentials and region are passed explicitly (the process environment is not touched).
    ``config`` overrides the :class:`botocore.config.Config` defaults below, key by key.
    """
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 3},
        "connect_timeout": 2,
        "read_timeout": 30,
        "max_pool_connections": 32,
    }
    if service == "s3":
        # Path-style: virtual-host style would need <bucket>.127.0.0.1 to resolve.
        options["s3"] = {"addressing_style": "path"}
    options.update(config)
    return boto3.client(
        service,  # type: ignore[call-overload]  # a str, not one of boto3's service literals
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=Config(**options),
    )


class MotoServer:
    """One moto server (S3, SQS) on ``127.0.0.1:port``; use as a context manager.

    ``port=None`` picks a free port. State lives in the process's memory only: stopping the
    server loses every bucket, object and message. The process's stdout and stderr go to a
    temporary log file (:attr:`log_path`), so no pipe can fill up and block it.
    """

    def __init__(self, port: int | None = None) -> None:
        self._port = port if port is not None else free_port()
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``endpoint_url=`` of boto3 clients."""
        return f"http://{_LOOPBACK}:{self._port}"

    @property
    def log_path(self) -> Path | None:
        """The file receiving the process's stdout and stderr while it runs."""
        return self._log_path

    @property
    def running(self) -> bool:
        """Whether the process was started and has not exited."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The process id while started, else ``None``."""
        return None if self._process is None else self._process.pid

    def command(self) -> list[str]:
        """The command line :meth:`start` runs (this interpreter, so moto is the venv's)."""
        return [sys.executable, "-m", "moto.server", "-H", _LOOPBACK, "-p", str(self._port)]

    def start(self) -> Self:
        """Start the server and wait (up to ~20 s) until it answers HTTP."""
        if self._process is not None:
            raise WorkbenchError(f"moto server on port {self._port} is already started")
        if not _port_is_free(self._port):
            raise PortInUseError(
                f"port {self._port} is in use on {_LOOPBACK}; pick another with --aws-port"
            )
        fd, log_name = tempfile.mkstemp(prefix=f"moto-server-{self._port}-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            # The command is this interpreter plus fixed flags, never user text.
            self._process = subprocess.Popen(  # noqa: S603
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()  # the error message already carries the log's last lines
            raise
        return self

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

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + _STARTUP_TIMEOUT_S
        while True:
            process = self._process
            assert process is not None  # noqa: S101 - set by start() before this call
            code = process.poll()
            if code is not None:
                raise WorkbenchError(
                    f"moto server exited with code {code} while starting on port "
                    f"{self._port}; last output:\n{self._log_tail()}"
                )
            if self._answers():
                return
            if time.monotonic() >= deadline:
                raise WorkbenchError(
                    f"moto server did not answer on {self.endpoint_url} within "
                    f"{_STARTUP_TIMEOUT_S:.0f} s; last output:\n{self._log_tail()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _log_tail(self) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "(no output captured)"
        with self._log_path.open(encoding="utf-8", errors="replace") as log:
            tail = deque(log, maxlen=_LOG_TAIL_LINES)
        return "".join(tail).rstrip() or "(no output)"

    def stop(self) -> None:
        """Terminate the process (SIGTERM), kill it if it lingers; idempotent."""
        atexit.unregister(self.stop)
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<MotoServer {self.endpoint_url} {state}>"

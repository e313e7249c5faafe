"""Run Amazon's DynamoDB Local (the official Java emulator) as a child process.

Where it lives (:func:`default_home`): ``$S3LEDGER_DYNAMODB_LOCAL_HOME`` if set; else, in a
checkout, ``.cache/dynamodb-local`` at the repository root, where ``make setup`` puts it; else
(an installed ``s3ledger``) the per-user cache, ``~/.cache/s3ledger/dynamodb-local-<version>``,
which the first start fills (:mod:`s3ledger.workbench.fetch`: pinned, sha512 verified, and the
``java/LoopbackDynamoDBLocal.java`` launcher compiled into its ``launcher/`` subdirectory, which
needs a JDK: ``javac``).

Network exposure: the emulator LISTENS ON 127.0.0.1 ONLY. DynamoDB Local itself has no
bind-address option (its ``-help`` lists only ``-port``, ``-inMemory``, ``-dbPath``,
``-sharedDb``, ``-cors``, ``-delayTransientStatuses``, ``-optimizeDbBeforeStartup``,
``-disableTelemetry``, ``-version``) and, started with ``java -jar``, builds its Jetty server
from a port number alone, i.e. listens on all interfaces. So it is not started with
``java -jar`` but through the ``LoopbackDynamoDBLocal`` launcher, which takes the same
arguments, builds the server exactly as DynamoDB Local's ``main`` does, sets the host of its
Jetty connector to 127.0.0.1 before starting it, and exits (code 2) rather than run if it
cannot, or if the socket ends up bound anywhere else. The JVM runs with
``-Djava.net.preferIPv4Stack=true``, so the socket is a plain IPv4 ``127.0.0.1:PORT`` one (no
IPv6 listener at all). Any local user can still reach it (it accepts any credentials); no
other machine can. This module also checks that the port is free on 127.0.0.1 before starting.

The emulator is started with ``-sharedDb`` in both modes (in memory and on disk), so every
client sees the same tables whatever access key and region it sends.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from s3ledger.workbench.errors import MissingDependencyError
from s3ledger.workbench.fetch import (
    JAR_NAME,
    LAUNCHER_CLASS,
    LAUNCHER_SOURCE,
    LIB_DIR_NAME,
    ensure_dynamodb_local,
    user_cache_home,
)
from s3ledger.workbench.process import LOOPBACK, LocalProcess

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

__all__ = [
    "DEFAULT_HOME",
    "DUMMY_ACCESS_KEY_ID",
    "DUMMY_SECRET_ACCESS_KEY",
    "HOME_ENV_VAR",
    "REGION",
    "DynamoDBLocal",
    "default_home",
    "dynamodb_client",
    "free_port",
    "local_client",
]

# src/s3ledger/workbench/dynamodb_local.py -> parents: workbench, s3ledger, src, <checkout>
DEFAULT_HOME = Path(__file__).resolve().parents[3] / ".cache" / "dynamodb-local"
"""Where ``make setup`` installs DynamoDB Local in a checkout (``<repo>/.cache/dynamodb-local``);
an installed package has no such directory and uses the per-user cache instead."""

HOME_ENV_VAR = "S3LEDGER_DYNAMODB_LOCAL_HOME"
"""Environment variable that overrides :func:`default_home`."""

REGION = "us-east-1"
DUMMY_ACCESS_KEY_ID = "test"
DUMMY_SECRET_ACCESS_KEY = "test"  # noqa: S105 - DynamoDB Local accepts any credentials

_LAUNCHER_DIR_NAME = "launcher"
_JVM_OPTIONS = ("-Xmx512m", "-XX:+UseSerialGC", "-Djava.net.preferIPv4Stack=true")


def default_home() -> Path:
    """The DynamoDB Local directory: ``$S3LEDGER_DYNAMODB_LOCAL_HOME``, else the checkout's
    (:data:`DEFAULT_HOME`, if ``make setup`` filled it), else the per-user cache."""
    override = os.environ.get(HOME_ENV_VAR)
    if override:
        return Path(override).expanduser()
    if (DEFAULT_HOME / JAR_NAME).is_file():
        return DEFAULT_HOME
    return user_cache_home()


def free_port() -> int:
    """Return a TCP port that is free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def dynamodb_client(endpoint_url: str, **config: Any) -> DynamoDBClient:
    """Build a boto3 DynamoDB client for a local endpoint, with dummy credentials.

    ``config`` overrides :func:`local_client`'s :class:`botocore.config.Config` defaults.
    """
    client: DynamoDBClient = local_client("dynamodb", endpoint_url, **config)
    return client


def local_client(service: str, endpoint_url: str, **config: Any) -> Any:
    """Build a boto3 ``service`` client for a local endpoint, with dummy credentials.

    Credentials and region are passed explicitly (the process environment is not touched).
    ``config`` overrides the :class:`botocore.config.Config` defaults below, key by key.
    """
    options: dict[str, Any] = {
        "retries": {"mode": "standard", "max_attempts": 3},
        "connect_timeout": 2,
        "read_timeout": 10,
        "max_pool_connections": 32,
    }
    options.update(config)
    return boto3.client(
        service,  # type: ignore[call-overload]  # a str, not one of boto3's service literals
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=Config(**options),
    )


class DynamoDBLocal(LocalProcess):
    """One DynamoDB Local process on ``127.0.0.1:port``; use as a context manager.

    ``port=None`` picks a free port. ``data_dir=None`` keeps the tables in memory; otherwise
    they persist in ``data_dir/shared-local-instance.db``. ``home=None`` means
    :func:`default_home`; when that is the per-user cache, :meth:`start` fetches DynamoDB Local
    into it first if it is not there yet. The process's stdout and stderr go to a temporary log file
    (:attr:`log_path`), so no pipe can fill up and block it. :meth:`start` waits (up to ~30 s)
    until it answers ``ListTables``.
    """

    name = "DynamoDB Local"
    log_prefix = "dynamodb-local"
    port_flag = "--dynamodb-port"
    startup_timeout_s = 30.0
    poll_interval_s = 0.2

    def __init__(
        self,
        port: int | None = None,
        data_dir: Path | None = None,
        home: Path | None = None,
    ) -> None:
        super().__init__(port if port is not None else free_port())
        self._data_dir = data_dir
        self._home = (home if home is not None else default_home()).resolve()
        # Only the per-user cache is filled on demand: a directory given (or set in the
        # environment) that lacks DynamoDB Local is an error that names the fix.
        self._fetch_on_start = home is None and self._home == user_cache_home().resolve()
        self._probe: DynamoDBClient | None = None

    @property
    def home(self) -> Path:
        """The directory holding ``DynamoDBLocal.jar`` and ``DynamoDBLocal_lib/``."""
        return self._home

    def command(self) -> list[str]:
        """The command line :meth:`start` runs (the java path as found on ``PATH``)."""
        java = shutil.which("java")
        if java is None:
            raise MissingDependencyError(
                "java is required to run DynamoDB Local; install a Java 17+ runtime "
                "(e.g. `apt-get install openjdk-17-jre-headless`)"
            )
        jar = self._home / JAR_NAME
        lib = self._home / LIB_DIR_NAME
        fetch = f"python -m s3ledger.workbench.fetch {self._home}"
        if not jar.is_file() or not lib.is_dir():
            raise MissingDependencyError(
                f"DynamoDB Local is not installed in {self._home}: run `make setup` in a "
                f"checkout, or `{fetch}`"
            )
        launcher_dir = self._home / _LAUNCHER_DIR_NAME
        launcher = launcher_dir / f"{LAUNCHER_CLASS}.class"
        rebuild = f"run `{fetch}` (needs javac, a JDK 17+)"
        if not launcher.is_file():
            raise MissingDependencyError(
                f"the loopback launcher for DynamoDB Local is not built in {launcher_dir}: "
                f"{rebuild}"
            )
        if launcher.stat().st_mtime_ns < LAUNCHER_SOURCE.stat().st_mtime_ns:
            raise MissingDependencyError(
                f"the loopback launcher in {launcher_dir} is older than {LAUNCHER_SOURCE}: "
                f"{rebuild}"
            )
        if self._data_dir is None:
            storage = ["-inMemory"]
        else:
            storage = ["-dbPath", str(self._data_dir.resolve())]
        # DynamoDB Local has no bind-address flag: the launcher (same arguments as the jar's
        # main) binds it to 127.0.0.1 only; the jar's manifest Class-Path brings in the lib.
        return [
            java,
            *_JVM_OPTIONS,
            f"-Djava.library.path={lib}",
            "-cp",
            os.pathsep.join((str(jar), str(launcher_dir))),
            LAUNCHER_CLASS,
            *storage,
            "-sharedDb",
            "-disableTelemetry",
            "-port",
            str(self._port),
        ]

    def start(self) -> Self:
        """Fetch DynamoDB Local into the per-user cache if that is its home and it is not there
        yet (see :mod:`s3ledger.workbench.fetch`), then start it."""
        if self._fetch_on_start:
            ensure_dynamodb_local(self._home)
        return super().start()

    def _prepare(self) -> None:
        if self._data_dir is not None:
            self._data_dir.mkdir(parents=True, exist_ok=True)

    def _cwd(self) -> Path:
        return self._home

    def _answers(self) -> bool:
        if self._probe is None:
            self._probe = dynamodb_client(
                self.endpoint_url,
                retries={"mode": "standard", "total_max_attempts": 1},
                connect_timeout=0.5,
                read_timeout=2,
            )
        try:
            self._probe.list_tables(Limit=1)
        except (BotoCoreError, ClientError):
            return False
        return True

    def _probe_done(self) -> None:
        probe, self._probe = self._probe, None
        if probe is not None:
            probe.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        where = "in memory" if self._data_dir is None else str(self._data_dir)
        return f"<DynamoDBLocal {self.endpoint_url} {where} {state}>"

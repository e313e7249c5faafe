"""Child processes of the local workbench (DynamoDB Local, moto): start, wait, stop, no orphans.

:class:`LocalProcess` holds what every emulator process shares: a TCP port on 127.0.0.1, the
"is the port free" check before starting, stdout and stderr sent to a temporary log file (never
a pipe, which could fill up and block the child), a readiness wait that reports the log's last
lines if the child dies or stays silent, and an idempotent :meth:`LocalProcess.stop` that is
also registered with :mod:`atexit`.

``atexit`` does not run when the Python parent is killed (SIGKILL, an OOM kill), so on Linux
the child is also asked to receive SIGTERM when its parent dies (``PR_SET_PDEATHSIG``): a
killed test run leaves no emulator behind. This is set by a tiny Python shim that calls
``prctl`` and then ``exec``s the real command (same pid), not by ``preexec_fn``, which is
unsafe when the parent has threads (and a test session may have some). Caveat of
``PR_SET_PDEATHSIG``: "parent" means the *thread* that started the child, so start these
processes from a thread that outlives them (the main thread, as every caller here does).
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections import deque
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from s3ledger.workbench.errors import PortInUseError, WorkbenchError

__all__ = ["LOOPBACK", "LocalProcess", "StartStop", "port_is_free"]

LOOPBACK = "127.0.0.1"
"""The only address the workbench's processes are reached on."""

_STOP_TIMEOUT_S = 10.0
_LOG_TAIL_LINES = 20

# Run as `python -I -S -c _ORPHAN_GUARD <parent pid> <command...>`; PR_SET_PDEATHSIG is 1
# (linux/prctl.h) and survives execve. If the parent died before prctl took effect, the child
# has already been reparented, so getppid() tells, and the command is not run at all.
_ORPHAN_GUARD = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0) != 0:
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != int(sys.argv[1]):
    sys.exit(1)
os.execvp(sys.argv[2], sys.argv[2:])
"""


def port_is_free(port: int) -> bool:
    """Tell whether ``port`` can be bound on 127.0.0.1.

    SO_REUSEADDR keeps TIME_WAIT leftovers from counting as "in use" (Jetty sets it too),
    while a socket LISTENING on that port, including a wildcard ``*:port`` one, still blocks.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
        return True


class StartStop(ABC):
    """Context-manager support for anything with ``start() -> Self`` and ``stop()``."""

    @abstractmethod
    def start(self) -> Self:
        """Start; return ``self``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop; idempotent."""

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class LocalProcess(StartStop):
    """One child process serving on ``127.0.0.1:port``; use as a context manager.

    Subclasses give :meth:`command`, the readiness probe :meth:`_answers`, and the class
    attributes below. :meth:`start` refuses a busy port (:class:`PortInUseError` naming
    :attr:`port_flag`), spawns the command with stdout and stderr going to a temporary log file
    (:attr:`log_path`), and polls :meth:`_answers` until it says yes; if the child exits or
    does not answer within :attr:`startup_timeout_s`, it is stopped and :class:`WorkbenchError`
    carries the log's last lines.
    """

    name: ClassVar[str]
    """How messages call the process, e.g. ``"moto server"``."""
    log_prefix: ClassVar[str]
    """Start of the log file's name, e.g. ``"moto-server"``."""
    port_flag: ClassVar[str]
    """The CLI flag that picks another port, named when the port is in use."""
    startup_timeout_s: ClassVar[float]
    poll_interval_s: ClassVar[float]

    def __init__(self, port: int) -> None:
        self._port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def port(self) -> int:
        """The TCP port the process listens on."""
        return self._port

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``, for ``endpoint_url=`` of boto3 clients."""
        return f"http://{LOOPBACK}:{self._port}"

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

    @abstractmethod
    def command(self) -> list[str]:
        """The command line :meth:`start` runs."""

    @abstractmethod
    def _answers(self) -> bool:
        """Whether the process serves requests yet (one quick probe, no retries)."""

    def _probe_done(self) -> None:
        """Release whatever :meth:`_answers` holds; called once the readiness wait ends."""

    def _prepare(self) -> None:
        """Get ready to spawn (the port is free by now); nothing by default."""

    def _cwd(self) -> Path | None:
        """The child's working directory; ``None`` keeps this process's."""
        return None

    def start(self) -> Self:
        """Start the process and wait (up to :attr:`startup_timeout_s`) until it answers."""
        if self._process is not None:
            raise WorkbenchError(f"{self.name} on port {self._port} is already started")
        command = self.command()  # first, so a missing dependency is reported as such
        if not port_is_free(self._port):
            raise PortInUseError(
                f"port {self._port} is in use on {LOOPBACK}; pick another with {self.port_flag}"
            )
        self._prepare()
        if sys.platform == "linux":
            command = [sys.executable, "-I", "-S", "-c", _ORPHAN_GUARD, str(os.getpid()), *command]
        fd, log_name = tempfile.mkstemp(prefix=f"{self.log_prefix}-{self._port}-", suffix=".log")
        self._log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log:
            # The command is built from fixed flags and resolved paths, never from user text.
            self._process = subprocess.Popen(  # noqa: S603
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self._cwd(),
            )
        atexit.register(self.stop)
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()  # the error message already carries the log's last lines
            raise
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while True:
                process = self._process
                assert process is not None  # noqa: S101 - set by start() before this call
                code = process.poll()
                if code is not None:
                    raise WorkbenchError(
                        f"{self.name} exited with code {code} while starting on port "
                        f"{self._port}; last output:\n{self._log_tail()}"
                    )
                if self._answers():
                    return
                if time.monotonic() >= deadline:
                    raise WorkbenchError(
                        f"{self.name} did not answer on {self.endpoint_url} within "
                        f"{self.startup_timeout_s:.0f} s; last output:\n{self._log_tail()}"
                    )
                time.sleep(self.poll_interval_s)
        finally:
            self._probe_done()

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

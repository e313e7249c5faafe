"""The stand-in's Step Functions API: state machines, their executions (each on a thread), and
the calls the CLI makes (``StartExecution``, ``DescribeExecution``, ``StopExecution``,
``ListMapRuns``, ``DescribeMapRun``), served over HTTP in Step Functions' own JSON protocol
(``X-Amz-Target: AWSStepFunctions.<Operation>``, ``application/x-amz-json-1.0``) on 127.0.0.1,
so that boto3 talks to it as to AWS (``AWS_ENDPOINT_URL_SFN``).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Final

from s3ledger.workbench.process import LOOPBACK
from s3ledger.workbench.stepfunctions.distributed import MapRun
from s3ledger.workbench.stepfunctions.machine import (
    Ending,
    Invoker,
    Runtime,
    check_definition,
    run_states,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["ApiError", "Execution", "StepFunctionsService"]

ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"


class ApiError(Exception):
    """An error answer of the API (``ExecutionDoesNotExist``, ``StateMachineDoesNotExist``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class Execution(Ending):
    """One execution of a state machine, run on its own thread."""

    arn: str
    state_machine_arn: str
    name: str
    input: Any
    runtime: Runtime
    map_runs: list[MapRun] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "executionArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "name": self.name,
            "status": self.status,
            "startDate": self.started.timestamp(),
            "input": json.dumps(self.input),
        }
        if self.stopped is not None:
            described["stopDate"] = self.stopped.timestamp()
        if self.status == "SUCCEEDED":
            described["output"] = json.dumps(self.output)
        if self.error is not None:
            described.update(error=self.error, cause=self.cause or "")
        return described


class StepFunctionsService:
    """State machines and executions; ``invoke`` runs the Lambda tasks, ``s3`` the S3 ones."""

    def __init__(
        self, invoke: Invoker, s3: S3Client, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._invoke = invoke
        self._s3 = s3
        self._sleep = sleep  # Retry's pauses (tests shorten them)
        self._machines: dict[str, Mapping[str, Any]] = {}
        self._executions: dict[str, Execution] = {}
        self._lock = threading.Lock()

    def create_state_machine(self, name: str, definition: Mapping[str, Any]) -> str:
        check_definition(definition)
        arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{name}"
        self._machines[arn] = definition
        return arn

    def start_execution(self, arn: str, document: Any, name: str | None = None) -> Execution:
        if arn not in self._machines:
            raise ApiError("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{arn}'")
        name = name or str(uuid.uuid4())
        machine = arn.rsplit(":", 1)[-1]
        execution_arn = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{machine}:{name}"
        runtime = Runtime(self._invoke, self._s3, execution_arn, arn, sleep=self._sleep)
        execution = Execution(execution_arn, arn, name, document, runtime)
        runtime.on_map_run = execution.map_runs.append
        with self._lock:
            if execution_arn in self._executions:
                raise ApiError("ExecutionAlreadyExists", f"Execution Already Exists: '{name}'")
            self._executions[execution_arn] = execution
        threading.Thread(
            target=self._run, args=(execution,), name=f"sfn-{name[:8]}", daemon=True
        ).start()
        return execution

    def _run(self, execution: Execution) -> None:
        context = {
            "Execution": {"Id": execution.arn, "Name": execution.name, "Input": execution.input},
            "StateMachine": {"Id": execution.state_machine_arn},
        }
        definition = self._machines[execution.state_machine_arn]
        execution.end(lambda: run_states(definition, execution.input, context, execution.runtime))
        execution.done.set()

    def execution(self, arn: str) -> Execution:
        found = self._executions.get(arn)
        if found is None:
            raise ApiError("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return found

    def stop_execution(self, arn: str) -> None:
        self.execution(arn).runtime.stopped.set()

    def map_run(self, arn: str) -> MapRun:
        for execution in list(self._executions.values()):
            for run in execution.map_runs:
                if run.arn == arn:
                    return run
        raise ApiError("ResourceNotFound", f"Map Run Does Not Exist: '{arn}'")

    def call(self, operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
        """One API call, as the HTTP front end receives it."""
        calls: dict[str, Callable[[], dict[str, Any]]] = {
            "StartExecution": lambda: self._started(request),
            "DescribeExecution": lambda: self.execution(request["executionArn"]).describe(),
            "StopExecution": lambda: self._stopped(request["executionArn"]),
            "ListMapRuns": lambda: {
                "mapRuns": [
                    run.list_item() for run in self.execution(request["executionArn"]).map_runs
                ]
            },
            "DescribeMapRun": lambda: self.map_run(request["mapRunArn"]).describe(),
        }
        if operation not in calls:
            raise ApiError("UnknownOperationException", f"{operation} is not served here")
        return calls[operation]()

    def _started(self, request: Mapping[str, Any]) -> dict[str, Any]:
        document = json.loads(request.get("input") or "{}")
        execution = self.start_execution(request["stateMachineArn"], document, request.get("name"))
        return {"executionArn": execution.arn, "startDate": execution.started.timestamp()}

    def _stopped(self, arn: str) -> dict[str, Any]:
        self.stop_execution(arn)
        return {"stopDate": datetime.now(UTC).timestamp()}

    def serve(self, port: int = 0) -> ThreadingHTTPServer:
        """Serve the API on 127.0.0.1 (``port`` 0: a free one) from a daemon thread."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                operation = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = service.call(operation, json.loads(self.rfile.read(length) or b"{}"))
                    status = 200
                except ApiError as error:
                    body, status = {"__type": error.code, "message": str(error)}, 400
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return None  # no access log on the console

        server = ThreadingHTTPServer((LOOPBACK, port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="sfn-api", daemon=True).start()
        return server

"""The bulk state machine on the workbench: the template's own definition, run by the stand-in
(:mod:`.machine`, :mod:`.distributed`) with the bulk handler called in this process as Lambda
would call it, and the Step Functions API served on 127.0.0.1 (:mod:`.service`).

>>> standin = BulkStandIn(load_bulk_spec(), s3=s3, dynamodb=dynamodb,         # doctest: +SKIP
...                       ledger_table="l", audit_table="a", results_bucket="r")
>>> endpoint = standin.serve()            # export AWS_ENDPOINT_URL_SFN=endpoint
>>> standin.state_machine_arn             # what --state-machine takes
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.config import DEFAULT_STACK_NAME, Settings
from s3ledger.pipeline.bulk.handler import BulkClients, handle
from s3ledger.workbench.context import LocalContext
from s3ledger.workbench.dynamodb_local import dynamodb_client
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.stepfunctions.machine import Usage
from s3ledger.workbench.stepfunctions.paths import StatesError, UnsupportedDefinition
from s3ledger.workbench.stepfunctions.service import ACCOUNT, REGION, StepFunctionsService
from s3ledger.workbench.stepfunctions.spec import BulkSpec, load_bulk_spec, substitute

if TYPE_CHECKING:
    from http.server import ThreadingHTTPServer

    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["BULK_HANDLER", "BulkStandIn", "FunctionUsage", "start_bulk_standin"]

# The one handler the stand-in can call in-process (the template's BulkFunction Handler).
BULK_HANDLER: Final = "s3ledger.pipeline.bulk.handler.bulk_handler"


class FunctionUsage:
    """Invocations of the bulk function and the time they took (Lambda's billed duration)."""

    def __init__(self) -> None:
        self.invocations = 0
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add(self, seconds: float) -> None:
        with self._lock:
            self.invocations += 1
            self.seconds += seconds


class BulkStandIn:
    """The template's bulk state machine, runnable on the workbench."""

    def __init__(
        self,
        spec: BulkSpec,
        *,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        ledger_table: str,
        audit_table: str,
        results_bucket: str,
    ) -> None:
        if spec.handler != BULK_HANDLER:
            raise UnsupportedDefinition(f"the stand-in calls {BULK_HANDLER}, not {spec.handler}")
        self.spec = spec
        self.function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.function_name}"
        self.function_usage = FunctionUsage()
        self.results_bucket = results_bucket
        settings = Settings(mode="inbox", ledger_table=ledger_table, audit_table=audit_table)
        self._clients = BulkClients(dynamodb, s3, settings, spec.limits)
        with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
            s3.create_bucket(Bucket=results_bucket)
        values = {}
        for name, (kind, _) in spec.substitutions.items():
            values[name] = self.function_arn if kind == "function" else results_bucket
        self.service = StepFunctionsService(self._invoke, s3)
        definition = substitute(spec.definition, values)
        self.state_machine_arn = self.service.create_state_machine(
            spec.state_machine_name, definition
        )
        self._server: ThreadingHTTPServer | None = None

    def _invoke(self, function: str, payload: Any) -> Any:
        """Lambda's synchronous invoke: the handler's answer, or its error by type name."""
        if function not in {self.function_arn, self.spec.function_name}:
            raise StatesError("Lambda.ResourceNotFoundException", f"Function not found: {function}")
        context = LocalContext(
            timeout_seconds=float(self.spec.timeout), function_name=self.spec.function_name
        )
        started = time.perf_counter()
        try:
            return handle(payload, context, self._clients)
        except Exception as exc:  # what Lambda reports as the function's error
            raise StatesError(type(exc).__name__, str(exc)) from exc
        finally:
            self.function_usage.add(time.perf_counter() - started)

    def usage(self, execution_arn: str) -> Usage:
        """What one execution would be billed for on Step Functions."""
        return self.service.execution(execution_arn).runtime.usage

    def serve(self, port: int = 0) -> str:
        """Serve the Step Functions API; its endpoint (``AWS_ENDPOINT_URL_SFN``)."""
        self._server = self.service.serve(port)
        host, bound = self._server.server_address[:2]
        return f"http://{host!s}:{bound}"

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_bulk_standin(
    dynamodb_endpoint: str,
    aws_endpoint: str,
    *,
    ledger_table: str,
    audit_table: str,
    overrides: Mapping[str, str] | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
    results_bucket: str | None = None,
) -> BulkStandIn:
    """The template's bulk state machine on a workbench's DynamoDB Local and moto, with clients
    whose connection pools fit its concurrency; not yet served (call :meth:`BulkStandIn.serve`)."""

    spec = load_bulk_spec(overrides=overrides, stack_name=stack_name)
    pool = {"max_pool_connections": spec.limits.max_concurrency * 2 + 16}
    return BulkStandIn(
        spec,
        s3=aws_client("s3", aws_endpoint, **pool),
        dynamodb=dynamodb_client(dynamodb_endpoint, **pool),
        ledger_table=ledger_table,
        audit_table=audit_table,
        results_bucket=results_bucket or f"{stack_name}-bulk-results",
    )

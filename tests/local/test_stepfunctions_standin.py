"""The Step Functions stand-in's Distributed Map, against moto's S3 over HTTP, with a Lambda
stand-in whose answers each test chooses: batching, MaxConcurrency, Retry, tolerated failures,
Map Run counts, the ResultWriter report, stopping, and refusing what it does not model."""

from __future__ import annotations

import copy
import json
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.stepfunctions import (
    StatesError,
    StepFunctionsService,
    UnsupportedDefinition,
    load_bulk_spec,
)
from s3ledger.workbench.stepfunctions.machine import check_definition
from s3ledger.workbench.stepfunctions.spec import substitute


def map_definition(**fields: Any) -> dict[str, Any]:
    """A one-state machine: a Distributed Map over the input's ``items``, each batch handed to
    function ``f`` (retried on ``Throttled``), reports written to ``results``."""
    state: dict[str, Any] = {
        "Type": "Map",
        "ItemsPath": "$.items",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Call",
            "States": {
                "Call": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "f", "Payload.$": "$"},
                    "OutputPath": "$.Payload",
                    "Retry": [
                        {
                            "ErrorEquals": ["Throttled"],
                            "IntervalSeconds": 1,
                            "MaxAttempts": 2,
                            "BackoffRate": 2,
                        }
                    ],
                    "End": True,
                }
            },
        },
        "ResultWriter": {
            "Resource": "arn:aws:states:::s3:putObject",
            "Parameters": {"Bucket.$": "$.results", "Prefix": "runs"},
        },
        "End": True,
    }
    state.update(fields)
    return {"StartAt": "Fan", "States": {"Fan": state}}


class Functions:
    """The Lambda stand-in: ``answer(payload)`` decides; calls and concurrency are counted."""

    def __init__(self, answer: Callable[[Any], Any]) -> None:
        self.answer = answer
        self.payloads: list[Any] = []
        self.running = self.most = 0
        self._lock = threading.Lock()

    def __call__(self, function: str, payload: Any) -> Any:
        with self._lock:
            self.payloads.append(payload)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            return self.answer(payload)
        except StatesError:
            raise
        except Exception as exc:  # as Lambda reports a function error: by its type's name
            raise StatesError(type(exc).__name__, str(exc)) from exc
        finally:
            with self._lock:
                self.running -= 1


@pytest.fixture
def results(aws_endpoint: str) -> str:
    bucket = f"sfn-{uuid.uuid4().hex[:8]}"
    aws_client("s3", aws_endpoint).create_bucket(Bucket=bucket)
    return bucket


def run(
    aws_endpoint: str, definition: dict[str, Any], functions: Functions, document: Any
) -> tuple[StepFunctionsService, Any]:
    pauses: list[float] = []
    service = StepFunctionsService(functions, aws_client("s3", aws_endpoint), pauses.append)
    arn = service.create_state_machine("t", definition)
    execution = service.start_execution(arn, document)
    assert execution.done.wait(30)
    return service, execution


def test_the_templates_own_definition_is_what_the_stand_in_runs() -> None:
    """Every state, field and resource of template.yaml's bulk state machine is one the
    stand-in executes; a field it does not model is refused, not ignored."""
    spec = load_bulk_spec()
    definition = substitute(spec.definition, {"BulkFunctionArn": "f", "ResultsBucket": "r"})
    check_definition(definition)
    changed = copy.deepcopy(definition)
    changed["States"]["FromListing"]["ItemReader"]["ReaderConfig"] = {"MaxItems": 10}
    with pytest.raises(UnsupportedDefinition, match="ItemReader"):
        check_definition(changed)
    changed = copy.deepcopy(definition)
    changed["States"]["Prepare"]["Catch"] = []
    with pytest.raises(UnsupportedDefinition, match="Catch"):
        check_definition(changed)


def test_items_are_batched_by_count_and_by_bytes(aws_endpoint: str, results: str) -> None:
    """ItemBatcher: at most MaxItemsPerBatch items, and a batch closes before it would pass
    MaxInputBytesPerBatch; BatchInput rides along with every batch."""
    items = [{"k": f"{i:03d}", "pad": "x" * (500 if i >= 20 else 1)} for i in range(30)]
    batcher = {"MaxItemsPerBatch": 8, "MaxInputBytesPerBatch": 2000, "BatchInput": {"run.$": "$.r"}}
    functions = Functions(lambda payload: {"n": len(payload["Items"])})
    _, execution = run(
        aws_endpoint,
        map_definition(ItemBatcher=batcher),
        functions,
        {"items": items, "r": "R", "results": results},
    )
    assert execution.status == "SUCCEEDED", execution.cause
    sizes = sorted(len(p["Items"]) for p in functions.payloads)
    assert sum(sizes) == 30
    assert max(sizes) == 8
    assert all(len(json.dumps(p).encode()) <= 2000 for p in functions.payloads)
    large = [sum(i["k"] >= "020" for i in p["Items"]) for p in functions.payloads]
    assert max(large) == 3  # a fourth 500-byte item would pass 2,000 bytes
    assert all(p["BatchInput"] == {"run": "R"} for p in functions.payloads)


def test_max_concurrency_bounds_the_children_running_at_once(
    aws_endpoint: str, results: str
) -> None:
    """With MaxConcurrency 3, never more than 3 batches run at once, and 3 do."""

    def slow(payload: Any) -> Any:
        time.sleep(0.05)
        return {}

    functions = Functions(slow)
    _, execution = run(
        aws_endpoint,
        map_definition(MaxConcurrency=3),
        functions,
        {"items": list(range(24)), "results": results},
    )
    assert execution.status == "SUCCEEDED"
    assert functions.most == 3
    assert len(functions.payloads) == 24


def test_throttling_is_retried_and_other_errors_fail_their_item(
    aws_endpoint: str, results: str
) -> None:
    """``Throttled`` is retried (twice at most: the third throttle fails the item); any other
    error fails its item at once. Beyond the tolerated percentage the Map Run, and so the
    execution, fails with States.ExceedToleratedFailureThreshold; the counts say why."""
    tries: dict[int, int] = {}

    def answer(item: int) -> Any:
        tries[item] = tries.get(item, 0) + 1
        if item < 3 and tries[item] <= 2:
            raise StatesError("Throttled", "slow down")  # recovers on the third try
        if item == 3:
            raise StatesError("Throttled", "slow down")  # never recovers
        if item == 4:
            raise StatesError("Boom", "a bug")
        return {"ok": item}

    service, execution = run(
        aws_endpoint,
        map_definition(ToleratedFailurePercentage=10),
        Functions(answer),
        {"items": list(range(10)), "results": results},
    )
    assert (tries[0], tries[3], tries[4]) == (3, 3, 1)
    assert execution.status == "FAILED"
    assert execution.error == "States.ExceedToleratedFailureThreshold"
    (run_,) = execution.map_runs
    counts = service.map_run(run_.arn).describe()["itemCounts"]
    assert (counts["succeeded"], counts["failed"], counts["total"]) == (8, 2, 10)

    _, tolerant = run(
        aws_endpoint,
        map_definition(ToleratedFailurePercentage=20),
        Functions(
            lambda item: (
                {"ok": item} if item != 4 else (_ for _ in ()).throw(StatesError("Boom", "a bug"))
            )
        ),
        {"items": list(range(10)), "results": results},
    )
    assert tolerant.status == "SUCCEEDED"


def test_the_result_writer_report_names_every_child(aws_endpoint: str, results: str) -> None:
    """The Map's output points at a manifest that lists the SUCCEEDED and FAILED files; each
    record holds its child's input and output (or error), as the Developer Guide shows."""
    functions = Functions(lambda item: {"double": item * 2} if item != 2 else 1 / 0)
    _, execution = run(
        aws_endpoint,
        map_definition(ToleratedFailurePercentage=50),
        functions,
        {"items": [1, 2, 3], "results": results},
    )
    assert execution.status == "SUCCEEDED", execution.cause
    details = execution.output["ResultWriterDetails"]
    s3 = aws_client("s3", aws_endpoint)
    manifest = json.loads(
        s3.get_object(Bucket=details["Bucket"], Key=details["Key"])["Body"].read()
    )
    files = manifest["ResultFiles"]
    assert (len(files["SUCCEEDED"]), len(files["FAILED"])) == (1, 1)
    succeeded = json.loads(
        s3.get_object(Bucket=results, Key=files["SUCCEEDED"][0]["Key"])["Body"].read()
    )
    assert sorted(json.loads(r["Output"])["double"] for r in succeeded) == [2, 6]
    (failed,) = json.loads(
        s3.get_object(Bucket=results, Key=files["FAILED"][0]["Key"])["Body"].read()
    )
    assert (json.loads(failed["Input"]), failed["Error"]) == (2, "ZeroDivisionError")


def test_a_stopped_execution_ends_aborted(aws_endpoint: str, results: str) -> None:
    """StopExecution: children still to start never start, the execution ends ABORTED."""
    started = threading.Event()

    def slow(item: int) -> Any:
        started.set()
        time.sleep(0.2)
        return {}

    functions = Functions(slow)
    service = StepFunctionsService(functions, aws_client("s3", aws_endpoint))
    arn = service.create_state_machine("t", map_definition(MaxConcurrency=1))
    execution = service.start_execution(arn, {"items": list(range(50)), "results": results})
    assert started.wait(10)
    service.stop_execution(execution.arn)
    assert execution.done.wait(30)
    assert execution.status == "ABORTED"
    assert len(functions.payloads) < 50

"""A Distributed Map, run on threads: ``ItemReader`` (a listing, an S3 Inventory manifest) or
``ItemsPath``, ``ItemSelector``, ``ItemBatcher``, child workflows at most ``MaxConcurrency`` at
a time, ``ToleratedFailurePercentage``/``Count``, a Map Run's item and execution counts, and the
``ResultWriter`` report.

What each field does is the Step Functions Developer Guide's: "Using Map state in Distributed
mode", "ItemReader (Map)", "ItemBatcher (Map)", "ResultWriter (Map)" and "Examining Map Runs".
Where the Guide leaves a detail open, the choice made here is named in docs/workbench.md (what
the stand-in does not model).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import threading
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from s3ledger.workbench.stepfunctions.machine import Ending, Runtime, crossing_json, run_states
from s3ledger.workbench.stepfunctions.paths import (
    StatesError,
    UnsupportedDefinition,
    fill,
    read_path,
)

__all__ = ["MapRun", "check_map", "run_map"]

LIST_OBJECTS: Final = "arn:aws:states:::s3:listObjectsV2"
GET_OBJECT: Final = "arn:aws:states:::s3:getObject"
PUT_OBJECT: Final = "arn:aws:states:::s3:putObject"
# MaxConcurrency 0 means "no limit" on AWS (up to 10,000 children); threads on one machine.
_UNLIMITED_THREADS: Final = 64


def check_map(name: str, state: Mapping[str, Any]) -> None:
    """Refuse a Map this stand-in would not run as its definition says."""
    config = state["ItemProcessor"].get("ProcessorConfig", {})
    if config.get("Mode") != "DISTRIBUTED":
        raise UnsupportedDefinition(f"state {name}: only DISTRIBUTED Maps run here")
    reader = state.get("ItemReader")
    if reader is not None:
        input_type = reader.get("ReaderConfig", {}).get("InputType")
        known = (reader["Resource"], input_type) in {(LIST_OBJECTS, None), (GET_OBJECT, "MANIFEST")}
        if not known or set(reader.get("ReaderConfig", {})) - {"InputType"}:
            raise UnsupportedDefinition(f"state {name}: ItemReader {reader} not supported")
    batcher = state.get("ItemBatcher", {})
    allowed = {"MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "BatchInput"}
    if set(batcher) - allowed:
        raise UnsupportedDefinition(f"state {name}: ItemBatcher {sorted(batcher)} not supported")
    writer = state.get("ResultWriter")
    if writer is not None and (writer["Resource"] != PUT_OBJECT or "WriterConfig" in writer):
        raise UnsupportedDefinition(f"state {name}: ResultWriter {writer} not supported")


def _epoch(value: Any) -> float:
    return value.timestamp() if isinstance(value, datetime) else float(value)


@dataclass
class _Counts:
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    aborted: int = 0
    total: int = 0
    results_written: int = 0

    def to_json(self) -> dict[str, int]:
        return {
            "pending": self.pending,
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "timedOut": 0,
            "aborted": self.aborted,
            "total": self.total,
            "resultsWritten": self.results_written,
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        }


@dataclass
class MapRun:
    """One Map Run: what ``DescribeMapRun`` and ``ListMapRuns`` report."""

    arn: str
    execution_arn: str
    state_machine_arn: str
    max_concurrency: int
    tolerated_percentage: float
    tolerated_count: int
    status: str = "RUNNING"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    stopped: datetime | None = None
    items: _Counts = field(default_factory=_Counts)
    executions: _Counts = field(default_factory=_Counts)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def describe(self) -> dict[str, Any]:
        with self.lock:
            described = {
                "mapRunArn": self.arn,
                "executionArn": self.execution_arn,
                "status": self.status,
                "startDate": self.started.timestamp(),
                "maxConcurrency": self.max_concurrency,
                "toleratedFailurePercentage": self.tolerated_percentage,
                "toleratedFailureCount": self.tolerated_count,
                "itemCounts": self.items.to_json(),
                "executionCounts": self.executions.to_json(),
                "redriveCount": 0,
            }
            if self.stopped is not None:
                described["stopDate"] = self.stopped.timestamp()
            return described

    def list_item(self) -> dict[str, Any]:
        item = {
            "executionArn": self.execution_arn,
            "mapRunArn": self.arn,
            "stateMachineArn": self.state_machine_arn,
            "startDate": self.started.timestamp(),
        }
        if self.stopped is not None:
            item["stopDate"] = self.stopped.timestamp()
        return item

    def move(self, size: int, old: str, new: str) -> None:
        """``size`` items (one child) go from count ``old`` to ``new`` (``None``: nowhere)."""
        with self.lock:
            for counts, amount in ((self.items, size), (self.executions, 1)):
                if old:
                    setattr(counts, old, getattr(counts, old) - amount)
                setattr(counts, new, getattr(counts, new) + amount)
                if not old:
                    counts.total += amount


def _listing(parameters: Mapping[str, Any], runtime: Runtime) -> Iterator[Any]:
    """ListObjectsV2 entries, as the Guide's example item shows them (LastModified in epoch
    seconds, the ETag quoted as S3 returns it)."""
    paginator = runtime.s3.get_paginator("list_objects_v2")
    request = {"Bucket": parameters["Bucket"], "Prefix": parameters.get("Prefix", "")}
    for page in paginator.paginate(**request):
        for obj in page.get("Contents") or []:
            yield {
                "Etag": obj["ETag"],
                "Key": obj["Key"],
                "LastModified": int(_epoch(obj["LastModified"])),
                "Size": obj["Size"],
                "StorageClass": obj.get("StorageClass", "STANDARD"),
            }


def _manifest_rows(parameters: Mapping[str, Any], runtime: Runtime) -> Iterator[Any]:
    """Each row of each CSV data file an S3 Inventory manifest lists, as an object keyed by the
    manifest's ``fileSchema`` (values as written: strings, keys URL-encoded)."""
    body = runtime.s3.get_object(Bucket=parameters["Bucket"], Key=parameters["Key"])["Body"]
    manifest = json.loads(body.read())
    if manifest.get("fileFormat") != "CSV":
        raise StatesError("States.ItemReaderFailed", "only CSV inventory reports are read")
    columns = [c.strip() for c in str(manifest["fileSchema"]).split(",")]
    bucket = str(manifest["destinationBucket"]).rsplit(":", 1)[-1]
    for entry in manifest["files"]:
        data = runtime.s3.get_object(Bucket=bucket, Key=entry["key"])["Body"].read()
        text = io.StringIO(gzip.decompress(data).decode())
        for row in csv.reader(text):
            yield dict(zip(columns, row, strict=True))


def _items(state: Mapping[str, Any], document: Any, context: Any, runtime: Runtime) -> Any:
    reader = state.get("ItemReader")
    if reader is None:
        items = read_path(state.get("ItemsPath", "$"), document, context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", "ItemsPath does not name an array")
        return iter(items)
    parameters = fill(reader.get("Parameters", {}), document, context)
    if reader["Resource"] == LIST_OBJECTS:
        return _listing(parameters, runtime)
    return _manifest_rows(parameters, runtime)


def _batches(
    state: Mapping[str, Any], items: Iterator[Any], document: Any, context: Any
) -> Iterator[tuple[Any, int]]:
    """Each child's input and how many items it holds, after ItemSelector and ItemBatcher."""
    selector, batcher = state.get("ItemSelector"), state.get("ItemBatcher")

    def selected() -> Iterator[Any]:
        for index, item in enumerate(items):
            if selector is None:
                yield item
            else:
                item_context = {**context, "Map": {"Item": {"Index": index, "Value": item}}}
                yield fill(selector, document, item_context)

    if batcher is None:
        yield from ((item, 1) for item in selected())
        return
    most = batcher.get("MaxItemsPerBatch")
    if "MaxItemsPerBatchPath" in batcher:
        most = read_path(batcher["MaxItemsPerBatchPath"], document, context)
    most_bytes = int(batcher.get("MaxInputBytesPerBatch", 256 * 1024))
    batch_input = fill(batcher.get("BatchInput", {}), document, context)
    batch: list[Any] = []
    size = len(json.dumps({"Items": [], "BatchInput": batch_input}).encode())
    for item in selected():
        item_size = len(json.dumps(item).encode()) + 1
        if batch and (len(batch) == most or size + item_size > most_bytes):
            yield {"Items": batch, "BatchInput": batch_input}, len(batch)
            batch, size = [], len(json.dumps({"Items": [], "BatchInput": batch_input}).encode())
        batch.append(item)
        size += item_size
    if batch:
        yield {"Items": batch, "BatchInput": batch_input}, len(batch)


def _limits(state: Mapping[str, Any], document: Any, context: Any) -> tuple[int, float, int | None]:
    """MaxConcurrency (0: no limit), the tolerated percentage, and the tolerated count (``None``
    when the definition gives none: then the percentage alone decides)."""
    concurrency = state.get("MaxConcurrency", 0)
    if "MaxConcurrencyPath" in state:
        concurrency = read_path(state["MaxConcurrencyPath"], document, context)
    percentage = state.get("ToleratedFailurePercentage", 0)
    if "ToleratedFailurePercentagePath" in state:
        percentage = read_path(state["ToleratedFailurePercentagePath"], document, context)
    count = state.get("ToleratedFailureCount")
    return int(concurrency), float(percentage), None if count is None else int(count)


@dataclass
class _Child(Ending):
    """One child workflow execution, as a ResultWriter report records it."""

    arn: str
    input: Any
    size: int

    def record(self, state_machine_arn: str) -> dict[str, Any]:
        record: dict[str, Any] = {
            "ExecutionArn": self.arn,
            "Input": json.dumps(self.input),
            "InputDetails": {"Included": True},
            "Name": self.arn.rsplit(":", 1)[-1],
            "StartDate": self.started.isoformat(),
            "StateMachineArn": state_machine_arn,
            "Status": self.status,
            "StopDate": (self.stopped or self.started).isoformat(),
        }
        if self.status == "SUCCEEDED":
            record.update(Output=json.dumps(self.output), OutputDetails={"Included": True})
        else:
            record.update(Error=self.error, Cause=self.cause)
        return record


def _run_child(
    child: _Child, processor: Mapping[str, Any], run: MapRun, context: Any, runtime: Runtime
) -> None:
    run.move(child.size, "pending", "running")
    child_context = {**context, "Execution": {"Id": child.arn, "Name": child.arn[-36:]}}
    express = processor["ProcessorConfig"].get("ExecutionType") == "EXPRESS"
    child.end(
        lambda: run_states(
            processor,
            crossing_json(child.input, "a child's input"),
            child_context,
            runtime,
            express=express,
        )
    )
    if express:  # billed per execution and duration; a Standard child per state transition
        seconds = ((child.stopped or child.started) - child.started).total_seconds()
        runtime.usage.add(requests=1, seconds=seconds)
    run.move(child.size, "running", child.status.lower())


def _children(
    state: Mapping[str, Any], run: MapRun, document: Any, context: Any, runtime: Runtime
) -> list[_Child]:
    """Start every child, at most ``max_concurrency`` at a time, as the items are read."""
    threads = run.max_concurrency or _UNLIMITED_THREADS
    window = threading.BoundedSemaphore(threads * 2)  # read ahead, but not the whole bucket
    children: list[_Child] = []
    futures: list[Future[None]] = []
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="map-child") as pool:
        items = _items(state, document, context, runtime)
        for index, (child_input, size) in enumerate(_batches(state, items, document, context)):
            if runtime.stopped.is_set():
                break
            window.acquire()
            child = _Child(
                f"{run.arn.replace(':mapRun:', ':execution:')}:{index}", child_input, size
            )
            children.append(child)
            run.move(size, "", "pending")
            future = pool.submit(_run_child, child, state["ItemProcessor"], run, context, runtime)
            future.add_done_callback(lambda _: window.release())
            futures.append(future)
        for future in futures:
            future.result()
    return children


def _write_results(
    state: Mapping[str, Any],
    run: MapRun,
    children: list[_Child],
    document: Any,
    context: Any,
    *,
    runtime: Runtime,
) -> dict[str, Any]:
    """The ResultWriter report: one file per status, and the manifest that names them."""
    parameters = fill(state["ResultWriter"].get("Parameters", {}), document, context)
    bucket, prefix = parameters["Bucket"], str(parameters.get("Prefix", "")).strip("/")
    folder = f"{prefix}/{run.arn.rsplit(':', 1)[-1]}" if prefix else run.arn.rsplit(":", 1)[-1]
    files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
    for status, listed in files.items():
        records = [
            c.record(run.state_machine_arn)
            for c in children
            if (c.status == status) or (status == "FAILED" and c.status == "ABORTED")
        ]
        if records:
            body = json.dumps(records).encode()
            key = f"{folder}/{status}_0.json"
            runtime.s3.put_object(Bucket=bucket, Key=key, Body=body)
            listed.append({"Key": key, "Size": len(body)})
    manifest = {"DestinationBucket": bucket, "MapRunArn": run.arn, "ResultFiles": files}
    runtime.s3.put_object(
        Bucket=bucket, Key=f"{folder}/manifest.json", Body=json.dumps(manifest).encode()
    )
    with run.lock:
        run.items.results_written = sum(c.size for c in children)
    return {
        "MapRunArn": run.arn,
        "ResultWriterDetails": {"Bucket": bucket, "Key": f"{folder}/manifest.json"},
    }


def run_map(
    name: str, state: Mapping[str, Any], document: Any, context: Any, runtime: Runtime
) -> Any:
    """Run one Distributed Map state; its result (the ResultWriter details, or the outputs)."""
    concurrency, percentage, count = _limits(state, document, context)
    machine = runtime.state_machine_arn.rsplit(":", 1)[-1]
    run = MapRun(
        arn=f"{runtime.state_machine_arn.rsplit(':stateMachine:', 1)[0]}:mapRun:{machine}/"
        f"{state.get('Label', name)}:{uuid.uuid4()}",
        execution_arn=runtime.execution_arn,
        state_machine_arn=runtime.state_machine_arn,
        max_concurrency=concurrency,
        tolerated_percentage=percentage,
        tolerated_count=count or 0,
    )
    runtime.on_map_run(run)
    children = _children(state, run, document, context, runtime)
    failed = sum(c.size for c in children if c.status != "SUCCEEDED")
    total = sum(c.size for c in children)
    over = failed > count if count is not None else total > 0 and 100 * failed / total > percentage
    result = (
        _write_results(state, run, children, document, context, runtime=runtime)
        if "ResultWriter" in state
        else [c.output for c in children]
    )
    with run.lock:
        run.stopped = datetime.now(UTC)
        run.status = "ABORTED" if runtime.stopped.is_set() else "FAILED" if over else "SUCCEEDED"
    if run.status == "ABORTED":
        raise StatesError("States.Aborted", "the execution was stopped")
    if over:
        raise StatesError(
            "States.ExceedToleratedFailureThreshold",
            f"{failed} of {total} items failed in Map Run {run.arn}",
        )
    return result

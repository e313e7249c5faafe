"""The real ``s3ledger`` command, run as a subprocess: ``invoke``, ``check`` and ``up``.

Every command runs as ``python -m s3ledger.cli`` with a hermetic environment: no ``AWS_*`` or
``S3LEDGER_*`` variable of the caller leaks in, credentials are dummies, and ``~/.aws`` is not
read, so what the command sees is exactly what each test sets.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from botocore.config import Config

from s3ledger.core.consistency import TABLE_ANOMALIES
from s3ledger.core.events import ObjectEvent
from s3ledger.core.ledger import APPLIED, audit_item, from_item, ledger_item, to_item
from s3ledger.pipeline.writers.base import Outcome
from s3ledger.workbench.dynamodb_local import (
    DUMMY_ACCESS_KEY_ID,
    DUMMY_SECRET_ACCESS_KEY,
    REGION,
    dynamodb_client,
    free_port,
)
from s3ledger.workbench.moto_process import aws_client
from tests.support.tables import TableNames, scan_all
from tests.support.waiting import wait_for

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
EVENT_FILES = sorted((ROOT / "events").glob("*.json"))
# Each payload starts its own process (seconds apiece): one stays in the quick tier, the rest
# are `slow`.
QUICK_EVENT_FILE = "s3-put.json"

# The object every sample payload in events/ is about, with its key decoded.
SAMPLE_OBJECT = "s3ledger-demo-bucket/reports/2026/q3 summary+final.csv"

# Per payload: the SQS messages that must fail, and the ledger (object id -> status) the payload
# leaves in fresh tables. A payload not listed here gets the structural checks only.
SQS_FAILURES: dict[str, set[str]] = {
    "sqs-duplicate.json": set(),
    "sqs-malformed.json": {"9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"},
    "sqs-s3-put.json": set(),
    "sqs-test-event.json": set(),
    "sqs-eventbridge.json": set(),
    "sqs-multi-record.json": set(),
    "sqs-sns-raw.json": set(),
    "sqs-sns-wrapped.json": set(),
}
LEDGER_AFTER: dict[str, dict[str, str]] = {
    "eventbridge-object-created.json": {SAMPLE_OBJECT: "processed"},
    "eventbridge-object-deleted.json": {SAMPLE_OBJECT: "deleted"},
    "eventbridge-delete-marker.json": {SAMPLE_OBJECT: "deleted"},
    "eventbridge-lifecycle-expiration.json": {SAMPLE_OBJECT: "deleted"},
    "s3-delete.json": {SAMPLE_OBJECT: "deleted"},
    "s3-delete-marker.json": {SAMPLE_OBJECT: "deleted"},
    "s3-lifecycle-delete-marker.json": {SAMPLE_OBJECT: "deleted"},
    # A noncurrent version expired; the (empty) demo bucket has no version left: deleted.
    "s3-lifecycle-expiration.json": {SAMPLE_OBJECT: "deleted"},
    "s3-put.json": {SAMPLE_OBJECT: "processed"},
    "sqs-eventbridge.json": {SAMPLE_OBJECT: "deleted"},  # created, then a delete marker
    "sqs-multi-record.json": {
        "s3ledger-demo-bucket/inbox/a.csv": "processed",
        "s3ledger-demo-bucket/inbox/b.csv": "processed",
        "s3ledger-demo-bucket/inbox/c.csv": "deleted",
    },
    "sqs-sns-raw.json": {SAMPLE_OBJECT: "processed"},
    "sqs-sns-wrapped.json": {SAMPLE_OBJECT: "processed"},
    "sqs-duplicate.json": {SAMPLE_OBJECT: "processed"},  # two deliveries of one event
    "sqs-malformed.json": {SAMPLE_OBJECT: "processed"},  # its well-formed message is written
    "sqs-s3-put.json": {
        SAMPLE_OBJECT: "processed",
        "s3ledger-demo-bucket/invoices/2026/07/INV-0042 été.pdf": "processed",
    },
    "sqs-test-event.json": {},  # s3:TestEvent writes nothing
}

SUMMARY_KEYS = {outcome.value for outcome in Outcome} | {"ignored"}


# --------------------------------------------------------------------------------- helpers


def base_env() -> dict[str, str]:
    """The caller's environment without AWS or s3ledger settings, plus dummy credentials."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("AWS_", "S3LEDGER_", "POWERTOOLS_"))
    }
    env.update(
        AWS_ACCESS_KEY_ID=DUMMY_ACCESS_KEY_ID,
        AWS_SECRET_ACCESS_KEY=DUMMY_SECRET_ACCESS_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        COLUMNS="200",  # rich wraps at 80 columns when not on a terminal
        PYTHONUNBUFFERED="1",
    )
    return env


def table_env(endpoint: str, tables: TableNames) -> dict[str, str]:
    """:func:`base_env` pointed at ``endpoint`` and the test's three tables."""
    env = base_env()
    env.update(
        AWS_ENDPOINT_URL_DYNAMODB=endpoint,
        S3LEDGER_LEDGER_TABLE=tables.ledger,
        S3LEDGER_AUDIT_TABLE=tables.audit,
        S3LEDGER_IDEMPOTENCY_TABLE=tables.idempotency,
    )
    return env


def run_cli(
    *args: str | Path, env: Mapping[str, str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m s3ledger.cli ARGS`` from the repository root; capture both streams."""
    return subprocess.run(  # noqa: S603 - our own interpreter and module, fixed arguments
        [sys.executable, "-m", "s3ledger.cli", *map(str, args)],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(stderr: str) -> str:
    """Assert ``stderr`` is exactly one ``s3ledger: error:`` line (no traceback); return it."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert lines[0].startswith("s3ledger: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def json_lines(text: str) -> list[dict[str, Any]]:
    """The lines of ``text`` that are JSON objects (Powertools logs and EMF metrics)."""
    found: list[dict[str, Any]] = []
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            value = json.loads(line)
            if isinstance(value, dict):
                found.append(value)
    return found


def port_is_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 (a wildcard listener also blocks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def group_alive(pgid: int) -> bool:
    """Whether any process is left in process group ``pgid`` (signal 0 only probes)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process took the id
        return False
    return True


def items(client: DynamoDBClient, table: str) -> list[dict[str, Any]]:
    """Every item of ``table`` as plain values."""
    return [from_item(item) for item in scan_all(client, table)]


def sample_event(key: str, sequencer: str, *, bucket: str = "bucket") -> ObjectEvent:
    return ObjectEvent(bucket, key, "ObjectCreated:Put", "2026-11-26T10:00:00.000Z", sequencer)


def put_ledger(client: DynamoDBClient, table: str, event: ObjectEvent) -> None:
    client.put_item(TableName=table, Item=to_item(ledger_item(event)))


def put_audit(client: DynamoDBClient, table: str, event: ObjectEvent) -> None:
    item = audit_item(
        event, outcome=APPLIED, request_id="planted", processed_at="2026-11-26T10:00:01.000Z"
    )
    client.put_item(TableName=table, Item=to_item(item))


# ---------------------------------------------------------------------------------- invoke


@pytest.mark.parametrize(
    "event_file",
    [
        pytest.param(path, marks=() if path.name == QUICK_EVENT_FILE else pytest.mark.slow)
        for path in EVENT_FILES
    ],
    ids=lambda path: path.name,
)
def test_invoke_answers_json_on_stdout_and_logs_on_stderr(
    event_file: Path,
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    aws_endpoint: str,
    demo_bucket: str,
) -> None:
    """``invoke`` on each sample payload prints the handler's answer, alone, as JSON on stdout.

    SQS batches answer ``{"batchItemFailures": [...]}`` naming exactly the malformed message;
    S3 and EventBridge payloads answer a summary of outcomes. The handler's logs and metrics go
    to stderr, so stdout is one JSON document; the tables then hold what the payload wrote.
    A removal of a version asks S3 (the workbench's, where ``s3ledger-demo-bucket`` is empty).
    """
    env = {**table_env(dynamodb_endpoint, fresh_tables), "AWS_ENDPOINT_URL_S3": aws_endpoint}
    result = run_cli("invoke", event_file, env=env)

    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert isinstance(response, dict)
    assert '"_aws"' not in result.stdout
    assert '"level"' not in result.stdout
    logged = json_lines(result.stderr)
    assert any(line.get("service") == "s3ledger" for line in logged), result.stderr

    name = event_file.name
    if name.startswith("sqs-"):
        assert set(response) == {"batchItemFailures"}
        failed = {entry["itemIdentifier"] for entry in response["batchItemFailures"]}
        assert failed == SQS_FAILURES.get(name, set())
    else:
        assert response, "an S3 or EventBridge payload answers a non-empty summary"
        assert set(response) <= SUMMARY_KEYS
        assert all(isinstance(count, int) for count in response.values())
        # Fresh tables: the payload's one event is new, so it is applied.
        assert response.get(Outcome.APPLIED.value) == 1

    if name not in LEDGER_AFTER:
        return
    ledger = items(dynamodb_client, fresh_tables.ledger)
    audit = items(dynamodb_client, fresh_tables.audit)
    assert {item["id"]: item["status"] for item in ledger} == LEDGER_AFTER[name]
    # Each object's newest event is the one the ledger holds, and every event is applied.
    assert {item["last_event_id"] for item in ledger} <= {item["event_id"] for item in audit}
    assert {item["outcome"] for item in audit} <= {APPLIED}


@pytest.mark.slow
def test_invoke_mode_naive_writes_with_plain_puts(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """``invoke --mode naive`` writes with the naive writer: a redelivery is applied again.

    The default (inbox) mode recognises the same event as a duplicate; naive overwrites both
    items every time, so the tables still hold one item each, written by plain puts.
    """
    env = table_env(dynamodb_endpoint, fresh_tables)
    event_file = ROOT / "events" / "s3-put.json"

    for _ in range(2):
        naive = run_cli("invoke", "--mode", "naive", event_file, env=env)
        assert naive.returncode == 0, naive.stderr
        assert json.loads(naive.stdout) == {"applied": 1, "ignored": 0}
    inbox = run_cli("invoke", event_file, env=env)
    assert inbox.returncode == 0, inbox.stderr
    assert json.loads(inbox.stdout) == {"duplicate": 1, "ignored": 0}

    ledger = items(dynamodb_client, fresh_tables.ledger)
    audit = items(dynamodb_client, fresh_tables.audit)
    assert [item["id"] for item in ledger] == [SAMPLE_OBJECT]
    assert [item["last_event_id"] for item in ledger] == [item["event_id"] for item in audit]
    assert items(dynamodb_client, fresh_tables.idempotency) == []


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ('{"detail-type": "Something Else", "hello": 1}', "event is neither"),
    ],
    ids=["missing-file", "not-json", "unknown-envelope"],
)
def test_invoke_rejects_a_bad_event_file_with_one_line(
    tmp_path: Path, content: str | None, message: str
) -> None:
    """``invoke`` with a missing, non-JSON or unrecognised event file exits 2 with one line."""
    event_file = tmp_path / "event.json"
    if content is not None:
        event_file.write_text(content)

    result = run_cli("invoke", event_file, env=base_env())

    assert result.returncode == 2
    assert result.stdout == ""
    line = one_error_line(result.stderr)
    assert message in line
    assert str(event_file) in line


# ----------------------------------------------------------------------------------- check


@pytest.mark.slow
def test_check_on_tables_written_by_invoke_is_clean(
    dynamodb_endpoint: str, fresh_tables: TableNames, aws_endpoint: str, demo_bucket: str
) -> None:
    """Tables written only through ``invoke`` pass ``check``: exit 0, no anomaly of any kind."""
    env = {**table_env(dynamodb_endpoint, fresh_tables), "AWS_ENDPOINT_URL_S3": aws_endpoint}
    for name in ("s3-put.json", "sqs-duplicate.json", "eventbridge-object-deleted.json"):
        assert run_cli("invoke", ROOT / "events" / name, env=env).returncode == 0

    result = run_cli("check", "--json", env=env)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["ledger_items"] == 1  # one object
    assert report["audit_items"] == 2  # its put, then its delete
    assert report["anomalies"] == dict.fromkeys(TABLE_ANOMALIES, 0)
    assert report["anomalies_total"] == 0

    human = run_cli("check", env=env)
    assert human.returncode == 0, human.stderr
    assert "no anomalies" in human.stdout


def test_check_counts_each_planted_anomaly(
    dynamodb_endpoint: str, dynamodb_client: DynamoDBClient, fresh_tables: TableNames
) -> None:
    """``check`` finds anomalies planted by hand, counted per kind, and exits 1.

    One ledger item whose last event has no audit item, two applied audit items with no ledger
    item, three ledger items older than an applied audit item of their object. Tables are given
    by flags; the human output names every kind found.
    """
    ledger, audit = fresh_tables.ledger, fresh_tables.audit
    # ledger_without_audit: 1
    put_ledger(dynamodb_client, ledger, sample_event("split.txt", "0A"))
    # audit_without_ledger: 2
    for key in ("orphan-1.txt", "orphan-2.txt"):
        put_audit(dynamodb_client, audit, sample_event(key, "0A"))
    # stale_ledger: 3 (the older event is audited too, so only staleness is wrong)
    for key in ("stale-1.txt", "stale-2.txt", "stale-3.txt"):
        older, newer = sample_event(key, "0A"), sample_event(key, "0B")
        put_ledger(dynamodb_client, ledger, older)
        put_audit(dynamodb_client, audit, older)
        put_audit(dynamodb_client, audit, newer)
    env = base_env()
    env["AWS_ENDPOINT_URL_DYNAMODB"] = dynamodb_endpoint
    tables = ("--ledger-table", ledger, "--audit-table", audit)

    result = run_cli("check", "--json", *tables, env=env)

    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["ledger_items"] == 4
    assert report["audit_items"] == 8
    assert report["anomalies"] == {
        "ledger_without_audit": 1,
        "audit_without_ledger": 2,
        "stale_ledger": 3,
    }
    assert report["anomalies_total"] == 6
    assert report["examples"]["ledger_without_audit"] == ["bucket/split.txt"]

    human = run_cli("check", *tables, env=env)
    assert human.returncode == 1, human.stderr
    for kind in TABLE_ANOMALIES:
        assert kind in human.stdout
    assert "6 anomalies" in human.stdout


def test_check_on_a_missing_table_fails_with_one_line(
    dynamodb_endpoint: str, fresh_tables: TableNames
) -> None:
    """``check`` on a table that does not exist exits 2 with one line naming it, no traceback."""
    env = table_env(dynamodb_endpoint, fresh_tables)

    result = run_cli("check", "--ledger-table", "no-such-ledger", env=env)

    assert result.returncode == 2
    assert result.stdout == ""
    assert "no-such-ledger" in one_error_line(result.stderr)


def test_check_against_an_endpoint_that_does_not_answer_fails_with_one_line() -> None:
    """``check`` against a DynamoDB endpoint nobody listens on exits 2 with one line."""
    env = base_env()
    port = free_port()
    env["AWS_ENDPOINT_URL_DYNAMODB"] = f"http://127.0.0.1:{port}"

    result = run_cli("check", env=env)

    assert result.returncode == 2
    assert str(port) in one_error_line(result.stderr)


# -------------------------------------------------------------------------------------- up

REQUIRED_EXPORTS = {
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL_SQS",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "S3LEDGER_BUCKET",
    "S3LEDGER_LEDGER_TABLE",
    "S3LEDGER_AUDIT_TABLE",
    "S3LEDGER_DLQ_URL",
    "S3LEDGER_STACK",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    "AWS_ENDPOINT_URL_CLOUDWATCH",
}
ENDPOINT_EXPORTS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_DYNAMODB")


def status(dynamodb: DynamoDBClient, exports: Mapping[str, str], object_id: str) -> str | None:
    """The ledger's status of ``object_id`` (consistent read), ``None`` without an item."""
    answer = dynamodb.get_item(
        TableName=exports["S3LEDGER_LEDGER_TABLE"],
        Key={"id": {"S": object_id}},
        ConsistentRead=True,
    )
    return answer.get("Item", {}).get("status", {}).get("S")


@dataclass
class UpProcess:
    process: subprocess.Popen[str]
    dynamodb_port: int
    aws_port: int
    stderr_path: Path
    lines: queue.Queue[str | None]

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def read_exports(self, timeout: float) -> dict[str, str]:
        """Read stdout until every required ``export NAME=VALUE`` line has arrived."""
        exports: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while not exports.keys() >= REQUIRED_EXPORTS:
            remaining = deadline - time.monotonic()
            try:
                line = self.lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                pytest.fail(f"no export lines within {timeout:.0f} s; stderr:\n{self.stderr()}")
            if line is None:
                pytest.fail(
                    f"`s3ledger up` closed stdout (exit {self.process.poll()}) before printing "
                    f"{sorted(REQUIRED_EXPORTS - exports.keys())}; stderr:\n{self.stderr()}"
                )
            words = shlex.split(line)
            assert len(words) == 2, f"unexpected stdout line {line!r}"
            assert words[0] == "export", f"unexpected stdout line {line!r}"
            name, sep, value = words[1].partition("=")
            assert sep, f"unexpected stdout line {line!r}"
            exports[name] = value
        return exports


@pytest.fixture
def up(tmp_path: Path) -> Iterator[Callable[..., UpProcess]]:
    """Start ``s3ledger up`` on free ports; whatever is still running at the end is killed.

    It runs in its own process group (with DynamoDB Local and moto), so a failing test can take
    the whole group down without touching anything else.
    """
    started: list[UpProcess] = []

    def start(
        dynamodb_port: int | None = None,
        *,
        command: Sequence[str] = (sys.executable, "-m", "s3ledger.cli"),
        cwd: Path = ROOT,
        env: Mapping[str, str] | None = None,
    ) -> UpProcess:
        dynamodb_port = dynamodb_port or free_port()
        aws_port = free_port()
        while aws_port == dynamodb_port:
            aws_port = free_port()
        stderr_path = tmp_path / f"up-{len(started)}.stderr"
        ports = ["--dynamodb-port", str(dynamodb_port), "--aws-port", str(aws_port)]
        with stderr_path.open("w") as stderr:
            process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                [*command, "up", *ports, "--workers", "1"],
                cwd=cwd,
                env=dict(base_env() if env is None else env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                text=True,
                start_new_session=True,
            )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert process.stdout is not None
            for line in process.stdout:
                lines.put(line.rstrip("\n"))
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        running = UpProcess(process, dynamodb_port, aws_port, stderr_path, lines)
        started.append(running)
        return running

    try:
        yield start
    finally:
        for running in started:
            if running.process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(running.process.pid, signal.SIGTERM)
                try:
                    running.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(running.process.pid, signal.SIGKILL)
                    running.process.wait()


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_up_runs_the_pipeline_and_stops_cleanly_on_sigint(up: Callable[..., UpProcess]) -> None:
    """``up`` prints ``export`` lines for its loopback endpoints, runs S3 → SQS → DynamoDB, and
    stops everything on SIGINT.

    An upload with an awkward key (space, plus, non-ASCII) lands in the ledger under its decoded
    key with one applied audit item; a delete marker makes it ``deleted``, removing the marker
    brings it back; SIGINT then makes ``up`` exit 0 and free both its ports.
    """
    running = up()
    exports = running.read_exports(timeout=60)

    for name in ENDPOINT_EXPORTS:
        assert exports[name].startswith("http://127.0.0.1:"), (name, exports[name])
    assert exports["AWS_ENDPOINT_URL_DYNAMODB"] == f"http://127.0.0.1:{running.dynamodb_port}"
    assert exports["AWS_ENDPOINT_URL_S3"] == f"http://127.0.0.1:{running.aws_port}"

    bucket = exports["S3LEDGER_BUCKET"]
    key = "in box/q3 summary+final ünïcødé €.csv"
    s3 = boto3.client(
        "s3",
        endpoint_url=exports["AWS_ENDPOINT_URL_S3"],
        region_name=REGION,
        aws_access_key_id=DUMMY_ACCESS_KEY_ID,
        aws_secret_access_key=DUMMY_SECRET_ACCESS_KEY,
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.put_object(Bucket=bucket, Key=key, Body=b"a,b\n1,2\n")
    dynamodb = dynamodb_client(exports["AWS_ENDPOINT_URL_DYNAMODB"])
    object_id = f"{bucket}/{key}"

    def recorded() -> bool:
        ledger = dynamodb.get_item(
            TableName=exports["S3LEDGER_LEDGER_TABLE"],
            Key={"id": {"S": object_id}},
            ConsistentRead=True,
        )
        if "Item" not in ledger:
            return False
        audit = items(dynamodb, exports["S3LEDGER_AUDIT_TABLE"])
        return [item["outcome"] for item in audit if item["object_id"] == object_id] == [APPLIED]

    try:
        assert wait_for(recorded, timeout=20), (
            f"{object_id!r} not recorded within 20 s; ledger: "
            f"{items(dynamodb, exports['S3LEDGER_LEDGER_TABLE'])}; stderr:\n{running.stderr()}"
        )
        ledger = items(dynamodb, exports["S3LEDGER_LEDGER_TABLE"])
        assert [item["id"] for item in ledger] == [object_id]
        assert ledger[0]["key"] == key

        # `aws s3 rm` on the versioned bucket: a delete marker, and the ledger says deleted;
        # `aws s3api delete-object --version-id` of that marker: the object is back.
        marker = s3.delete_object(Bucket=bucket, Key=key)["VersionId"]
        assert wait_for(lambda: status(dynamodb, exports, object_id) == "deleted", timeout=20)
        s3.delete_object(Bucket=bucket, Key=key, VersionId=marker)
        assert wait_for(lambda: status(dynamodb, exports, object_id) == "processed", timeout=20)
    finally:
        s3.close()
        dynamodb.close()

    running.process.send_signal(signal.SIGINT)
    try:
        code = running.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`s3ledger up` still running 15 s after SIGINT; stderr:\n{running.stderr()}")
    assert code == 0, running.stderr()
    assert "s3ledger: stopped." in running.stderr()
    # stdout held the export lines only: the handler's logs (the upload, the test event) went
    # to stderr, so `eval "$(s3ledger up)"`-style use never reads a log line as a command.
    rest = []
    while (line := running.lines.get(timeout=5)) is not None:
        rest.append(line)
    assert all(line.startswith("export ") for line in rest), rest
    assert "notification ignored" in running.stderr()
    assert wait_for(lambda: port_is_free(running.dynamodb_port), timeout=3), "DynamoDB Local left"
    assert wait_for(lambda: port_is_free(running.aws_port), timeout=3), "moto left running"
    assert wait_for(lambda: not group_alive(running.process.pid), timeout=3), "children left"


def endpoints_only(exports: Mapping[str, str]) -> dict[str, str]:
    """:func:`base_env` plus the endpoints ``up`` printed: no table, bucket, queue or stack."""
    env = base_env()
    env.update({k: v for k, v in exports.items() if k.startswith("AWS_ENDPOINT_URL_")})
    return env


def run_json(*args: str, env: Mapping[str, str], code: int = 0) -> dict[str, Any]:
    result = run_cli(*args, "--json", env=env)
    assert result.returncode == code, (args, result.stdout, result.stderr)
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_every_operator_command_finds_ups_pipeline_by_its_stack_name(
    up: Callable[..., UpProcess],
) -> None:
    """With only the endpoints ``up`` printed and ``--stack s3ledger``, status, check, reconcile,
    backfill, redrive and rebuild-ledger find the bucket, tables and queues in the stack's
    outputs (DescribeStacks on the workbench's CloudFormation). ``status`` reports the upload
    applied, its lag, no alarm, and exits 1 once a message sits in the DLQ."""
    running = up()
    exports = running.read_exports(timeout=60)
    assert exports["S3LEDGER_STACK"] == "s3ledger"
    env = endpoints_only(exports)
    s3 = aws_client("s3", exports["AWS_ENDPOINT_URL_S3"])
    s3.put_object(Bucket=exports["S3LEDGER_BUCKET"], Key="in/report.csv", Body=b"a,b\n")

    def applied() -> bool:
        answer = run_json("status", "--stack", "s3ledger", env=env)
        return bool(answer["events"]["applied"] >= 1 and answer["lag_ms"]["p99"] is not None)

    assert wait_for(applied, timeout=30, interval=1.0), running.stderr()
    status = run_json("status", "--stack", "s3ledger", env=env)
    assert status["stack"] == "s3ledger"
    assert status["mode"] == "inbox"
    assert status["events"]["applied"] == 1
    assert 0 < status["lag_ms"]["p50"] <= status["lag_ms"]["p99"] < 30_000
    assert (status["dlq_depth"], status["alarms_in_alarm"], status["problems"]) == (0, [], [])
    assert {"queue_depth", "queue_oldest_age_seconds"} <= status.keys()

    check = run_json("check", "--stack", "s3ledger", env=env)
    assert (check["ledger_items"], check["audit_items"], check["anomalies_total"]) == (1, 1, 0)
    flagged = run_cli("check", "--stack", "s3ledger", "--ledger-table", "not-the-stacks", env=env)
    assert flagged.returncode == 2  # the flag wins over the stack's output
    assert "'not-the-stacks'" in one_error_line(flagged.stderr)
    reconcile = run_json("reconcile", "--stack", "s3ledger", env=env)
    assert reconcile["bucket"] == exports["S3LEDGER_BUCKET"]
    backfill = run_json("backfill", "--stack", "s3ledger", env=env)
    assert (backfill["objects_seen"], backfill["objects_written"]) == (1, 0)
    rebuild = run_json("rebuild-ledger", "--stack", "s3ledger", env=env)
    assert rebuild["ledger_items_written"] == 0
    redrive = run_json("redrive", "--stack", "s3ledger", env=env)
    assert redrive["to_move"] == 0

    sqs = aws_client("sqs", exports["AWS_ENDPOINT_URL_SQS"])
    sqs.send_message(QueueUrl=exports["S3LEDGER_DLQ_URL"], MessageBody="{not json")
    parked = run_json("status", "--stack", "s3ledger", env=env, code=1)
    assert parked["dlq_depth"] == 1
    assert parked["healthy"] is False
    human = run_cli("status", env={**env, "S3LEDGER_STACK": "s3ledger"})
    assert human.returncode == 1, human.stderr
    assert "needs a person" in human.stdout
    assert "dead-letter queue" in human.stdout


def test_a_stack_that_does_not_exist_fails_with_one_line(aws_endpoint: str) -> None:
    """``--stack`` naming no stack exits 2 with one line naming it; ``status`` without any
    stack says how to name one."""
    env = {**base_env(), "AWS_ENDPOINT_URL_CLOUDFORMATION": aws_endpoint}

    missing = run_cli("check", "--stack", "no-such-stack", env=env)
    assert missing.returncode == 2
    assert "stack 'no-such-stack' (--stack) does not exist" in one_error_line(missing.stderr)
    unnamed = run_cli("status", env=env)
    assert unnamed.returncode == 2
    assert "give --stack NAME" in one_error_line(unnamed.stderr)


@pytest.mark.timeout(60)
def test_up_with_the_dynamodb_port_taken_fails_fast_with_one_line(
    up: Callable[..., UpProcess],
) -> None:
    """``up`` whose DynamoDB port is taken exits non-zero at once, with one line naming the port,
    and leaves nothing running (its S3/SQS port stays free: moto was never started)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken: int = blocker.getsockname()[1]
        running = up(dynamodb_port=taken)
        try:
            code = running.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`s3ledger up` on a taken port still running; {running.stderr()}")
        assert running.lines.get(timeout=5) is None  # nothing on stdout
        assert code != 0
        line = one_error_line(running.stderr())
        assert str(taken) in line
        assert "in use" in line
    assert port_is_free(running.aws_port), "moto was left running"

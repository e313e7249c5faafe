"""``from s3ledger import ...``: the library's facade, and the README's example run as it is."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

import s3ledger
from s3ledger.core.errors import MalformedRecordError
from s3ledger.workbench.context import LocalContext
from tests.support.tables import TableNames, scan_all

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"


def readme_example() -> str:
    """The Python block that follows ``<!-- library example -->`` in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(r"<!-- library example -->\n```python\n(.*?)\n```", readme, re.DOTALL)
    assert found is not None, "README.md lost its library example"
    return found.group(1)


def test_every_public_name_resolves_and_nothing_else_does() -> None:
    """``__all__`` lists what ``from s3ledger import *`` gives; an unknown name is an
    AttributeError, as for any module."""
    for name in s3ledger.__all__:
        assert getattr(s3ledger, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = s3ledger.nothing_here  # type: ignore[attr-defined]


def test_the_packaged_function_does_not_load_the_facade() -> None:
    """Importing the handlers (what Lambda does at cold start) loads neither the facade's
    module nor anything beyond what it did before: the names load on first use."""
    probe = (
        "import sys, s3ledger.pipeline.handlers; "
        "print('s3ledger.pipeline.library' in sys.modules, "
        "'Settings' in vars(sys.modules['s3ledger']))"
    )
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed probe
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.split() == ["False", "False"]


def test_parse_event_reads_each_envelope_and_refuses_a_batch() -> None:
    """An S3 notification, an EventBridge event and an SQS message body give their object
    events; the test event gives none; an SQS batch is sent to parse_sqs_batch."""
    put = json.loads((EVENTS / "s3-put.json").read_text())
    (event,) = s3ledger.parse_event(put)
    assert event.object_id == "s3ledger-demo-bucket/reports/2026/q3 summary+final.csv"
    (deleted,) = s3ledger.parse_event(
        json.loads((EVENTS / "eventbridge-object-deleted.json").read_text())
    )
    assert deleted.event_name.startswith("ObjectRemoved:")
    assert s3ledger.parse_event(json.dumps(put)) == (event,)
    assert s3ledger.parse_event({"Service": "Amazon S3", "Event": "s3:TestEvent"}) == ()
    batch = json.loads((EVENTS / "sqs-s3-put.json").read_text())
    with pytest.raises(MalformedRecordError, match="parse_sqs_batch"):
        s3ledger.parse_event(batch)


def test_the_readme_example_records_a_batch_and_fails_only_the_bad_message(
    dynamodb_endpoint: str,
    dynamodb_client: DynamoDBClient,
    fresh_tables: TableNames,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The README's handler, run as written on the sample batch with one unreadable body:
    only that message is reported failed, the other's event is applied (ledger and audit), and
    the same batch again is a duplicate, written nowhere."""
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", dynamodb_endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("S3LEDGER_LEDGER_TABLE", fresh_tables.ledger)
    monkeypatch.setenv("S3LEDGER_AUDIT_TABLE", fresh_tables.audit)
    monkeypatch.setenv("S3LEDGER_IDEMPOTENCY_TABLE", fresh_tables.idempotency)
    namespace: dict[str, Any] = {}
    exec(compile(readme_example(), "README.md", "exec"), namespace)  # noqa: S102 - our README
    batch = json.loads((EVENTS / "sqs-malformed.json").read_text())
    bad = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

    assert namespace["handler"](batch, LocalContext()) == {
        "batchItemFailures": [{"itemIdentifier": bad}]
    }
    assert namespace["handler"](batch, LocalContext()) == {
        "batchItemFailures": [{"itemIdentifier": bad}]
    }

    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["outcome"] for line in printed] == ["applied", "duplicate"]
    assert len(scan_all(dynamodb_client, fresh_tables.ledger)) == 1
    assert len(scan_all(dynamodb_client, fresh_tables.audit)) == 1

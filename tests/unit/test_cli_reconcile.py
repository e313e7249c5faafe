"""``s3ledger reconcile`` finds its bucket in ``--bucket`` or, absent the flag, ``S3LEDGER_BUCKET``.

The variable is what ``s3ledger up`` prints for a shell to eval; the command once declared
``--bucket`` required, so the variable never applied. The comparison itself is replaced by a fake
here (no emulator): these tests check which bucket the command hands to it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import s3ledger.operate.reconcile
from s3ledger.cli.main import main


class FakeReport:
    def to_json(self) -> dict[str, Any]:
        return {"fake": True}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """The keyword arguments of every ``reconcile`` the command runs (the fake's log)."""
    made: list[dict[str, Any]] = []

    def fake_reconcile(s3: Any, dynamodb: Any, **kwargs: Any) -> FakeReport:
        made.append(kwargs)
        return FakeReport()

    monkeypatch.setattr(s3ledger.operate.reconcile, "reconcile", fake_reconcile)
    monkeypatch.delenv("S3LEDGER_BUCKET", raising=False)
    # No stack is named: neither the variable nor a samconfig.toml in the working directory.
    monkeypatch.delenv("S3LEDGER_STACK", raising=False)
    monkeypatch.chdir(tmp_path)
    # boto3 builds clients without a network call, but needs a region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return made


def test_the_bucket_comes_from_the_environment_when_the_flag_is_absent(
    calls: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("S3LEDGER_BUCKET", "bucket-from-env")
    assert main(["reconcile", "--settle", "0", "--json"]) == 0
    assert [call["bucket"] for call in calls] == ["bucket-from-env"]
    assert json.loads(capsys.readouterr().out) == {"fake": True}


def test_the_flag_wins_over_the_environment(
    calls: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("S3LEDGER_BUCKET", "bucket-from-env")
    assert main(["reconcile", "--bucket", "flagged", "--settle", "0", "--json"]) == 0
    assert [call["bucket"] for call in calls] == ["flagged"]


def test_without_flag_or_variable_it_fails_with_one_line_naming_both(
    calls: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as raised:
        main(["reconcile", "--settle", "0"])
    assert raised.value.code == 2
    assert capsys.readouterr().err == (
        "s3ledger: error: --bucket is required (or --stack, or set S3LEDGER_BUCKET)\n"
    )
    assert calls == []

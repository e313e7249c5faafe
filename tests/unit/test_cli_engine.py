"""``--engine``: the Step Functions engine's flags are refused, by name, on the local engine, and
the engine needs its state machine; each a one-line usage error before any request."""

from __future__ import annotations

import pytest

from s3ledger.cli.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["reconcile", "--bucket", "b", "--inventory", "s3://i/m.json"], "--inventory needs"),
        (["backfill", "--bucket", "b", "--execution", "arn:x"], "--execution needs"),
        (["reconcile", "--bucket", "b", "--max-concurrency", "5"], "--max-concurrency needs"),
    ],
)
def test_engine_flags_need_the_stepfunctions_engine(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_the_stepfunctions_engine_needs_its_state_machine(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("S3LEDGER_STATE_MACHINE_ARN", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with pytest.raises(SystemExit) as exit_:
        main(["backfill", "--engine", "stepfunctions", "--bucket", "b", "--state-machine", ""])
    assert exit_.value.code == 2
    assert "--state-machine is required" in capsys.readouterr().err

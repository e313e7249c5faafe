"""Which stack the operator commands read, and what they read from its outputs and parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from s3ledger.core.errors import ConfigurationError, MalformedRecordError
from s3ledger.core.lag import lag_ms
from s3ledger.operate.stack import (
    S3_DELIVERY_MARGIN_SECONDS,
    Stack,
    StackName,
    find_stack_name,
    samconfig_stack_name,
)

GUIDED = """\
version = 0.1
[default.deploy.parameters]
stack_name = "ledger-prod"
resolve_s3 = true
"""


def test_the_flag_comes_first_then_the_variable_then_samconfig(tmp_path: Path) -> None:
    """--stack wins over $S3LEDGER_STACK, which wins over ./samconfig.toml; each is named as
    the source, and with none of them there is no stack."""
    (tmp_path / "samconfig.toml").write_text(GUIDED)
    environ = {"S3LEDGER_STACK": "from-env"}
    assert find_stack_name("flagged", environ, tmp_path) == StackName("flagged", "--stack")
    assert find_stack_name(None, environ, tmp_path) == StackName("from-env", "$S3LEDGER_STACK")
    found = find_stack_name(None, {}, tmp_path)
    assert found is not None
    assert found.name == "ledger-prod"
    assert str(tmp_path / "samconfig.toml") in found.source
    assert find_stack_name(None, {}, tmp_path / "elsewhere") is None


def test_samconfig_reads_deploy_before_global(tmp_path: Path) -> None:
    """SAM reads a command's own parameters before [default.global.parameters]."""
    config = tmp_path / "samconfig.toml"
    config.write_text(
        '[default.global.parameters]\nstack_name = "global"\n'
        '[default.deploy.parameters]\nstack_name = "deploy"\n'
    )
    assert samconfig_stack_name(config) == "deploy"
    config.write_text('[default.global.parameters]\nstack_name = "global"\n')
    assert samconfig_stack_name(config) == "global"
    config.write_text('[prod.deploy.parameters]\nstack_name = "prod"\n')
    assert samconfig_stack_name(config) is None


def test_a_broken_samconfig_is_a_configuration_error_naming_the_file(tmp_path: Path) -> None:
    config = tmp_path / "samconfig.toml"
    config.write_text("[default.deploy.parameters\nstack_name = ")
    with pytest.raises(ConfigurationError, match=r"samconfig\.toml is not valid TOML"):
        find_stack_name(None, {}, tmp_path)


def test_a_stack_reads_names_mode_and_settle_window_from_outputs_and_parameters() -> None:
    """Outputs name the bucket; the Mode output wins over the parameter; the settle window is
    the deployed QueueVisibilityTimeout x MaxReceiveCount plus S3's delivery margin."""
    stack = Stack(
        "prod",
        outputs={"BucketName": "reports", "Mode": "lean", "LedgerTableName": "l"},
        parameters={"Mode": "inbox", "QueueVisibilityTimeout": "60", "MaxReceiveCount": "3"},
    )
    assert stack.bucket() == "reports"
    assert stack.mode == "lean"
    assert stack.settle_seconds() == 60 * 3 + S3_DELIVERY_MARGIN_SECONDS
    assert Stack("old", {}, {"Mode": "naive"}).mode == "naive"


def test_a_stack_of_several_buckets_or_without_an_output_says_so() -> None:
    """Existing buckets are listed comma-separated: the command must be told which one; an
    output the stack lacks is named."""
    stack = Stack("attached", outputs={"BucketName": "a,b"}, parameters={})
    assert stack.buckets == ("a", "b")
    with pytest.raises(ConfigurationError, match=r"2 buckets \(a, b\): choose one with --bucket"):
        stack.bucket()
    with pytest.raises(ConfigurationError, match="has no output QueueUrl"):
        stack.output("QueueUrl")


def test_lag_is_the_milliseconds_from_the_event_time_never_negative() -> None:
    now = datetime(2026, 12, 1, 10, 0, 1, 250_000, tzinfo=UTC)
    assert lag_ms("2026-12-01T10:00:00.000Z", now) == 1250.0
    assert lag_ms("2026-12-01T10:00:01Z", now) == 250.0  # EventBridge: whole seconds
    assert lag_ms("2026-12-01T10:00:05.000Z", now) == 0.0  # a clock ahead of ours
    assert lag_ms("2026-12-01T10:00:00.000Z", now + timedelta(hours=1)) == 3_601_250.0
    with pytest.raises(MalformedRecordError):
        lag_ms("yesterday", now)

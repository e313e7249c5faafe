"""``Settings.from_env``: what the Lambda function reads at cold start, and how it refuses.

Pure: each test passes its own environment mapping, never the process's.
"""

from __future__ import annotations

import pytest

from s3ledger.core.config import (
    DEFAULT_AUDIT_TABLE,
    DEFAULT_IDEMPOTENCY_TABLE,
    DEFAULT_LEDGER_TABLE,
    MODES,
    RetryPolicy,
    Settings,
)
from s3ledger.core.errors import ConfigurationError


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    """No variable set: inbox mode, the tables of a stack called s3ledger (the workbench's), one
    hour of idempotency, 10,000 remembered events and the default retry policy."""
    settings = Settings.from_env({})
    assert settings.mode == "inbox"
    assert settings.ledger_table == DEFAULT_LEDGER_TABLE == "s3ledger-ledger"
    assert settings.audit_table == DEFAULT_AUDIT_TABLE == "s3ledger-audit"
    assert settings.idempotency_table == DEFAULT_IDEMPOTENCY_TABLE == "s3ledger-idempotency"
    assert settings.idempotency_expiry_seconds == 3600
    assert settings.recent_events == 10_000
    assert settings.retry == RetryPolicy()


def test_every_variable_is_read() -> None:
    """Each ``S3LEDGER_*`` variable lands in its own field."""
    settings = Settings.from_env(
        {
            "S3LEDGER_MODE": "transact",
            "S3LEDGER_LEDGER_TABLE": "L",
            "S3LEDGER_AUDIT_TABLE": "A",
            "S3LEDGER_IDEMPOTENCY_TABLE": "I",
            "S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS": "120",
            "S3LEDGER_RECENT_EVENTS": "0",
            "UNRELATED": "ignored",
        }
    )
    assert settings == Settings(
        mode="transact",
        ledger_table="L",
        audit_table="A",
        idempotency_table="I",
        idempotency_expiry_seconds=120,
        recent_events=0,
    )


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_is_accepted(mode: str) -> None:
    """The five modes the template offers are all valid values of ``S3LEDGER_MODE``."""
    assert Settings.from_env({"S3LEDGER_MODE": mode}).mode == mode


def test_the_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an argument, ``os.environ`` is read."""
    monkeypatch.setenv("S3LEDGER_MODE", "naive")
    monkeypatch.setenv("S3LEDGER_LEDGER_TABLE", "from-os-environ")
    settings = Settings.from_env()
    assert settings.mode == "naive"
    assert settings.ledger_table == "from-os-environ"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"S3LEDGER_MODE": "fast"}, "unknown mode 'fast': choose one of inbox, naive"),
        ({"S3LEDGER_MODE": "INBOX"}, "unknown mode 'INBOX'"),
        ({"S3LEDGER_LEDGER_TABLE": ""}, "ledger_table must not be empty"),
        ({"S3LEDGER_AUDIT_TABLE": ""}, "audit_table must not be empty"),
        ({"S3LEDGER_IDEMPOTENCY_TABLE": ""}, "idempotency_table must not be empty"),
        (
            {"S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS": "1h"},
            "S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS must be whole seconds",
        ),
        (
            {"S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS": "-5"},
            "S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS must be whole seconds",
        ),
        ({"S3LEDGER_RECENT_EVENTS": "1e4"}, "S3LEDGER_RECENT_EVENTS must be a whole number"),
        ({"S3LEDGER_RECENT_EVENTS": ""}, "S3LEDGER_RECENT_EVENTS must be a whole number"),
        # A superscript is a digit to str.isdigit but not to int(): it must not reach int().
        ({"S3LEDGER_RECENT_EVENTS": "10\u00b2"}, "S3LEDGER_RECENT_EVENTS must be a whole number"),
    ],
)
def test_a_bad_value_is_refused_with_a_message_naming_it(
    environ: dict[str, str], message: str
) -> None:
    """A bad value fails at cold start with ``ConfigurationError`` naming the setting, never a
    bare ``ValueError`` or a silent default."""
    with pytest.raises(ConfigurationError) as raised:
        Settings.from_env(environ)
    assert message in str(raised.value)

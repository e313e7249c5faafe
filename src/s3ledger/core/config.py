"""Settings, read once from the environment at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from s3ledger.core.errors import ConfigurationError

__all__ = [
    "ARTICLE_MODES",
    "DEFAULT_AUDIT_TABLE",
    "DEFAULT_IDEMPOTENCY_TABLE",
    "DEFAULT_LEDGER_TABLE",
    "DEFAULT_STACK_NAME",
    "EXACTLY_ONCE_MODES",
    "MODES",
    "Mode",
    "RetryPolicy",
    "Settings",
    "parse_mode",
]

Mode = Literal["inbox", "naive", "transact", "powertools", "inbox-batch", "lean"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)
# The article's three designs and ours, side by side (the demo's columns).
ARTICLE_MODES: Final[tuple[Mode, ...]] = ("inbox", "naive", "transact", "powertools")
# The modes whose effects are exactly once, the claim chaos and the bench check (and exit on).
EXACTLY_ONCE_MODES: Final[tuple[Mode, ...]] = ("inbox", "inbox-batch", "lean")

# template.yaml names the tables after the stack (<stack>-ledger, ...) unless its parameters name
# them; these defaults are the names of a stack called DEFAULT_STACK_NAME, which the workbench
# (`s3ledger up`) is too. The article's names (lambda-transactions-table, lambda-audit-log,
# lambda-idempotency-store) are one parameter away, in the template and in S3LEDGER_*_TABLE.
DEFAULT_STACK_NAME: Final = "s3ledger"
DEFAULT_LEDGER_TABLE: Final = f"{DEFAULT_STACK_NAME}-ledger"
DEFAULT_AUDIT_TABLE: Final = f"{DEFAULT_STACK_NAME}-audit"
DEFAULT_IDEMPOTENCY_TABLE: Final = f"{DEFAULT_STACK_NAME}-idempotency"


def parse_mode(text: str) -> Mode:
    """The mode named ``text`` (an environment variable, a template parameter, a CLI argument).

    The one place a string becomes a ``Mode``: raises ``ConfigurationError`` for an unknown name.
    """
    for mode in MODES:
        if mode == text:
            return mode
    raise ConfigurationError(f"unknown mode {text!r}: choose one of {', '.join(MODES)}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with full jitter, on top of botocore's own (``standard`` mode) retries.

    botocore retries a single request; this retries the *event* after DynamoDB has answered with a
    transaction conflict or throttling that botocore does not retry, and stops before the
    invocation's deadline so the message can come back instead of timing out mid-write.
    """

    attempts: int = 4
    base_delay: float = 0.05
    max_delay: float = 1.0
    deadline_margin_ms: int = 1_000

    def delay(self, attempt: int, draw: float) -> float:
        """Full jitter: a uniform draw in ``[0, min(max_delay, base * 2**attempt)]``."""
        return draw * min(self.max_delay, self.base_delay * float(2**attempt))


@dataclass(frozen=True, slots=True)
class Settings:
    mode: Mode = "inbox"
    ledger_table: str = DEFAULT_LEDGER_TABLE
    audit_table: str = DEFAULT_AUDIT_TABLE
    idempotency_table: str = DEFAULT_IDEMPOTENCY_TABLE
    idempotency_expiry_seconds: int = 3600
    # inbox: how many recorded event ids a warm sandbox remembers to skip duplicates for free.
    recent_events: int = 10_000
    retry: RetryPolicy = RetryPolicy()

    def __post_init__(self) -> None:
        parse_mode(self.mode)  # a Settings built by hand is checked like one read from the env
        tables = {
            "ledger_table": self.ledger_table,
            "audit_table": self.audit_table,
            "idempotency_table": self.idempotency_table,
        }
        for name, table in tables.items():
            if not table:
                raise ConfigurationError(f"{name} must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``S3LEDGER_*`` variables; unset ones take the defaults."""
        env = os.environ if environ is None else environ
        expiry = env.get("S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS", "3600")
        if not expiry.isdecimal():
            raise ConfigurationError("S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS must be whole seconds")
        recent = env.get("S3LEDGER_RECENT_EVENTS", "10000")
        if not recent.isdecimal():
            raise ConfigurationError("S3LEDGER_RECENT_EVENTS must be a whole number")
        return cls(
            recent_events=int(recent),
            mode=parse_mode(env.get("S3LEDGER_MODE", "inbox")),
            ledger_table=env.get("S3LEDGER_LEDGER_TABLE", DEFAULT_LEDGER_TABLE),
            audit_table=env.get("S3LEDGER_AUDIT_TABLE", DEFAULT_AUDIT_TABLE),
            idempotency_table=env.get("S3LEDGER_IDEMPOTENCY_TABLE", DEFAULT_IDEMPOTENCY_TABLE),
            idempotency_expiry_seconds=int(expiry),
        )

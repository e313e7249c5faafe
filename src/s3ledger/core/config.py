"""Settings, read once from the environment at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

from s3ledger.core.errors import ConfigurationError

__all__ = [
    "ARTICLE_MODES",
    "DEFAULT_AUDIT_TABLE",
    "DEFAULT_IDEMPOTENCY_TABLE",
    "DEFAULT_LEDGER_TABLE",
    "MODES",
    "Mode",
    "RetryPolicy",
    "Settings",
]

Mode = Literal["inbox", "naive", "transact", "powertools", "inbox-batch", "lean"]
MODES: Final[tuple[Mode, ...]] = get_args(Mode)
# The article's three designs and ours, side by side (the demo's columns).
ARTICLE_MODES: Final[tuple[Mode, ...]] = ("inbox", "naive", "transact", "powertools")

# The article's table names are the defaults: dashboards, `s3ledger check` and users' own queries
# read them, so they are a contract.
DEFAULT_LEDGER_TABLE: Final = "lambda-transactions-table"
DEFAULT_AUDIT_TABLE: Final = "lambda-audit-log"
DEFAULT_IDEMPOTENCY_TABLE: Final = "lambda-idempotency-store"


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
        if self.mode not in MODES:
            raise ConfigurationError(
                f"unknown mode {self.mode!r}: choose one of {', '.join(MODES)}"
            )
        for name in ("ledger_table", "audit_table", "idempotency_table"):
            if not getattr(self, name):
                raise ConfigurationError(f"{name} must not be empty")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``S3LEDGER_*`` variables; unset ones take the defaults."""
        env = os.environ if environ is None else environ
        expiry = env.get("S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS", "3600")
        if not expiry.isdigit():
            raise ConfigurationError("S3LEDGER_IDEMPOTENCY_EXPIRY_SECONDS must be whole seconds")
        recent = env.get("S3LEDGER_RECENT_EVENTS", "10000")
        if not recent.isdigit():
            raise ConfigurationError("S3LEDGER_RECENT_EVENTS must be a whole number")
        return cls(
            recent_events=int(recent),
            mode=cast(Mode, env.get("S3LEDGER_MODE", "inbox")),
            ledger_table=env.get("S3LEDGER_LEDGER_TABLE", DEFAULT_LEDGER_TABLE),
            audit_table=env.get("S3LEDGER_AUDIT_TABLE", DEFAULT_AUDIT_TABLE),
            idempotency_table=env.get("S3LEDGER_IDEMPOTENCY_TABLE", DEFAULT_IDEMPOTENCY_TABLE),
            idempotency_expiry_seconds=int(expiry),
        )

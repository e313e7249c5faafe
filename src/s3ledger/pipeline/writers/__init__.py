"""Six interchangeable write modes behind one protocol (``Writer``).

``make_writer`` imports only the chosen mode's module, so the default ``inbox`` handler never pays
for importing Powertools idempotency at cold start.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from s3ledger.core.config import Mode, Settings
from s3ledger.pipeline.invocation import (
    CountingMetrics,
    InvocationContext,
    MetricsSink,
    NullMetrics,
)
from s3ledger.pipeline.writers.base import (
    BatchResult,
    BatchWriter,
    ExpectingWriter,
    Outcome,
    Writer,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from s3ledger.pipeline.bucket import StateReader

__all__ = [
    "BatchResult",
    "BatchWriter",
    "CountingMetrics",
    "ExpectingWriter",
    "InvocationContext",
    "MetricsSink",
    "NullMetrics",
    "Outcome",
    "Writer",
    "make_writer",
]

_IMPLEMENTATIONS: dict[Mode, tuple[str, str]] = {
    "naive": ("s3ledger.pipeline.writers.naive", "NaiveWriter"),
    "transact": ("s3ledger.pipeline.writers.transact", "TransactWriter"),
    "powertools": ("s3ledger.pipeline.writers.powertools", "PowertoolsWriter"),
    "inbox": ("s3ledger.pipeline.writers.inbox", "InboxWriter"),
    "inbox-batch": ("s3ledger.pipeline.writers.inbox_batch", "InboxBatchWriter"),
    "lean": ("s3ledger.pipeline.writers.lean", "LeanWriter"),
}


def make_writer(
    client: DynamoDBClient,
    settings: Settings,
    metrics: MetricsSink | None = None,
    mode: Mode | None = None,
    state_reader: StateReader | None = None,
) -> Writer:
    """The writer for ``mode`` (default: the settings' mode).

    ``state_reader`` tells ``inbox`` and ``inbox-batch`` an object's current state when an event
    removed a version for good (default: ``ListObjectVersions`` on the environment's S3). The
    article's modes take every removal as a deletion, as the article does.
    """
    chosen = mode or settings.mode
    module, name = _IMPLEMENTATIONS[chosen]
    # By name, so only the chosen mode's module is imported (see the module docstring).
    implementation = getattr(import_module(module), name)
    if chosen in {"inbox", "inbox-batch", "lean"}:
        writer: Writer = implementation(client, settings, metrics, state_reader)
    else:
        writer = implementation(client, settings, metrics)
    return writer

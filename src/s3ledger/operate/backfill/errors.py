"""The backfill's one error: raised before any write, when a run cannot start."""

from __future__ import annotations

from s3ledger.core.errors import S3LedgerError

__all__ = ["BackfillError"]


class BackfillError(S3LedgerError):
    """The backfill cannot start: a bad manifest, a checkpoint of another run."""

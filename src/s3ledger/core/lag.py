"""How late an event is recorded: from S3's event time to the moment its write completed.

S3 stamps ``eventTime`` when the request happened (milliseconds in S3 notifications, whole
seconds in EventBridge's ``time``, so EventBridge lags read up to a second long). Pure: the caller
passes the clock.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Final

from s3ledger.core.errors import MalformedRecordError

__all__ = ["LAG_METRIC", "lag_ms"]

LAG_METRIC: Final = "EventLag"
"""The handlers' metric (milliseconds, one value per event written; duplicates are not)."""


def lag_ms(event_time: str, now: datetime) -> float:
    """Milliseconds from ``event_time`` (ISO 8601) to ``now``; 0 if clock skew puts ``now``
    before it."""
    try:
        moment = datetime.fromisoformat(event_time)
    except (TypeError, ValueError):
        raise MalformedRecordError(f"event time is not ISO 8601: {event_time!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (now - moment).total_seconds() * 1000)

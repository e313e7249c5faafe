"""How late an event is recorded: from S3's event time to the moment its write completed.

S3 stamps ``eventTime`` when the request happened (milliseconds in S3 notifications, whole
seconds in EventBridge's ``time``, so EventBridge lags read up to a second long). Pure: the caller
passes the clock.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from s3ledger.core.order import normalize_event_time

__all__ = ["LAG_METRIC", "lag_ms"]

LAG_METRIC: Final = "EventLag"
"""The handlers' metric (milliseconds, one value per event written; duplicates are not)."""


def lag_ms(event_time: str, now: datetime) -> float:
    """Milliseconds from ``event_time`` (ISO 8601, read as the order rule reads it) to ``now``;
    0 if clock skew puts ``now`` before it."""
    moment = datetime.fromisoformat(normalize_event_time(event_time))
    return max(0.0, (now - moment).total_seconds() * 1000)

"""The handlers' metrics on the workbench, published to (moto's) CloudWatch as Lambda's would be.

On AWS the function writes its metrics as EMF to its log, and CloudWatch turns them into metrics
in the ``s3ledger`` namespace with one dimension, ``service`` = the stack's name (the template's
``POWERTOOLS_SERVICE_NAME``). The workbench has no log ingestion, so its runner's sandboxes count
into a :class:`CloudWatchMetrics` sink that sends the same metrics with ``PutMetricData``: the
counts summed, the timings as raw values (so percentiles can be computed from them), every
:attr:`~CloudWatchMetrics.interval` seconds and once more when it stops. ``s3ledger status`` then
reads them with the API calls it makes on AWS.
"""

from __future__ import annotations

import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime
from typing import Any, Final

__all__ = ["CloudWatchMetrics"]

# PutMetricData takes up to 150 values per datum and 1,000 data per request.
_VALUES_PER_DATUM: Final = 150
_DATA_PER_REQUEST: Final = 1000


class CloudWatchMetrics:
    """A metrics sink (counts and timings) that publishes to CloudWatch in the background.

    Thread-safe: every sandbox of the runner shares one. Use as a context manager, or call
    :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self, cloudwatch: Any, *, namespace: str, service: str, interval: float = 1.0
    ) -> None:
        self._cloudwatch = cloudwatch
        self._namespace = namespace
        self._dimensions = [{"Name": "service", "Value": service}]
        self.interval = interval
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._timings: defaultdict[str, list[float]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.errors: list[BaseException] = []

    def count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self._counts[name] += value

    def timing(self, name: str, milliseconds: float) -> None:
        with self._lock:
            self._timings[name].append(milliseconds)

    def _data(self, counts: Counter[str], timings: dict[str, list[float]]) -> list[Any]:
        now = datetime.now(UTC)
        data: list[dict[str, Any]] = [
            {
                "MetricName": name,
                "Dimensions": self._dimensions,
                "Timestamp": now,
                "Value": float(total),
                "Unit": "Count",
            }
            for name, total in counts.items()
        ]
        for name, values in timings.items():
            data += [
                {
                    "MetricName": name,
                    "Dimensions": self._dimensions,
                    "Timestamp": now,
                    "Values": values[start : start + _VALUES_PER_DATUM],
                    "Unit": "Milliseconds",
                }
                for start in range(0, len(values), _VALUES_PER_DATUM)
            ]
        return data

    def flush(self) -> None:
        """Send what was counted and timed since the last flush."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
            timings, self._timings = dict(self._timings), defaultdict(list)
        data = self._data(counts, timings)
        for start in range(0, len(data), _DATA_PER_REQUEST):
            self._cloudwatch.put_metric_data(
                Namespace=self._namespace, MetricData=data[start : start + _DATA_PER_REQUEST]
            )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.flush()
            except Exception as exc:  # kept for the caller; the next flush tries again
                self.errors.append(exc)

    def start(self) -> CloudWatchMetrics:
        self._thread = threading.Thread(target=self._run, name="s3ledger-metrics", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    def __enter__(self) -> CloudWatchMetrics:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

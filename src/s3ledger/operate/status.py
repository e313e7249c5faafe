"""``s3ledger status``: is the pipeline healthy right now, and does anything need a person?

Read from the services themselves, the same calls on AWS and on the workbench:

* **SQS** (``GetQueueAttributes``): the events queue's and the DLQ's depth, visible plus in
  flight;
* **CloudWatch** (one ``GetMetricData``): the age of the events queue's oldest message (``AWS/SQS
  ApproximateAgeOfOldestMessage``, the latest minute's maximum: SQS publishes it once a minute),
  and over the last hour the handlers' outcomes (``EventsApplied``, ``EventsUnchanged``,
  ``DuplicatesSkipped``, ``EventsSuperseded``, ``RecordsFailed``: sums) and their lag
  (``EventLag`` at p50 and p99), in the ``s3ledger`` namespace under ``service`` = the stack's
  name, as the template's function publishes them;
* **CloudFormation and CloudWatch** (``ListStackResources``, ``DescribeAlarms``): the stack's
  alarms that are in ``ALARM``.

Something needs a person when the DLQ holds a message, an alarm of the stack is in ``ALARM``, or
the oldest message has waited longer than the stack's ``QueueAgeThreshold``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from s3ledger.core.lag import LAG_METRIC
from s3ledger.operate.queues import queue_depth
from s3ledger.operate.stack import Stack, stack_alarm_names

__all__ = ["EVENT_METRICS", "METRICS_NAMESPACE", "WINDOW_SECONDS", "Status", "read_status"]

METRICS_NAMESPACE: Final = "s3ledger"  # the template's POWERTOOLS_METRICS_NAMESPACE
WINDOW_SECONDS: Final = 3600
# What status reports, by the handlers' metric that counts it.
EVENT_METRICS: Final = {
    "applied": "EventsApplied",
    "unchanged": "EventsUnchanged",
    "duplicates": "DuplicatesSkipped",
    "superseded": "EventsSuperseded",
    "failed": "RecordsFailed",
}
_AGE_LOOKBACK: Final = timedelta(minutes=10)


@dataclass(frozen=True)
class Status:
    """One reading of a stack's health (see the module's docstring)."""

    stack: str
    mode: str
    queue_depth: int
    queue_oldest_age_seconds: float | None
    dlq_depth: int
    alarms_in_alarm: list[str]
    events: dict[str, int]
    lag_ms: dict[str, float | None]
    queue_age_threshold: int
    window_seconds: int = WINDOW_SECONDS
    problems: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "stack": self.stack,
            "mode": self.mode,
            "queue_depth": self.queue_depth,
            "queue_oldest_age_seconds": self.queue_oldest_age_seconds,
            "dlq_depth": self.dlq_depth,
            "alarms_in_alarm": self.alarms_in_alarm,
            "events": self.events,
            "lag_ms": self.lag_ms,
            "window_seconds": self.window_seconds,
            "healthy": self.healthy,
            "problems": self.problems,
        }


def _query(query_id: str, metric: dict[str, Any], period: int, stat: str) -> dict[str, Any]:
    return {"Id": query_id, "MetricStat": {"Metric": metric, "Period": period, "Stat": stat}}


def _metric(namespace: str, name: str, dimension: str, value: str) -> dict[str, Any]:
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": [{"Name": dimension, "Value": value}],
    }


def _metrics(cloudwatch: Any, stack: Stack, now: datetime) -> dict[str, list[tuple[Any, float]]]:
    """One ``GetMetricData``: each query's (timestamp, value) pairs, newest first."""
    start = now.replace(second=0, microsecond=0) - timedelta(seconds=WINDOW_SECONDS)
    # One period covers the whole window (AWS rounds StartTime down to the minute, and a
    # datapoint stamped this second must be inside), so p50/p99 are the hour's.
    period = WINDOW_SECONDS + 120
    service = ("service", stack.name)
    queries = [
        _query(key, _metric(METRICS_NAMESPACE, name, *service), period, "Sum")
        for key, name in EVENT_METRICS.items()
    ]
    queries += [
        _query(stat, _metric(METRICS_NAMESPACE, LAG_METRIC, *service), period, stat)
        for stat in ("p50", "p99")
    ]
    queue_name = stack.output("QueueUrl").rsplit("/", 1)[1]
    age = _metric("AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue_name)
    queries.append(_query("age", age, 60, "Maximum"))
    found: dict[str, list[tuple[Any, float]]] = {}
    pages = cloudwatch.get_paginator("get_metric_data").paginate(
        MetricDataQueries=queries,
        StartTime=start,
        EndTime=now + timedelta(minutes=1),
        ScanBy="TimestampDescending",
    )
    for page in pages:
        for result in page["MetricDataResults"]:
            pairs = zip(result.get("Timestamps", []), result.get("Values", []), strict=True)
            found.setdefault(result["Id"], []).extend(pairs)
    return found


def _alarms_in_alarm(cloudformation: Any, cloudwatch: Any, stack: Stack) -> list[str]:
    names = stack_alarm_names(cloudformation, stack.name)
    firing: list[str] = []
    for start in range(0, len(names), 100):  # DescribeAlarms takes up to 100 names
        answer = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + 100], StateValue="ALARM"
        )
        # The state is checked here too: moto ignores StateValue when AlarmNames is given.
        firing += [
            alarm["AlarmName"]
            for alarm in answer.get("MetricAlarms", [])
            if alarm.get("StateValue") == "ALARM"
        ]
    return sorted(firing)


def _problems(status: Status) -> list[str]:
    problems = []
    if status.dlq_depth:
        problems.append(
            f"{status.dlq_depth} message(s) in the dead-letter queue: find why in the "
            "function's log, fix it, then `s3ledger redrive` and `s3ledger reconcile`"
        )
    if status.alarms_in_alarm:
        problems.append(f"alarms in ALARM: {', '.join(status.alarms_in_alarm)}")
    age = status.queue_oldest_age_seconds
    if age is not None and age > status.queue_age_threshold:
        problems.append(
            f"the oldest message has waited {age:.0f} s (QueueAgeThreshold "
            f"{status.queue_age_threshold} s): the function is not keeping up or keeps failing"
        )
    return problems


def read_status(
    stack: Stack, *, sqs: Any, cloudwatch: Any, cloudformation: Any, now: datetime | None = None
) -> Status:
    """Read ``stack``'s health (see the module's docstring)."""
    moment = now or datetime.now(UTC)
    metrics = _metrics(cloudwatch, stack, moment)
    age = [v for t, v in metrics.get("age", []) if moment - t <= _AGE_LOOKBACK]
    status = Status(
        stack=stack.name,
        mode=stack.mode,
        queue_depth=queue_depth(sqs, stack.output("QueueUrl")),
        queue_oldest_age_seconds=round(age[0], 1) if age else None,
        dlq_depth=queue_depth(sqs, stack.output("DLQUrl")),
        alarms_in_alarm=_alarms_in_alarm(cloudformation, cloudwatch, stack),
        events={key: int(sum(v for _, v in metrics.get(key, []))) for key in EVENT_METRICS},
        lag_ms={
            stat: round(values[0][1], 1) if (values := metrics.get(stat)) else None
            for stat in ("p50", "p99")
        },
        queue_age_threshold=stack.parameter_int("QueueAgeThreshold", 600),
    )
    status.problems.extend(_problems(status))
    return status

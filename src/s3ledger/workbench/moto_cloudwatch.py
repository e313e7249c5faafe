"""CloudWatch on the workbench as ``s3ledger status`` reads it on AWS: moto 5.2.5's, patched in the
server process (:mod:`s3ledger.workbench.moto_app`) so that the same API calls answer.

* **Percentiles.** ``GetMetricData`` with a percentile statistic (``p50``, ``p99``, ``p99.9``)
  answers the percentile of the raw values published in each period (nearest rank), where moto
  answers nothing. CloudWatch computes percentiles from the values given to ``PutMetricData``
  (or EMF), approximately beyond a size (Amazon CloudWatch User Guide, *Percentiles*:
  https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html#Percentiles).
* **Alarms in a stack.** moto's CloudFormation ignores ``AWS::CloudWatch::Alarm``; here it
  creates the alarm (``PutMetricAlarm`` with the resource's properties, named
  ``<stack>-<logical id>-<suffix>`` as CloudFormation names it) and lists it among the stack's
  resources, so ``ListStackResources`` finds a stack's alarms as on AWS. moto does not evaluate
  alarms: their state changes only by ``SetAlarmState``.
* **Amazon SQS metrics.** AWS publishes ``AWS/SQS`` metrics for every queue once a minute
  (Amazon SQS Developer Guide, *Available CloudWatch metrics for Amazon SQS*:
  https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html);
  moto publishes none. Here every query sees, for each queue, a datapoint taken at that moment
  (moto's own ``CloudWatchMetricProvider`` hook, as its S3 metrics use):
  ``ApproximateAgeOfOldestMessage`` (seconds since the oldest message still in the queue was
  sent; 0 when it is empty), ``ApproximateNumberOfMessagesVisible`` and
  ``ApproximateNumberOfMessagesNotVisible``.

Like the other patches, each checks moto's internals first and refuses to install (the server
does not start) if they are not those of moto 5.2.5.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

__all__ = ["install_cloudwatch_fidelity", "percentile"]

_PERCENTILE: Final = re.compile(r"p(\d{1,2}(?:\.\d+)?)")
_INSTALLED_MARK: Final = "_s3ledger_cloudwatch"
# moto finds both classes below through __subclasses__(), which holds weak references only.
_REGISTERED: list[type] = []


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile of ``values`` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def _install_percentiles() -> None:
    from moto.cloudwatch import models  # noqa: PLC0415 -- only the server process imports moto

    statistics = models.Statistics
    original = getattr(statistics, "get_statistics_for_type", None)
    if not callable(original) or not hasattr(statistics, "metric_single_values_list"):
        raise RuntimeError("moto's CloudWatch Statistics is not what s3ledger's patch expects")

    def get_statistics_for_type(self: Any, stat: str) -> Any:
        match = _PERCENTILE.fullmatch(stat)
        if match is None:
            return original(self, stat)
        values = self.metric_single_values_list
        return percentile(values, float(match.group(1))) if values else None

    setattr(statistics, "get_statistics_for_type", get_statistics_for_type)  # noqa: B010 -- moto's


def _alarm_arguments(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    """``put_metric_alarm``'s arguments from an ``AWS::CloudWatch::Alarm``'s properties."""
    return {
        "name": name,
        "namespace": properties.get("Namespace"),
        "metric_name": properties.get("MetricName"),
        "comparison_operator": properties["ComparisonOperator"],
        "evaluation_periods": int(properties["EvaluationPeriods"]),
        "period": int(properties.get("Period", 60)),
        "threshold": float(properties["Threshold"]),
        "statistic": properties.get("Statistic"),
        "extended_statistic": properties.get("ExtendedStatistic"),
        "description": properties.get("AlarmDescription", ""),
        "dimensions": [
            {"Name": d["Name"], "Value": d["Value"]} for d in properties.get("Dimensions", [])
        ],
        "alarm_actions": properties.get("AlarmActions", []),
        "ok_actions": properties.get("OKActions", []),
        "treat_missing_data": properties.get("TreatMissingData"),
        "unit": properties.get("Unit"),
    }


def _install_alarm_resource() -> None:
    from moto.cloudformation import parsing  # noqa: PLC0415 -- moto loads in the server process only
    from moto.cloudwatch.models import cloudwatch_backends  # noqa: PLC0415 -- moto loads in the server process only
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415 -- moto loads in the server process only

    model_map = getattr(parsing, "get_model_map", None)
    if not callable(model_map) or not hasattr(model_map, "cache_clear"):
        raise RuntimeError("moto's CloudFormation models are not what s3ledger's patch expects")

    class AlarmResource(CloudFormationModel):
        """An alarm a stack created: its physical id is the alarm's name."""

        def __init__(self, name: str) -> None:
            self.physical_resource_id = name

        @staticmethod
        def cloudformation_name_type() -> str:
            return "AlarmName"

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::CloudWatch::Alarm"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> AlarmResource:
            backend = cloudwatch_backends[account_id][region_name]
            properties = cloudformation_json["Properties"]
            backend.put_metric_alarm(**_alarm_arguments(resource_name, properties))
            return cls(resource_name)

        @classmethod
        def delete_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> None:
            cloudwatch_backends[account_id][region_name].delete_alarms([resource_name])

    _REGISTERED.append(AlarmResource)
    model_map.cache_clear()  # the map is built from CloudFormationModel's subclasses, cached
    getattr(parsing, "get_model_list").cache_clear()  # noqa: B009 -- moto's internals


def _queue_metrics(queue: Any, now_ms: float) -> dict[str, float]:
    messages = list(queue._messages)  # moto keeps no public list of a queue's messages
    oldest = min((m.sent_timestamp for m in messages if m.sent_timestamp), default=None)
    visible = sum(1 for m in messages if m.visible and not m.delayed)
    return {
        "ApproximateAgeOfOldestMessage": 0.0 if oldest is None else (now_ms - oldest) / 1000,
        "ApproximateNumberOfMessagesVisible": float(visible),
        "ApproximateNumberOfMessagesNotVisible": float(len(messages) - visible),
    }


def _install_sqs_metrics() -> None:
    from moto.cloudwatch.models import MetricDatum  # noqa: PLC0415 -- moto loads in the server process only
    from moto.core.common_models import CloudWatchMetricProvider  # noqa: PLC0415 -- moto loads in the server process only
    from moto.core.utils import unix_time_millis, utcnow  # noqa: PLC0415 -- moto loads in the server process only
    from moto.sqs import models  # noqa: PLC0415 -- moto loads in the server process only

    message = models.Message
    if not all(hasattr(message, name) for name in ("visible", "delayed")) or not hasattr(
        models, "sqs_backends"
    ):
        raise RuntimeError("moto's SQS models are not what s3ledger's metrics patch expects")
    units = {"ApproximateAgeOfOldestMessage": "Seconds"}

    class SqsMetrics(CloudWatchMetricProvider):
        """AWS/SQS metrics of every queue, taken when CloudWatch is asked."""

        @staticmethod
        def get_cloudwatch_metrics(account_id: str, region: str) -> list[Any]:
            now, now_ms = utcnow(), unix_time_millis()
            found = []
            for queue in list(models.sqs_backends[account_id][region].queues.values()):
                for name, value in _queue_metrics(queue, now_ms).items():
                    dimensions = [{"Name": "QueueName", "Value": queue.name}]
                    unit = units.get(name, "Count")
                    found.append(MetricDatum("AWS/SQS", name, value, dimensions, now, unit))
            return found

    _REGISTERED.append(SqsMetrics)


def install_cloudwatch_fidelity() -> None:
    """Install the three patches in this process (idempotent); raise if moto is not 5.2.5's."""
    from moto.cloudwatch import models  # noqa: PLC0415 -- moto loads in the server process only

    if getattr(models, _INSTALLED_MARK, False):
        return
    _install_percentiles()
    _install_alarm_resource()
    _install_sqs_metrics()
    setattr(models, _INSTALLED_MARK, True)

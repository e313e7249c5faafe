"""The workbench as AWS describes a deployed pipeline: its stack in moto's CloudFormation, the
metrics CloudWatch holds, and ``s3ledger status`` reading both, over HTTP."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from s3ledger.cli.commands.targets import resolve_targets
from s3ledger.operate.stack import Stack, StackName, describe_stack, stack_alarm_names
from s3ledger.operate.status import read_status
from s3ledger.workbench.metrics import CloudWatchMetrics
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import Resources
from s3ledger.workbench.stack import create_workbench_stack, workbench_stack_body
from s3ledger.workbench.template import load_pipeline_spec, load_template


def metric_values(cloudwatch: Any, namespace: str, name: str, dimensions: Any, stat: str) -> Any:
    now = datetime.now(UTC)
    answer = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "m",
                "MetricStat": {
                    "Metric": {
                        "Namespace": namespace,
                        "MetricName": name,
                        "Dimensions": dimensions,
                    },
                    "Period": 3600,
                    "Stat": stat,
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
    )
    return answer["MetricDataResults"][0]["Values"]


def make_stack(aws_endpoint: str, name: str) -> tuple[Resources, Stack]:
    """Queues in moto and the workbench's stack that describes them, as `up` makes it."""
    sqs = aws_client("sqs", aws_endpoint)
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    queue_url = sqs.create_queue(QueueName=f"{name}-events")["QueueUrl"]
    arns = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for url in (queue_url, dlq_url)
    ]
    spec = load_pipeline_spec(stack_name=name)
    resources = Resources(
        bucket=f"{name}-bucket",
        queue_url=queue_url,
        dlq_url=dlq_url,
        ledger_table=spec.tables["ledger"].name,
        audit_table=spec.tables["audit"].name,
        idempotency_table=spec.tables["idempotency"].name,
    )
    body = workbench_stack_body(
        load_template(stack_name=name),
        spec,
        resources,
        function_name=f"{name}-local",
        queue_arn=arns[0],
        dlq_arn=arns[1],
        also_made={  # what the bulk state machine's stand-in makes in `s3ledger up`
            "BulkStateMachine": f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}",
            "BulkResultsBucket": f"{name}-bulk-results",
            "BulkFunction": f"{name}-bulk",
        },
    )
    assert body.left_out == ()
    cloudformation = aws_client("cloudformation", aws_endpoint)
    create_workbench_stack(cloudformation, name, body)
    return resources, describe_stack(cloudformation, StackName(name, "test"))


def test_the_workbench_stack_has_every_output_parameter_and_alarm_of_the_template(
    aws_endpoint: str,
) -> None:
    """DescribeStacks answers every output template.yaml declares, resolved to what the
    workbench made, and every parameter with its value; ListStackResources lists the template's
    alarms, created in CloudWatch with the template's metric, statistic and threshold."""
    resources, stack = make_stack(aws_endpoint, "wbstack")
    template = load_template(stack_name="wbstack")

    assert set(stack.outputs) == set(template.document["Outputs"])
    assert stack.parameters == template.parameters
    assert stack.output("LedgerTableName") == "wbstack-ledger" == resources.ledger_table
    assert stack.output("QueueUrl") == resources.queue_url
    assert stack.output("DLQUrl") == resources.dlq_url
    assert stack.buckets == (resources.bucket,)
    assert stack.mode == "inbox"
    assert stack.settle_seconds() == 1200.0

    declared = set(template.of_type("AWS::CloudWatch::Alarm"))
    names = stack_alarm_names(aws_client("cloudformation", aws_endpoint), "wbstack")
    assert {name.split("-")[1] for name in names} == declared
    assert all(name.startswith("wbstack-") for name in names)
    alarms = {
        alarm["AlarmName"].split("-")[1]: alarm
        for alarm in aws_client("cloudwatch", aws_endpoint).describe_alarms(AlarmNames=names)[
            "MetricAlarms"
        ]
    }
    lag = alarms["LagAlarm"]
    assert (lag["MetricName"], lag["ExtendedStatistic"], lag["Threshold"]) == (
        "EventLag",
        "p99",
        300000.0,
    )
    assert lag["Dimensions"] == [{"Name": "service", "Value": "wbstack"}]
    dlq = alarms["DLQDepthAlarm"]["Dimensions"]
    assert dlq == [{"Name": "QueueName", "Value": "wbstack-dlq"}]


def test_cloudwatch_answers_percentiles_of_published_values(aws_endpoint: str) -> None:
    """Values sent by the workbench's sink come back summed (counts) and at p50 / p99 (timings,
    nearest rank), as CloudWatch computes them from raw values."""
    cloudwatch = aws_client("cloudwatch", aws_endpoint)
    sink = CloudWatchMetrics(cloudwatch, namespace="s3ledger-test", service="percentiles")
    for value in range(1, 201):
        sink.timing("Lag", float(value))
    sink.count("Applied", 3)
    sink.count("Applied", 4)
    sink.flush()  # 200 values: two PutMetricData data of at most 150 values

    dimensions = [{"Name": "service", "Value": "percentiles"}]
    assert metric_values(cloudwatch, "s3ledger-test", "Lag", dimensions, "p50") == [100.0]
    assert metric_values(cloudwatch, "s3ledger-test", "Lag", dimensions, "p99") == [198.0]
    assert metric_values(cloudwatch, "s3ledger-test", "Applied", dimensions, "Sum") == [7.0]


def test_cloudwatch_sees_the_age_of_a_queues_oldest_message(aws_endpoint: str) -> None:
    """AWS/SQS ApproximateAgeOfOldestMessage: how long the oldest message has been in the
    queue (received or not), 0 once it is deleted."""
    sqs = aws_client("sqs", aws_endpoint)
    cloudwatch = aws_client("cloudwatch", aws_endpoint)
    url = sqs.create_queue(QueueName="aging")["QueueUrl"]
    dimensions = [{"Name": "QueueName", "Value": "aging"}]

    def age() -> float:
        (value,) = metric_values(
            cloudwatch, "AWS/SQS", "ApproximateAgeOfOldestMessage", dimensions, "Maximum"
        )
        return float(value)

    assert age() == 0.0
    sqs.send_message(QueueUrl=url, MessageBody="{}")
    time.sleep(1.5)
    received = sqs.receive_message(QueueUrl=url)["Messages"]
    assert 1.5 <= age() < 30
    sqs.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    assert age() == 0.0


def test_status_reads_queues_metrics_and_alarms_and_says_what_needs_a_person(
    aws_endpoint: str,
) -> None:
    """``read_status`` on the workbench's stack: healthy with the handlers' metrics of the last
    hour summed and their lag at p50 / p99; a message in the DLQ and an alarm in ALARM each make
    it unhealthy, with a problem naming them."""
    resources, stack = make_stack(aws_endpoint, "wbstatus")
    clients = {
        name: aws_client(name, aws_endpoint) for name in ("sqs", "cloudwatch", "cloudformation")
    }
    sink = CloudWatchMetrics(clients["cloudwatch"], namespace="s3ledger", service="wbstatus")
    sink.count("EventsApplied", 9)
    sink.count("DuplicatesSkipped", 2)
    sink.count("RecordsFailed", 1)
    for lag in (120.0, 80.0, 100.0, 4000.0):
        sink.timing("EventLag", lag)
    sink.flush()
    clients["sqs"].send_message(QueueUrl=resources.queue_url, MessageBody="{}")

    healthy = read_status(stack, **clients)
    assert healthy.healthy, healthy.problems
    assert healthy.events == {
        "applied": 9,
        "unchanged": 0,
        "duplicates": 2,
        "superseded": 0,
        "failed": 1,
    }
    assert healthy.lag_ms == {"p50": 100.0, "p99": 4000.0}
    assert (healthy.queue_depth, healthy.dlq_depth, healthy.alarms_in_alarm) == (1, 0, [])
    assert healthy.queue_oldest_age_seconds is not None
    assert healthy.queue_oldest_age_seconds < 60

    clients["sqs"].send_message(QueueUrl=resources.dlq_url, MessageBody="{}")
    (alarm,) = [
        name
        for name in stack_alarm_names(clients["cloudformation"], "wbstatus")
        if "-QueueAgeAlarm-" in name
    ]
    clients["cloudwatch"].set_alarm_state(
        AlarmName=alarm, StateValue="ALARM", StateReason="test: the queue is stuck"
    )

    unhealthy = read_status(stack, **clients)
    assert not unhealthy.healthy
    assert (unhealthy.dlq_depth, unhealthy.alarms_in_alarm) == (1, [alarm])
    assert len(unhealthy.problems) == 2
    assert "dead-letter queue" in unhealthy.problems[0]
    assert alarm in unhealthy.problems[1]
    assert unhealthy.to_json()["healthy"] is False


def test_names_come_from_the_flag_then_the_stack_then_the_variable(
    aws_endpoint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``resolve_targets``: a flag wins over the stack's output, the stack's output over the
    ``S3LEDGER_*`` variable, and without a stack the variable (then the default) applies; the
    stack is read only when a name is missing."""
    resources, _ = make_stack(aws_endpoint, "wbtargets")
    monkeypatch.chdir(tmp_path)  # no samconfig.toml here
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDFORMATION", aws_endpoint)
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test")):
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("S3LEDGER_LEDGER_TABLE", "ledger-from-env")
    monkeypatch.setenv("S3LEDGER_BUCKET", "bucket-from-env")
    monkeypatch.delenv("S3LEDGER_STACK", raising=False)
    monkeypatch.delenv("S3LEDGER_AUDIT_TABLE", raising=False)

    def resolved(**given: str | None) -> tuple[argparse.Namespace, Stack | None]:
        args = argparse.Namespace(
            **{"stack": None, "ledger_table": None, "audit_table": None, "bucket": None, **given}
        )
        return args, resolve_targets(args, "ledger_table", "audit_table", "bucket")

    args, stack = resolved(stack="wbtargets", ledger_table="flagged")
    assert stack is not None
    assert stack.name == "wbtargets"
    assert (args.ledger_table, args.audit_table, args.bucket) == (
        "flagged",
        resources.audit_table,
        resources.bucket,
    )
    args, stack = resolved()
    assert stack is None
    assert (args.ledger_table, args.audit_table, args.bucket) == (
        "ledger-from-env",
        "s3ledger-audit",
        "bucket-from-env",
    )
    monkeypatch.setenv("S3LEDGER_STACK", "wbtargets")
    args, stack = resolved(ledger_table="a", audit_table="b", bucket="c")
    assert stack is None  # nothing to read from it: no DescribeStacks
    assert (args.ledger_table, args.audit_table, args.bucket) == ("a", "b", "c")

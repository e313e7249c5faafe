"""template.yaml's bulk engine: the state machine's Distributed Maps, the bulk function in the
same artifact, least-privilege roles, the alarm and the optional self-healing schedule."""

from __future__ import annotations

import json
from typing import Any

from tests.unit.test_template import (
    _as_list,
    _policy_documents,
    deployed,
    sam_template,
    transformed,
)

__all__ = ["sam_template", "transformed"]

_RETRIED = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "BatchRetryableError",
}


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    definition = template["Resources"]["BulkStateMachine"]["Properties"]["Definition"]
    assert isinstance(definition, dict)
    return definition


def _grants(template: dict[str, Any], role: str) -> dict[str, set[str]]:
    """``role``'s allowed actions per resource, as written (a !GetAtt's logical id, a !Sub's
    string, or a !Ref's target)."""
    granted: dict[str, set[str]] = {}
    for _, document in _policy_documents(template, role):
        for statement in _as_list(document["Statement"]):
            for resource in _as_list(statement["Resource"]):
                if "Fn::GetAtt" in resource:
                    target = resource["Fn::GetAtt"][0]
                elif "Fn::Sub" in resource:
                    target = resource["Fn::Sub"]
                else:
                    target = resource["Ref"]
                granted.setdefault(target, set()).update(_as_list(statement["Action"]))
    return granted


def test_the_maps_read_a_listing_or_an_inventory_and_batch_it(
    sam_template: dict[str, Any],
) -> None:
    """Both object Maps are Distributed (Express children), read a listing (ListObjectsV2) or an
    S3 Inventory manifest, batch items under 200 KB, take their concurrency and tolerated
    failures from the run's input, retry throttling, and write a ResultWriter report."""
    states = _definition(sam_template)["States"]
    listing, inventory = states["FromListing"], states["FromInventory"]
    assert listing["ItemReader"]["Resource"] == "arn:aws:states:::s3:listObjectsV2"
    assert inventory["ItemReader"]["Resource"] == "arn:aws:states:::s3:getObject"
    assert inventory["ItemReader"]["ReaderConfig"] == {"InputType": "MANIFEST"}
    for state in (listing, inventory, states["LedgerSegments"]):
        processor = state["ItemProcessor"]
        assert processor["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
        assert state["MaxConcurrencyPath"] == "$.max_concurrency"
        assert state["ToleratedFailurePercentagePath"] == "$.tolerated_failure_percentage"
        assert state["ResultWriter"]["Resource"] == "arn:aws:states:::s3:putObject"
        assert state["ResultWriter"]["Parameters"]["Bucket"] == "${ResultsBucket}"
        task = processor["States"][processor["StartAt"]]
        assert task["Parameters"]["FunctionName"] == "${BulkFunctionArn}"
        (retry,) = task["Retry"]
        assert set(retry["ErrorEquals"]) == _RETRIED
        assert retry["BackoffRate"] > 1
    for state in (listing, inventory):
        assert state["ItemProcessor"]["ProcessorConfig"]["ExecutionType"] == "EXPRESS"
        batcher = state["ItemBatcher"]
        assert batcher["MaxItemsPerBatchPath"] == "$.items_per_batch"
        assert batcher["MaxInputBytesPerBatch"] <= 256 * 1024
    assert inventory["ItemBatcher"]["BatchInput"]["source"] == "inventory"
    assert states["LedgerSegments"]["ItemsPath"] == "$.segment_list"


def test_reconcile_alone_goes_on_to_the_ledger_segments(sam_template: dict[str, Any]) -> None:
    """After the objects, a reconcile checks the ledger in segments; a backfill is done."""
    states = _definition(sam_template)["States"]
    assert states["FromListing"]["Next"] == states["FromInventory"]["Next"] == "LedgerSide"
    (choice,) = states["LedgerSide"]["Choices"]
    assert (choice["StringEquals"], choice["Next"]) == ("reconcile", "LedgerSegments")
    assert states["LedgerSide"]["Default"] == "Done"
    segment = states["LedgerSegments"]["ItemProcessor"]
    assert segment["ProcessorConfig"]["ExecutionType"] == "STANDARD"  # pages past 5 minutes
    (more,) = segment["States"]["MorePages"]["Choices"]
    assert (more["Variable"], more["Next"]) == ("$.start_key", "CheckPage")


def test_the_bulk_function_is_the_same_artifact_with_its_own_role(
    transformed: dict[str, Any],
) -> None:
    """The bulk function is built from src/ like the ledger function, and its role grants the
    pinned write, the chunk reads, the ledger scan and version listings; nothing else."""
    grants = _grants(deployed(transformed), "BulkFunctionRole")
    assert grants == {
        "BulkLogGroup": {"logs:CreateLogStream", "logs:PutLogEvents"},
        "LedgerTable": {"dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:Scan"},
        "AuditTable": {"dynamodb:PutItem", "dynamodb:BatchGetItem"},
        "EventsBucket": {"s3:ListBucketVersions"},
    }


def test_the_state_machine_role_is_least_privilege(sam_template: dict[str, Any]) -> None:
    """The state machine may invoke the bulk function, run its own children, list the recorded
    bucket, and write its reports; inventories only where InventoryBucketName is given."""
    own = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}"
    expected = {
        "BulkFunction": {"lambda:InvokeFunction"},
        "${BulkFunction.Arn}:*": {"lambda:InvokeFunction"},
        f"{own}:stateMachine:${{AWS::StackName}}-bulk": {"states:StartExecution"},
        f"{own}:execution:${{AWS::StackName}}-bulk/*": {
            "states:DescribeExecution",
            "states:StopExecution",
        },
        "EventsBucket": {"s3:ListBucket"},
        "${BulkResultsBucket.Arn}/*": {
            "s3:PutObject",
            "s3:GetObject",
            "s3:ListMultipartUploadParts",
            "s3:AbortMultipartUpload",
        },
    }
    assert _grants(deployed(sam_template), "BulkStateMachineRole") == expected
    with_inventory = deployed(sam_template, InventoryBucketName="inventories")
    inventory = "arn:${AWS::Partition}:s3:::${InventoryBucketName}/*"
    assert _grants(with_inventory, "BulkStateMachineRole") == {
        **expected,
        inventory: {"s3:GetObject"},
    }
    function = _grants(with_inventory, "BulkFunctionRole")
    assert function[f"{inventory[:-1]}*manifest.json"] == {"s3:GetObject"}


def test_self_healing_is_off_by_default_and_alarmed(sam_template: dict[str, Any]) -> None:
    """No schedule and no inventory rule by default; a rate creates the schedule (reconcile
    --apply with the settle window), "inventory" the rule; failed runs raise an alarm."""
    default = deployed(sam_template)["Resources"]
    assert "ReconcileScheduleRule" not in default
    assert "ReconcileOnInventoryRule" not in default
    alarm = default["BulkRunsFailedAlarm"]["Properties"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in alarm["Metrics"] if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    scheduled = deployed(sam_template, ReconcileSchedule="rate(1 day)")["Resources"]
    schedule = scheduled["ReconcileScheduleRule"]["Properties"]
    assert schedule["ScheduleExpression"] == {"Ref": "ReconcileSchedule"}
    text, _ = schedule["Target"]["Input"]["Fn::Sub"]
    run = json.loads(text.replace("${Bucket}", "b").replace("${ReconcileSettleSeconds}", "1200"))
    assert run == {"job": "reconcile", "bucket": "b", "apply": True, "settle_seconds": 1200}
    assert "ReconcileOnInventoryRule" not in scheduled
    on_inventory = deployed(
        sam_template, ReconcileSchedule="inventory", InventoryBucketName="inventories"
    )["Resources"]
    rule = on_inventory["ReconcileOnInventoryRule"]["Properties"]
    assert rule["EventPattern"]["detail"]["object"]["key"] == [{"suffix": "manifest.json"}]
    assert "ReconcileScheduleRule" not in on_inventory

"""template.yaml is valid, least-privilege, and the workbench reads its settings from it."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from samtranslator.translator.arn_generator import ArnGenerator
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from s3ledger.core.config import (
    DEFAULT_AUDIT_TABLE,
    DEFAULT_IDEMPOTENCY_TABLE,
    DEFAULT_LEDGER_TABLE,
)
from s3ledger.core.lag import LAG_METRIC
from s3ledger.workbench.template import (
    DEFAULT_TEMPLATE_PATH,
    TemplateError,
    load_pipeline_spec,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
# The article's table names, as README's deploy section passes them.
ARTICLE_NAMES = {
    "LedgerTableName": "lambda-transactions-table",
    "AuditTableName": "lambda-audit-log",
    "IdempotencyTableName": "lambda-idempotency-store",
}
TEMPLATE = REPO_ROOT / "template.yaml"
EVENTS = REPO_ROOT / "events"

# cfn-lint rules we do not enforce, each with its reason. Only informational (I*) rules.
IGNORED_RULES = {
    # Experimental: asks for Metadata.com.aws.cloudformation.Context blocks on every resource
    # (free-text architecture notes for tooling); the template documents itself in comments.
    "I4010",
}


@pytest.fixture(scope="module")
def sam_template() -> dict[str, Any]:
    document = yaml_parse(TEMPLATE.read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


class _OfflinePolicyLoader:
    """Stands in for ManagedPolicyLoader (which lists policies through IAM): no network."""

    def load(self) -> dict[str, str]:
        prefix = "arn:aws:iam::aws:policy/service-role/"
        return {
            "AWSLambdaBasicExecutionRole": f"{prefix}AWSLambdaBasicExecutionRole",
            "AWSLambdaSQSQueueExecutionRole": f"{prefix}AWSLambdaSQSQueueExecutionRole",
        }


@pytest.fixture
def transformed(sam_template: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The template after the SAM transform, computed offline."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(ArnGenerator, "BOTO_SESSION_REGION_NAME", "us-east-1")
    document = copy.deepcopy(sam_template)
    # The translator accepts only s3:// code locations (`sam package` uploads src/ first).
    for resource in document["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":  # the ledger and the bulk function
            resource["Properties"]["CodeUri"] = "s3://s3ledger-artifacts/ledger.zip"
    result = transform(document, {}, _OfflinePolicyLoader())
    assert isinstance(result, dict)
    return result


def _resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


MODES = ("naive", "transact", "powertools", "inbox", "inbox-batch", "lean")


def _condition_values(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    """Every Condition of the template evaluated for ``parameters`` (defaults for the rest)."""
    values = {
        name: str(definition.get("Default", ""))
        for name, definition in template["Parameters"].items()
    }
    values.update(parameters)
    conditions: dict[str, bool] = {}

    functions: dict[str, Any] = {
        "Fn::Equals": lambda a: value(a[0]) == value(a[1]),
        "Fn::Not": lambda a: not value(a[0]),
        "Fn::Or": lambda a: any(value(x) for x in a),
        "Fn::And": lambda a: all(value(x) for x in a),
        "Fn::Join": lambda a: a[0].join(
            [p for p in str(value(a[1])).split(",") if p] if isinstance(value(a[1]), str) else []
        ),
    }

    def value(node: Any) -> Any:
        if not isinstance(node, dict):
            return node
        ((function, arguments),) = node.items()
        if function == "Ref":
            return values[arguments]
        if function == "Condition":
            return evaluate(arguments)
        return functions[function](arguments)

    def evaluate(name: str) -> bool:
        if name not in conditions:
            conditions[name] = bool(value(template["Conditions"][name]))
        return conditions[name]

    for name in template["Conditions"]:
        evaluate(name)
    return conditions


def _resolve_ifs(node: Any, conditions: dict[str, bool]) -> Any:
    """``node`` with every Fn::If replaced by its chosen branch and AWS::NoValue dropped, as
    CloudFormation does once the conditions are known."""
    no_value = {"Ref": "AWS::NoValue"}
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            return _resolve_ifs(when_true if conditions[name] else when_false, conditions)
        resolved = {k: _resolve_ifs(v, conditions) for k, v in node.items()}
        return {k: v for k, v in resolved.items() if v != no_value}
    if isinstance(node, list):
        items = [_resolve_ifs(item, conditions) for item in node]
        return [item for item in items if item != no_value]
    return node


def _for_mode(template: dict[str, Any], mode: str) -> dict[str, Any]:
    """``template`` as CloudFormation would see it when deployed with ``Mode=mode``."""
    return _resolve_ifs(template, _condition_values(template, {"Mode": mode}))


def _grants(template: dict[str, Any]) -> dict[str, set[str]]:
    """The ledger function's allowed actions per resource target (the logical id of a !GetAtt)."""
    granted: dict[str, set[str]] = {}
    for _, document in _policy_documents(template, "LedgerFunctionRole"):
        for statement in _as_list(document["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            for resource in _as_list(statement["Resource"]):
                assert set(resource) == {"Fn::GetAtt"}, (statement.get("Sid"), resource)
                target = resource["Fn::GetAtt"][0]
                granted.setdefault(target, set()).update(_as_list(statement["Action"]))
    return granted


def _sids(template: dict[str, Any]) -> set[str]:
    return {
        statement["Sid"]
        for _, document in _policy_documents(template, "LedgerFunctionRole")
        for statement in _as_list(document["Statement"])
    }


def _policy_documents(
    template: dict[str, Any], only: str | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Every identity policy document in the template (or of the resource ``only``), with the
    logical id that holds it."""
    documents: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
        if only is not None and logical_id != only:
            continue
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
            documents += [(logical_id, p["PolicyDocument"]) for p in props.get("Policies", [])]
        elif resource["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            documents.append((logical_id, props["PolicyDocument"]))
    return documents


def test_cfn_lint_reports_nothing() -> None:
    """cfn-lint finds no error, warning or (non-ignored) informational finding in any region."""
    matches = lint(
        TEMPLATE.read_text(encoding="utf-8"),
        regions=["us-east-1", "eu-west-1", "ap-southeast-2"],
        config={"include_checks": ["I"], "include_experimental": True},
    )
    findings = [str(m) for m in matches if m.rule.id not in IGNORED_RULES]
    assert findings == []


def test_sam_transform_yields_function_and_sqs_mapping(transformed: dict[str, Any]) -> None:
    """The SAM transform produces the function and an SQS event source mapping that reports
    partial batch failures, with the batching window from the template."""
    functions = _resources_of(transformed, "AWS::Lambda::Function")
    assert sorted(functions) == ["BulkFunction", "LedgerFunction"]
    bulk = functions["BulkFunction"]["Properties"]
    assert bulk["Handler"] == "s3ledger.pipeline.bulk.handler.bulk_handler"
    assert bulk["Code"] == functions["LedgerFunction"]["Properties"]["Code"]  # one artifact
    props = functions["LedgerFunction"]["Properties"]
    assert props["Handler"] == "s3ledger.pipeline.handlers.sqs_handler"
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    mappings = _resources_of(transformed, "AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 1
    (mapping,) = mappings.values()
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["EventsQueue", "Arn"]}
    assert mapping["Properties"]["MaximumBatchingWindowInSeconds"] == 1


def test_transformed_template_lints_clean(transformed: dict[str, Any]) -> None:
    """What CloudFormation really deploys (the transformed template) is also lint-clean."""
    matches = lint(json.dumps(transformed), regions=["us-east-1"])
    assert [str(m) for m in matches] == []


def _names_a_stack_resource(resource: Any) -> bool:
    """A !GetAtt of this stack's resource or its ref (the scheduler's role names the state
    machine), or an ARN built with !Sub from this stack's name, one of its resources or the
    inventory bucket parameter (the state machine's own ARN: a !GetAtt would be a cycle)."""
    if isinstance(resource, dict) and set(resource) <= {"Fn::GetAtt", "Ref"}:
        return True
    if not (isinstance(resource, dict) and set(resource) == {"Fn::Sub"}):
        return False
    arn = resource["Fn::Sub"]
    named = re.search(
        r"\$\{(AWS::StackName|BulkFunction\.Arn|BulkResultsBucket\.Arn|"
        r"InventoryBucketName)\}",
        arn,
    )
    return named is not None and not arn.endswith(":*:*") and "*" not in arn.split(":")[2:5]


@pytest.mark.parametrize("mode", MODES)
def test_iam_is_least_privilege(transformed: dict[str, Any], mode: str) -> None:
    """After the transform, in every Mode, no Allow statement grants `*` or `service:*` actions
    or the `*` resource, every Allow names a resource of this stack (!GetAtt), and no managed
    policy (whose resources would be `*`) is attached to any role."""
    documents = _policy_documents(_for_mode(transformed, mode))
    assert documents, "the function's role must carry an inline policy"
    for logical_id, document in documents:
        for statement in _as_list(document["Statement"]):
            if statement["Effect"] != "Allow":
                continue
            assert "NotAction" not in statement, logical_id
            assert "NotResource" not in statement, logical_id
            for action in _as_list(statement["Action"]):
                assert action != "*", logical_id
                assert not action.endswith(":*"), (logical_id, action)
                assert "*" not in action, (logical_id, action)
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", (logical_id, statement.get("Sid"))
                assert _names_a_stack_resource(resource), (logical_id, statement.get("Sid"))
    for logical_id, role in _resources_of(transformed, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id
    assert not _resources_of(transformed, "AWS::IAM::ManagedPolicy")


# What each Mode's code calls, read from src/s3ledger (IAM authorizes each action of a
# TransactWriteItems as the single-item action: a transaction's Put as PutItem, its Update as
# UpdateItem; no mode sends a ConditionCheck, so no mode needs ConditionCheckItem):
# - naive (writers/naive.py): put_item on the ledger and on the audit log.
# - transact (writers/transact.py): one transaction, a Put on each table.
# - powertools (writers/powertools.py): transact's writes, plus Powertools' DynamoDB persistence
#   layer on the idempotency store (get_item, put_item, update_item, delete_item).
# - inbox (writers/inbox.py, ledger.inbox_actions/pinned_actions): transactions of an audit Put
#   (conditional on the event being new) and a ledger Update; a lone conditional audit put_item
#   for a superseded event; batch_get_item on both tables; bucket.py's ListObjectVersions
#   (s3:ListBucketVersions) for the removal of a version.
# - inbox-batch (writers/inbox_batch.py): inbox's actions, several events per transaction.
# - lean (writers/lean.py): a conditional audit put_item and a conditional ledger update_item,
#   outside transactions; batch_get_item on both tables and ListObjectVersions for a removal of a
#   version: inbox's grants exactly.
_PUT_MODES_GRANTS = {
    "EventsQueue": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
    "LedgerFunctionRole": set(),
    "LedgerLogGroup": {"logs:CreateLogStream", "logs:PutLogEvents"},
    "LedgerTable": {"dynamodb:PutItem"},
    "AuditTable": {"dynamodb:PutItem"},
}
_INBOX_GRANTS = {
    **_PUT_MODES_GRANTS,
    "LedgerTable": {"dynamodb:UpdateItem", "dynamodb:BatchGetItem"},
    "AuditTable": {"dynamodb:PutItem", "dynamodb:BatchGetItem"},
    "EventsBucket": {"s3:ListBucketVersions"},
}
EXPECTED_GRANTS: dict[str, dict[str, set[str]]] = {
    "naive": _PUT_MODES_GRANTS,
    "transact": _PUT_MODES_GRANTS,
    "powertools": {
        **_PUT_MODES_GRANTS,
        "IdempotencyTable": {
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        },
    },
    "inbox": _INBOX_GRANTS,
    "inbox-batch": _INBOX_GRANTS,
    "lean": _INBOX_GRANTS,
}
EXPECTED_SIDS = {
    "naive": {"WriteOwnLogs", "ConsumeEventsQueue", "AppendAuditLog", "PutLedgerItems"},
    "transact": {"WriteOwnLogs", "ConsumeEventsQueue", "AppendAuditLog", "PutLedgerItems"},
    "powertools": {
        "WriteOwnLogs",
        "ConsumeEventsQueue",
        "AppendAuditLog",
        "PutLedgerItems",
        "PowertoolsIdempotencyStore",
    },
    "inbox": {
        "WriteOwnLogs",
        "ConsumeEventsQueue",
        "AppendAuditLog",
        "UpdateLedgerItems",
        "ReadLedgerAndAudit",
        "ReadCurrentVersions",
    },
}
EXPECTED_SIDS["inbox-batch"] = EXPECTED_SIDS["inbox"]
EXPECTED_SIDS["lean"] = EXPECTED_SIDS["inbox"]


@pytest.mark.parametrize("mode", MODES)
def test_role_grants_exactly_what_the_modes_code_calls(
    transformed: dict[str, Any], mode: str
) -> None:
    """Deployed with Mode=mode, the role grants exactly the actions that mode's code calls, each
    on the one resource it calls it on (the sets above are derived from src/s3ledger)."""
    deployed = _for_mode(transformed, mode)
    assert _sids(deployed) == EXPECTED_SIDS[mode]
    grants = {k: v for k, v in _grants(deployed).items() if v}
    expected = {k: v for k, v in EXPECTED_GRANTS[mode].items() if v}
    assert grants == expected


def test_role_statements_depend_on_mode_conditions(sam_template: dict[str, Any]) -> None:
    """The mode-specific statements sit behind Fn::If on the Mode conditions, and the
    conditions pick the modes they are named for."""
    (policy,) = sam_template["Resources"]["LedgerFunctionRole"]["Properties"]["Policies"]
    guarded = {
        s["Fn::If"][1]["Sid"]: s["Fn::If"][0]
        for s in policy["PolicyDocument"]["Statement"]
        if "Fn::If" in s
    }
    assert guarded == {
        "PutLedgerItems": "PutsLedgerItems",
        "UpdateLedgerItems": "IsInboxMode",
        "ReadLedgerAndAudit": "IsInboxMode",
        "ReadCurrentVersions": "IsInboxMode",
        "PowertoolsIdempotencyStore": "IsPowertoolsMode",
    }
    for mode in MODES:
        conditions = _condition_values(sam_template, {"Mode": mode})
        updates = mode in ("inbox", "inbox-batch", "lean")
        assert conditions["IsInboxMode"] is updates, mode
        assert conditions["PutsLedgerItems"] is not updates, mode
        assert conditions["IsPowertoolsMode"] is (mode == "powertools"), mode


@pytest.mark.parametrize("mode", MODES)
def test_audit_log_is_append_only_for_the_role(transformed: dict[str, Any], mode: str) -> None:
    """In no mode can the role update, delete or condition-check audit items (no way to rewrite
    history), and no mode changes message visibility (the code never calls it)."""
    grants = _grants(_for_mode(transformed, mode))
    assert grants["AuditTable"] <= {"dynamodb:PutItem", "dynamodb:BatchGetItem"}
    assert "sqs:ChangeMessageVisibility" not in set().union(*grants.values())
    assert not any("ConditionCheckItem" in a for a in set().union(*grants.values()))


@pytest.mark.parametrize("mode", MODES)
def test_s3_access_is_listing_versions_of_the_bucket_only(
    transformed: dict[str, Any], mode: str
) -> None:
    """The function may list the bucket's versions (metadata), in the inbox modes only, and
    nothing else in S3: no GetObject, so it can never read an object's contents."""
    s3_grants = [
        (action, resource)
        for _, document in _policy_documents(_for_mode(transformed, mode), "LedgerFunctionRole")
        for statement in _as_list(document["Statement"])
        for action in _as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in _as_list(statement["Resource"])
    ]
    expected = [("s3:ListBucketVersions", {"Fn::GetAtt": ["EventsBucket", "Arn"]})]
    assert s3_grants == (expected if mode in ("inbox", "inbox-batch", "lean") else [])


def test_queue_visibility_covers_six_function_timeouts(sam_template: dict[str, Any]) -> None:
    """With the template's defaults, the queue's visibility timeout is at least 6x the function
    timeout (AWS's guidance for SQS event sources), and the loader agrees."""
    parameters = sam_template["Parameters"]
    visibility = int(parameters["QueueVisibilityTimeout"]["Default"])
    timeout = int(parameters["FunctionTimeout"]["Default"])
    assert visibility >= 6 * timeout
    spec = load_pipeline_spec()
    assert spec.queue.visibility_timeout >= 6 * spec.function.timeout


def test_bucket_is_private_encrypted_versioned_and_tls_only(sam_template: dict[str, Any]) -> None:
    """The bucket blocks all public access, encrypts at rest, keeps versions, disables ACLs, and
    its policy denies any request not made over TLS."""
    bucket = sam_template["Resources"]["EventsBucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    policy = sam_template["Resources"]["EventsBucketPolicy"]["Properties"]["PolicyDocument"]
    denies = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert any(s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for s in denies), (
        "no statement denies non-TLS requests"
    )


def test_queues_are_encrypted_and_redrive_to_the_dlq(sam_template: dict[str, Any]) -> None:
    """Both queues use SSE-SQS and keep messages 14 days (the maximum); the events queue
    redrives to the DLQ."""
    resources = sam_template["Resources"]
    queue = resources["EventsQueue"]["Properties"]
    dlq = resources["EventsDLQ"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDLQ", "Arn"]}
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_dashboard_body_is_json_with_every_metric(sam_template: dict[str, Any]) -> None:
    """Once !Sub has filled in its variables, the dashboard body is valid JSON and graphs every
    EMF metric the handlers emit, the DLQ depth and the function's errors and duration."""
    body = sam_template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body))
    metrics = {
        metric[1] for widget in dashboard["widgets"] for metric in widget["properties"]["metrics"]
    }
    assert {
        "EventsApplied",
        "DuplicatesSkipped",
        "EventsSuperseded",
        "TransactionConflicts",
        "RecordsFailed",
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Duration",
        "EventLag",
    } <= metrics


def test_alarms_notify_only_when_an_email_is_given(sam_template: dict[str, Any]) -> None:
    """The SNS topic exists only under HasAlarmEmail, and every alarm's actions are conditional."""
    resources = sam_template["Resources"]
    assert resources["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    alarms = _resources_of(sam_template, "AWS::CloudWatch::Alarm")
    assert {a["Properties"].get("MetricName") for a in alarms.values()} == {
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
        "Errors",
        "DuplicatesSkipped",
        "RecordsFailed",
        "EventLag",
        "IdentityConflicts",
        None,  # the bulk state machine's alarm: a sum of three metrics
    }
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmEmail", logical_id


@pytest.mark.parametrize("metric", ["RecordsFailed", "IdentityConflicts"])
def test_a_failure_metric_alarms_on_any_failure(sam_template: dict[str, Any], metric: str) -> None:
    """RecordsFailed and IdentityConflicts (the handlers' EMF metrics) summed over 5 minutes
    above 0 raise an alarm."""
    alarm = sam_template["Resources"][f"{metric}Alarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("s3ledger", metric)
    # The service dimension is the stack's name, as the function's POWERTOOLS_SERVICE_NAME.
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    assert (alarm["Statistic"], alarm["Period"], alarm["EvaluationPeriods"]) == ("Sum", 300, 1)
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert alarm["TreatMissingData"] == "notBreaching"


def test_queue_age_alarm_uses_the_threshold_parameter(sam_template: dict[str, Any]) -> None:
    """The events queue's ApproximateAgeOfOldestMessage above QueueAgeThreshold (seconds,
    default 600) raises an alarm."""
    alarm = sam_template["Resources"]["QueueAgeAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/SQS", "ApproximateAgeOfOldestMessage")
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["EventsQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == {"Ref": "QueueAgeThreshold"}
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert sam_template["Parameters"]["QueueAgeThreshold"]["Default"] == 600


def test_lag_alarm_and_dashboard_use_the_handlers_lag_at_p50_and_p99(
    sam_template: dict[str, Any],
) -> None:
    """EventLag (the handlers' metric, milliseconds) alarms at p99 above LagThreshold, and the
    dashboard graphs it at p50 and p99; the Mode output names the handler's mode."""
    alarm = sam_template["Resources"]["LagAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("s3ledger", LAG_METRIC)
    assert alarm["Dimensions"] == [{"Name": "service", "Value": {"Ref": "AWS::StackName"}}]
    assert (alarm["ExtendedStatistic"], alarm["Threshold"]) == ("p99", {"Ref": "LagThreshold"})
    assert "Statistic" not in alarm
    body = sam_template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body))
    stats = {
        metric[4]["stat"]
        for widget in dashboard["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[1] == LAG_METRIC
    }
    assert stats == {"p50", "p99"}
    assert sam_template["Outputs"]["Mode"]["Value"] == {"Ref": "Mode"}


def test_dashboard_graphs_the_events_queue(sam_template: dict[str, Any]) -> None:
    """The dashboard graphs the events queue's depth and the age of its oldest message."""
    body = sam_template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    dashboard = json.loads(
        body.replace("${EventsQueue.QueueName}", "EVENTS_QUEUE").replace("${", "{")
    )
    queue_metrics = {
        metric[1]
        for widget in dashboard["widgets"]
        for metric in widget["properties"]["metrics"]
        if metric[:1] == ["AWS/SQS"] and metric[3] == "EVENTS_QUEUE"
    }
    assert queue_metrics == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}


def test_event_source_concurrency_is_capped(
    sam_template: dict[str, Any], transformed: dict[str, Any]
) -> None:
    """The SQS event source mapping carries ScalingConfig.MaximumConcurrency from a parameter
    whose bounds are AWS's (2 to 1000)."""
    (mapping,) = _resources_of(transformed, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "MaximumConcurrency"}
    }
    parameter = sam_template["Parameters"]["MaximumConcurrency"]
    assert (parameter["MinValue"], parameter["MaxValue"]) == (2, 1000)
    assert 2 <= parameter["Default"] <= 1000


def test_ledger_and_audit_tables_have_deletion_protection(sam_template: dict[str, Any]) -> None:
    """The ledger and the audit log cannot be deleted until deletion protection is turned off."""
    resources = sam_template["Resources"]
    for logical_id in ("LedgerTable", "AuditTable"):
        assert resources[logical_id]["Properties"]["DeletionProtectionEnabled"] is True, logical_id


def test_both_queues_deny_requests_without_tls(sam_template: dict[str, Any]) -> None:
    """Each queue (the events queue and the DLQ) has a policy that denies non-TLS requests."""
    denied: set[str] = set()
    for resource in _resources_of(
        _for_mode(sam_template, "inbox"), "AWS::SQS::QueuePolicy"
    ).values():
        props = resource["Properties"]
        for statement in props["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {
                "Bool": {"aws:SecureTransport": "false"}
            }:
                assert statement["Principal"] == "*"
                assert [{"Ref": q["Fn::GetAtt"][0]} for q in _as_list(statement["Resource"])] == (
                    props["Queues"]
                )
                denied.update(q["Ref"] for q in props["Queues"])
    assert denied == {"EventsQueue", "EventsDLQ"}


def test_outputs_name_the_dlq_arn_and_the_dashboard(sam_template: dict[str, Any]) -> None:
    """The stack outputs the DLQ's ARN (for a redrive) and the dashboard's name and URL."""
    outputs = sam_template["Outputs"]
    assert outputs["DLQArn"]["Value"] == {"Fn::GetAtt": ["EventsDLQ", "Arn"]}
    assert outputs["DashboardName"]["Value"] == {"Ref": "Dashboard"}
    assert "#dashboards:name=${Dashboard}" in outputs["DashboardUrl"]["Value"]["Fn::Sub"]


def test_pipeline_spec_has_the_stacks_tables() -> None:
    """By default the loader returns the three tables named after the default stack, their keys,
    the TTL on the idempotency table and the streams the checker reads."""
    tables = load_pipeline_spec().tables
    assert {role: t.name for role, t in tables.items()} == {
        "ledger": "s3ledger-ledger",
        "audit": "s3ledger-audit",
        "idempotency": "s3ledger-idempotency",
    }
    assert (
        tables["ledger"].name,
        tables["audit"].name,
        tables["idempotency"].name,
    ) == (DEFAULT_LEDGER_TABLE, DEFAULT_AUDIT_TABLE, DEFAULT_IDEMPOTENCY_TABLE)
    assert tables["ledger"].hash_key == "id"
    assert (tables["audit"].hash_key, tables["audit"].range_key) == ("object_id", "event_key")
    assert tables["idempotency"].hash_key == "id"
    assert tables["idempotency"].ttl_attribute == "expiration"
    assert tables["ledger"].ttl_attribute is None
    assert tables["ledger"].stream_view_type == "NEW_AND_OLD_IMAGES"
    assert tables["audit"].stream_view_type == "NEW_AND_OLD_IMAGES"


def test_pipeline_spec_queue_function_and_notification() -> None:
    """The loader reads the redrive threshold, batch size, partial-failure reporting, the
    handler's environment and the bucket's notification from the template."""
    spec = load_pipeline_spec()
    assert spec.queue.max_receive_count == 5
    assert spec.dlq_retention_seconds == 1209600
    assert spec.function.batch_size == 10
    assert spec.function.timeout == 30
    assert spec.function.maximum_batching_window == 1
    assert spec.function.report_batch_item_failures is True
    assert spec.function.handler == "s3ledger.pipeline.handlers.sqs_handler"
    assert spec.function.environment["S3LEDGER_MODE"] == "inbox"
    assert spec.function.environment["S3LEDGER_LEDGER_TABLE"] == "s3ledger-ledger"
    assert spec.function.environment["POWERTOOLS_SERVICE_NAME"] == "s3ledger"
    assert spec.notification.events == (
        "s3:ObjectCreated:*",
        "s3:ObjectRemoved:*",
        "s3:LifecycleExpiration:*",
    )
    assert spec.versioning is True
    assert spec.bucket_name is None


def test_overrides_replace_parameter_defaults() -> None:
    """Overrides replace defaults everywhere the parameter is used (table and environment)."""
    spec = load_pipeline_spec(
        overrides={"LedgerTableName": "x", "Mode": "naive", "MaxReceiveCount": "2"}
    )
    assert spec.tables["ledger"].name == "x"
    assert spec.function.environment["S3LEDGER_LEDGER_TABLE"] == "x"
    assert spec.function.environment["S3LEDGER_MODE"] == "naive"
    assert spec.queue.max_receive_count == 2
    assert spec.tables["audit"].name == "s3ledger-audit"


def test_two_stacks_get_disjoint_names() -> None:
    """Two stack names (dev, prod) give disjoint table names and metric services."""
    dev, prod = (load_pipeline_spec(stack_name=name) for name in ("dev", "prod"))
    assert {t.name for t in dev.tables.values()} == {"dev-ledger", "dev-audit", "dev-idempotency"}
    assert not {t.name for t in dev.tables.values()} & {t.name for t in prod.tables.values()}
    assert dev.function.environment["POWERTOOLS_SERVICE_NAME"] == "dev"
    assert prod.function.environment["POWERTOOLS_SERVICE_NAME"] == "prod"
    assert (dev.stack_name, prod.stack_name) == ("dev", "prod")


def test_the_handler_takes_its_service_from_the_stacks_variable() -> None:
    """The handler's metrics and logs use POWERTOOLS_SERVICE_NAME (the stack's name, which the
    alarms watch): no argument overrides it. Without it (invoke, workbench) it is s3ledger."""
    probe = (
        "import s3ledger.pipeline.handlers as h; "
        "print(h.metrics.service, h.metrics.namespace, h.logger.service)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    outputs = [
        subprocess.run(  # noqa: S603 - this interpreter, a constant program
            [sys.executable, "-c", probe],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        for extra in ({"POWERTOOLS_SERVICE_NAME": "prod"}, {})
    ]
    assert outputs == [["prod", "s3ledger", "prod"], ["s3ledger", "s3ledger", "s3ledger"]]


def test_explicit_parameters_give_the_articles_names() -> None:
    """The article's names are one parameter each away, whatever the stack's name."""
    spec = load_pipeline_spec(overrides=ARTICLE_NAMES, stack_name="prod")
    assert {role: t.name for role, t in spec.tables.items()} == {
        "ledger": "lambda-transactions-table",
        "audit": "lambda-audit-log",
        "idempotency": "lambda-idempotency-store",
    }
    assert spec.function.environment["S3LEDGER_AUDIT_TABLE"] == "lambda-audit-log"


def test_table_names_are_conditional_on_their_parameter(sam_template: dict[str, Any]) -> None:
    """Each table's name is !If [Has<Parameter>, !Ref <Parameter>, <stack>-<role>], its
    parameter defaults to empty, and the function's variables and the role use the table."""
    resources, conditions = sam_template["Resources"], sam_template["Conditions"]
    parameters = sam_template["Parameters"]
    for table, parameter, suffix in (
        ("LedgerTable", "LedgerTableName", "ledger"),
        ("AuditTable", "AuditTableName", "audit"),
        ("IdempotencyTable", "IdempotencyTableName", "idempotency"),
    ):
        assert parameters[parameter]["Default"] == ""
        assert re.fullmatch(parameters[parameter]["AllowedPattern"], "")
        assert re.fullmatch(parameters[parameter]["AllowedPattern"], "lambda-audit-log")
        assert conditions[f"Has{parameter}"] == {
            "Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]
        }
        assert resources[table]["Properties"]["TableName"] == {
            "Fn::If": [
                f"Has{parameter}",
                {"Ref": parameter},
                {"Fn::Sub": f"${{AWS::StackName}}-{suffix}"},
            ]
        }
    variables = resources["LedgerFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["S3LEDGER_LEDGER_TABLE"] == {"Ref": "LedgerTable"}
    assert variables["POWERTOOLS_SERVICE_NAME"] == {"Ref": "AWS::StackName"}
    # Only the parameter's condition and its table's TableName refer to a table parameter.
    body = json.dumps({k: v for k, v in sam_template.items() if k not in ("Parameters",)})
    for parameter in ("LedgerTableName", "AuditTableName", "IdempotencyTableName"):
        assert body.count(f'{{"Ref": "{parameter}"}}') == 2, parameter


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"NoSuchParameter": "1"}, "NoSuchParameter"),
        ({"Mode": "sometimes"}, "Mode"),
    ],
)
def test_invalid_overrides_raise_template_error(overrides: dict[str, str], message: str) -> None:
    """An unknown parameter or a value outside AllowedValues is a TemplateError naming it."""
    with pytest.raises(TemplateError, match=message):
        load_pipeline_spec(overrides=overrides)


def test_missing_template_raises_template_error(tmp_path: Path) -> None:
    """A template path that does not exist raises TemplateError naming the path."""
    missing = tmp_path / "nope.yaml"
    with pytest.raises(TemplateError, match=r"nope\.yaml"):
        load_pipeline_spec(missing)


def test_template_without_tables_raises_template_error(tmp_path: Path) -> None:
    """A template that lacks a table role says which role and which variable it expects."""
    text = TEMPLATE.read_text(encoding="utf-8").replace(
        "S3LEDGER_AUDIT_TABLE: !Ref AuditTable", "S3LEDGER_AUDIT_TABLE: audit-literal"
    )
    broken = tmp_path / "template.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"audit.*S3LEDGER_AUDIT_TABLE"):
        load_pipeline_spec(broken)


def _variable(
    tmp_path: Path,
    expression: str,
    overrides: dict[str, str] | None = None,
    *,
    stack_name: str = "s3ledger",
    conditions: str = "",
) -> str:
    """The function variable POWERTOOLS_LOG_LEVEL as the loader resolves it, set to
    ``expression`` (YAML) in a copy of the template, with ``conditions`` (YAML lines) added."""
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.count("POWERTOOLS_LOG_LEVEL: INFO") == 1
    text = text.replace("POWERTOOLS_LOG_LEVEL: INFO", f"POWERTOOLS_LOG_LEVEL: {expression}")
    text = text.replace("\nConditions:\n", f"\nConditions:\n{conditions}", 1)
    path = tmp_path / "template.yaml"
    path.write_text(text, encoding="utf-8")
    spec = load_pipeline_spec(path, overrides, stack_name=stack_name)
    return spec.function.environment["POWERTOOLS_LOG_LEVEL"]


def test_if_takes_the_branch_of_its_condition(tmp_path: Path) -> None:
    """Fn::If on Not/Equals (HasBucketName), Or (IsInboxMode) and Fn::Join of a list
    parameter (AttachExisting, through Condition) picks the branch the parameters select."""
    given = "!If [HasBucketName, !Ref BucketName, generated]"
    assert _variable(tmp_path, given) == "generated"
    assert _variable(tmp_path, given, {"BucketName": "my-bucket"}) == "my-bucket"
    inbox = "!If [IsInboxMode, inbox-like, puts]"
    assert _variable(tmp_path, inbox, {"Mode": "inbox-batch"}) == "inbox-like"
    assert _variable(tmp_path, inbox, {"Mode": "naive"}) == "puts"
    create = "!If [CreateBucket, created, attached]"
    assert _variable(tmp_path, create) == "created"
    assert _variable(tmp_path, create, {"ExistingBucketNames": "a,b"}) == "attached"
    both = "  Both: !And [!Condition IsInboxMode, !Condition AttachExisting]\n"
    expression = "!If [Both, both, not-both]"
    overrides = {"Mode": "inbox", "ExistingBucketNames": "a"}
    assert _variable(tmp_path, expression, overrides, conditions=both) == "both"
    assert _variable(tmp_path, expression, {"Mode": "inbox"}, conditions=both) == "not-both"


def test_sub_and_join_resolve_the_stack_name_and_parameters(tmp_path: Path) -> None:
    """Fn::Sub substitutes AWS::StackName (the caller's), parameters and its own variables, and
    keeps ${!Literal}; Fn::Join joins literals and Refs."""
    sub = '!Sub "${AWS::StackName}-${Mode}-${!Literal}"'
    assert _variable(tmp_path, sub) == "s3ledger-inbox-${Literal}"
    assert _variable(tmp_path, sub, {"Mode": "naive"}, stack_name="dev") == "dev-naive-${Literal}"
    with_variables = '!Sub ["${Prefix}/${AWS::StackName}", {Prefix: !Ref Mode}]'
    assert _variable(tmp_path, with_variables, stack_name="prod") == "inbox/prod"
    assert _variable(tmp_path, "!Join [':', [a, !Ref Mode, !Ref AWS::StackName]]") == (
        "a:inbox:s3ledger"
    )


@pytest.mark.parametrize(
    ("expression", "conditions", "message"),
    [
        ("!GetAtt EventsQueue.Arn", "", "cannot resolve"),
        ("!Select [0, [a, b]]", "", "cannot resolve"),
        ('!Sub "${EventsQueue.Arn}"', "", "EventsQueue.Arn"),
        ("!Ref EventsQueue", "", "not a parameter"),
        ("!If [NoSuchCondition, a, b]", "", "no condition named 'NoSuchCondition'"),
        ("!If [Loop, a, b]", "  Loop: !Not [!Condition Loop]\n", "refers to itself"),
        ("!If [Odd, a, b]", "  Odd: !Contains [[a], a]\n", "cannot evaluate"),
        ("!Join ['', !Ref Mode]", "", "not a list"),
    ],
)
def test_unknown_intrinsics_are_a_template_error_naming_the_property(
    tmp_path: Path, expression: str, conditions: str, message: str
) -> None:
    """What the loader does not resolve is a TemplateError that names the property."""
    with pytest.raises(TemplateError, match="POWERTOOLS_LOG_LEVEL") as raised:
        _variable(tmp_path, expression, conditions=conditions)
    assert message in str(raised.value)


def test_invalid_yaml_raises_template_error(tmp_path: Path) -> None:
    """A file that is not YAML, or not a mapping, raises TemplateError."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("Resources: [unclosed", encoding="utf-8")
    with pytest.raises(TemplateError, match="not valid YAML"):
        load_pipeline_spec(bad)
    bad.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(TemplateError, match="not a YAML mapping"):
        load_pipeline_spec(bad)


def test_without_streams_drops_only_the_streams() -> None:
    """The bench's spec has no table stream; every other part of the spec is unchanged."""
    spec = load_pipeline_spec()
    assert spec.tables["ledger"].stream_view_type == "NEW_AND_OLD_IMAGES"
    plain = spec.without_streams()
    assert all(table.stream_view_type is None for table in plain.tables.values())
    for role, table in spec.tables.items():
        assert plain.tables[role].name == table.name
        assert plain.tables[role].hash_key == table.hash_key
        assert plain.tables[role].ttl_attribute == table.ttl_attribute
    assert (plain.queue, plain.function) == (spec.queue, spec.function)


def test_default_template_path_is_the_repository_template() -> None:
    """Without a path, the loader reads the template shipped as package data, which in a
    checkout is the repository's template.yaml itself (a symlink: one file, never a copy)."""
    assert DEFAULT_TEMPLATE_PATH.is_symlink()
    assert DEFAULT_TEMPLATE_PATH.resolve() == TEMPLATE.resolve()


def test_every_event_file_is_valid_json() -> None:
    """Every payload in events/ parses as a JSON object."""
    files = sorted(EVENTS.glob("*.json"))
    assert len(files) >= 8
    for path in files:
        assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict), path.name


def test_sqs_events_carry_a_correct_md5_of_body() -> None:
    """Each SQS record's md5OfBody matches its body, as SQS computes it."""
    for path in sorted(EVENTS.glob("sqs-*.json")):
        for record in json.loads(path.read_text(encoding="utf-8"))["Records"]:
            digest = hashlib.md5(record["body"].encode(), usedforsecurity=False).hexdigest()
            assert record["md5OfBody"] == digest, (path.name, record["messageId"])


# The checkov suppressions, each in its resource's Metadata (make checkov fails on the rest).
EXPECTED_CHECKOV_SKIPS = {
    "EventsBucket": {"CKV_AWS_18"},
    "EventsQueue": {"CKV_AWS_27"},
    "EventsDLQ": {"CKV_AWS_27"},
    "LedgerLogGroup": {"CKV_AWS_158"},
    "LedgerFunction": {"CKV_AWS_115", "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173"},
    "LedgerTable": {"CKV_AWS_119"},
    "AuditTable": {"CKV_AWS_119"},
    "IdempotencyTable": {"CKV_AWS_119"},
    "AlarmTopic": {"CKV_AWS_26"},
    "BulkLogGroup": {"CKV_AWS_158"},
    "BulkFunction": {"CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_173"},
    "BulkResultsBucket": {"CKV_AWS_18"},
}


def test_checkov_suppressions_are_the_known_ones_with_reasons(
    sam_template: dict[str, Any],
) -> None:
    """Every checkov suppression sits in a resource's Metadata with a written reason, and no
    suppression appears that this list does not name."""
    skips: dict[str, set[str]] = {}
    for logical_id, resource in sam_template["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert re.fullmatch(r"CKV_AWS_\d+", skip["id"]), (logical_id, skip)
            assert len(skip["comment"].split()) >= 10, (logical_id, skip["id"])
            skips.setdefault(logical_id, set()).add(skip["id"])
    assert skips == EXPECTED_CHECKOV_SKIPS


def deployed(template: dict[str, Any], **parameters: str) -> dict[str, Any]:
    """``template`` as CloudFormation deploys it with ``parameters`` (defaults for the rest):
    conditions decided, resources of false conditions left out."""
    conditions = _condition_values(template, parameters)
    resolved = _resolve_ifs(template, conditions)
    resolved["Resources"] = {
        logical_id: resource
        for logical_id, resource in resolved["Resources"].items()
        if conditions.get(resource.get("Condition", ""), True)
    }
    return resolved


def _attached(template: dict[str, Any], names: str, mode: str = "inbox") -> dict[str, Any]:
    """``template`` as deployed with ``ExistingBucketNames=names`` (and ``Mode=mode``)."""
    return deployed(template, ExistingBucketNames=names, Mode=mode)


def test_by_default_the_stack_creates_its_bucket_and_no_eventbridge_rule(
    sam_template: dict[str, Any],
) -> None:
    deployed = _attached(sam_template, "")
    assert "EventsBucket" in deployed["Resources"]
    assert "ExistingBucketsRule" not in deployed["Resources"]


def test_existing_buckets_are_attached_over_eventbridge_with_least_privilege(
    sam_template: dict[str, Any],
) -> None:
    """With ExistingBucketNames: no bucket is created; one rule sends the named buckets'
    Object Created/Deleted events to the queue; the queue accepts SendMessage from that rule
    alone (and no S3 notification statement); the role lists those buckets' versions only."""
    deployed = _attached(sam_template, "alpha-bucket,beta-bucket")
    resources = deployed["Resources"]
    assert "EventsBucket" not in resources
    assert "EventsBucketPolicy" not in resources
    rule = resources["ExistingBucketsRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["aws.s3"]
    assert rule["EventPattern"]["detail-type"] == ["Object Created", "Object Deleted"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == {"Ref": "ExistingBucketNames"}
    assert rule["Targets"] == [
        {"Id": "s3ledger-events-queue", "Arn": {"Fn::GetAtt": ["EventsQueue", "Arn"]}}
    ]
    statements = resources["EventsQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    allows = [s for s in statements if s["Effect"] == "Allow"]
    assert [s["Principal"] for s in allows] == [{"Service": "events.amazonaws.com"}]
    assert allows[0]["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ExistingBucketsRule", "Arn"]}}
    }
    role = resources["LedgerFunctionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
    (versions,) = [s for s in role["Statement"] if s.get("Sid") == "ReadCurrentVersions"]
    assert versions["Resource"]["Fn::Split"][0] == ","
    names = versions["Resource"]["Fn::Split"][1]["Fn::Sub"][1]["Names"]
    assert names == {"Fn::Join": [",arn:aws:s3:::", {"Ref": "ExistingBucketNames"}]}
    joined = "arn:aws:s3:::" + ",arn:aws:s3:::".join(["alpha-bucket", "beta-bucket"])
    assert joined.split(",") == ["arn:aws:s3:::alpha-bucket", "arn:aws:s3:::beta-bucket"]
    assert deployed["Outputs"]["BucketName"]["Value"] == {
        "Fn::Join": [",", {"Ref": "ExistingBucketNames"}]
    }


def test_the_attached_template_lints_clean(sam_template: dict[str, Any]) -> None:
    """With ExistingBucketNames set by default, cfn-lint still finds nothing."""
    template = copy.deepcopy(sam_template)
    template["Parameters"]["ExistingBucketNames"]["Default"] = "alpha-bucket,beta-bucket"
    matches = lint(json.dumps(template), regions=["us-east-1"])
    assert [str(m) for m in matches if m.rule.id not in IGNORED_RULES] == []

"""template.yaml is valid, least-privilege, and the workbench reads its settings from it."""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from samtranslator.translator.arn_generator import ArnGenerator
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

from s3ledger.local.template import (
    DEFAULT_TEMPLATE_PATH,
    TemplateError,
    load_pipeline_spec,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
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
    document["Resources"]["LedgerFunction"]["Properties"]["CodeUri"] = (
        "s3://s3ledger-artifacts/ledger.zip"
    )
    result = transform(document, {}, _OfflinePolicyLoader())
    assert isinstance(result, dict)
    return result


def _resources_of(template: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == resource_type}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every identity policy document in the template, with the logical id that holds it."""
    documents: list[tuple[str, dict[str, Any]]] = []
    for logical_id, resource in template["Resources"].items():
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
    assert list(functions) == ["LedgerFunction"]
    props = functions["LedgerFunction"]["Properties"]
    assert props["Handler"] == "s3ledger.handlers.sqs_handler"
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


def test_iam_is_least_privilege(transformed: dict[str, Any]) -> None:
    """After the transform, no Allow statement grants `*` or `service:*` actions or the `*`
    resource, and no managed policy (whose resources would be `*`) is attached to any role."""
    documents = _policy_documents(transformed)
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
    for logical_id, role in _resources_of(transformed, "AWS::IAM::Role").items():
        assert not role["Properties"].get("ManagedPolicyArns"), logical_id
    assert not _resources_of(transformed, "AWS::IAM::ManagedPolicy")


def test_dynamodb_actions_are_scoped_to_the_named_tables(transformed: dict[str, Any]) -> None:
    """DynamoDB actions are granted only on the three tables' ARNs; the idempotency table alone
    gets GetItem and DeleteItem (Powertools' record lifecycle); ledger and audit BatchGetItem
    (inbox's duplicate look-ahead, and its read before writing a removed version's state)."""
    granted: dict[str, set[str]] = {}
    for _, document in _policy_documents(transformed):
        for statement in _as_list(document["Statement"]):
            actions = [a for a in _as_list(statement["Action"]) if a.startswith("dynamodb:")]
            for resource in _as_list(statement["Resource"]):
                if actions:
                    assert set(resource) == {"Fn::GetAtt"}, resource
                    table = resource["Fn::GetAtt"][0]
                    granted.setdefault(table, set()).update(actions)
    writes = {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:ConditionCheckItem"}
    assert granted["LedgerTable"] == writes | {"dynamodb:BatchGetItem"}
    assert granted["AuditTable"] == writes | {"dynamodb:BatchGetItem"}
    assert granted["IdempotencyTable"] == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }


def test_s3_access_is_listing_versions_of_the_bucket_only(transformed: dict[str, Any]) -> None:
    """The function may list the bucket's versions (metadata) and nothing else in S3: no
    GetObject, so it can never read an object's contents."""
    s3_grants = [
        (action, resource)
        for _, document in _policy_documents(transformed)
        for statement in _as_list(document["Statement"])
        for action in _as_list(statement["Action"])
        if action.startswith("s3:")
        for resource in _as_list(statement["Resource"])
    ]
    assert s3_grants == [("s3:ListBucketVersions", {"Fn::GetAtt": ["EventsBucket", "Arn"]})]


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
    """Both queues use SSE-SQS; the events queue redrives to the DLQ, which keeps 14 days."""
    resources = sam_template["Resources"]
    queue = resources["EventsQueue"]["Properties"]
    dlq = resources["EventsDLQ"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert dlq["SqsManagedSseEnabled"] is True
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["EventsDLQ", "Arn"]}
    assert dlq["MessageRetentionPeriod"] == 14 * 24 * 3600


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
        "StaleEvents",
        "TransactionConflicts",
        "RecordsFailed",
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "Duration",
    } <= metrics


def test_alarms_notify_only_when_an_email_is_given(sam_template: dict[str, Any]) -> None:
    """The SNS topic exists only under HasAlarmEmail, and every alarm's actions are conditional."""
    resources = sam_template["Resources"]
    assert resources["AlarmTopic"]["Condition"] == "HasAlarmEmail"
    alarms = _resources_of(sam_template, "AWS::CloudWatch::Alarm")
    assert {a["Properties"]["MetricName"] for a in alarms.values()} == {
        "ApproximateNumberOfMessagesVisible",
        "Errors",
        "DuplicatesSkipped",
    }
    for logical_id, alarm in alarms.items():
        assert alarm["Properties"]["AlarmActions"]["Fn::If"][0] == "HasAlarmEmail", logical_id


def test_pipeline_spec_has_the_articles_tables() -> None:
    """By default the loader returns the article's three table names, their keys, the TTL on the
    idempotency table and the streams the checker reads."""
    tables = load_pipeline_spec().tables
    assert {role: t.name for role, t in tables.items()} == {
        "ledger": "lambda-transactions-table",
        "audit": "lambda-audit-log",
        "idempotency": "lambda-idempotency-store",
    }
    assert tables["ledger"].hash_key == "id"
    assert tables["audit"].hash_key == "event_id"
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
    assert spec.function.handler == "s3ledger.handlers.sqs_handler"
    assert spec.function.environment["S3LEDGER_MODE"] == "inbox"
    assert spec.function.environment["S3LEDGER_LEDGER_TABLE"] == "lambda-transactions-table"
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
    assert spec.tables["audit"].name == "lambda-audit-log"


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
    """A template that lacks a table role says which role and which parameter it expects."""
    text = TEMPLATE.read_text(encoding="utf-8").replace(
        "TableName: !Ref AuditTableName", "TableName: audit-literal"
    )
    broken = tmp_path / "template.yaml"
    broken.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match=r"audit.*AuditTableName"):
        load_pipeline_spec(broken)


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
    """Without a path, the loader reads the repository's template.yaml."""
    assert DEFAULT_TEMPLATE_PATH == TEMPLATE


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

"""A deployed pipeline, found by its CloudFormation stack: what every operator command needs.

``sam deploy`` leaves a stack whose outputs name the bucket(s), the tables, the queues and the
dashboard, and whose parameters say the mode, the queue's visibility timeout and redrive
threshold and the alarms' thresholds. The operator commands read them with ``DescribeStacks``
instead of asking for each name (``s3ledger up`` makes a stack of its own in moto, so the same
calls find the workbench's pipeline).

Which stack (:func:`find_stack_name`): ``--stack NAME``, else ``$S3LEDGER_STACK``, else the
``stack_name`` of ``./samconfig.toml``, where ``sam deploy --guided`` keeps it (AWS SAM CLI
configuration file: ``[default.deploy.parameters]``, or ``[default.global.parameters]`` for every
command; https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/serverless-sam-cli-config.html).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from botocore.exceptions import ClientError

from s3ledger.core.config import Mode, parse_mode
from s3ledger.core.errors import ConfigurationError
from s3ledger.pipeline.aws import error_code

__all__ = [
    "S3_DELIVERY_MARGIN_SECONDS",
    "SAMCONFIG",
    "STACK_VARIABLE",
    "Stack",
    "StackName",
    "describe_stack",
    "find_stack_name",
    "samconfig_stack_name",
    "settle_window",
    "stack_alarm_names",
]

STACK_VARIABLE: Final = "S3LEDGER_STACK"
SAMCONFIG: Final = "samconfig.toml"

# S3 documents no bound on its own delivery delay ("typically ... within seconds, but can
# sometimes take a minute or longer", Amazon S3 Event Notifications); five minutes is our margin.
S3_DELIVERY_MARGIN_SECONDS: Final = 300


def settle_window(visibility_timeout: int, max_receive_count: int) -> float:
    """Reconcile's default settle window: the queue's whole redelivery span (visibility timeout
    x maxReceiveCount) plus S3's own delivery margin, so no event of an older change is still
    queued."""
    return float(visibility_timeout * max_receive_count + S3_DELIVERY_MARGIN_SECONDS)


@dataclass(frozen=True)
class StackName:
    """A stack's name and where it was found (for messages)."""

    name: str
    source: str


def samconfig_stack_name(path: Path) -> str | None:
    """``stack_name`` of a SAM configuration file's ``default`` environment (``deploy`` first,
    then ``global``, as SAM reads them); ``None`` if it names none."""
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}") from exc
    environment = config.get("default")
    for command in ("deploy", "global"):
        section = environment.get(command) if isinstance(environment, dict) else None
        parameters = section.get("parameters") if isinstance(section, dict) else None
        name = parameters.get("stack_name") if isinstance(parameters, dict) else None
        if isinstance(name, str) and name:
            return name
    return None


def find_stack_name(
    explicit: str | None, environ: Mapping[str, str], cwd: Path
) -> StackName | None:
    """The stack to read, by precedence: ``explicit`` (``--stack``), ``$S3LEDGER_STACK``,
    ``./samconfig.toml``'s ``stack_name``; ``None`` when none names one."""
    if explicit:
        return StackName(explicit, "--stack")
    if environ.get(STACK_VARIABLE):
        return StackName(environ[STACK_VARIABLE], f"${STACK_VARIABLE}")
    config = cwd / SAMCONFIG
    if config.is_file() and (name := samconfig_stack_name(config)):
        return StackName(name, f"stack_name in {config}")
    return None


@dataclass(frozen=True)
class Stack:
    """One stack's outputs and parameters, and what the operator commands read from them."""

    name: str
    outputs: Mapping[str, str]
    parameters: Mapping[str, str]

    def output(self, key: str) -> str:
        """The output ``key``; a :class:`ConfigurationError` naming it if the stack lacks it."""
        value = self.outputs.get(key)
        if not value:
            raise ConfigurationError(
                f"stack {self.name!r} has no output {key} (deployed from an older template? "
                "give the name with its flag, or update the stack)"
            )
        return value

    @property
    def buckets(self) -> tuple[str, ...]:
        """The recorded bucket(s): ``BucketName`` (comma-separated for existing buckets)."""
        return tuple(b for b in self.output("BucketName").split(",") if b)

    def bucket(self) -> str:
        """The stack's one bucket; an error listing them if it records several."""
        buckets = self.buckets
        if len(buckets) != 1:
            raise ConfigurationError(
                f"stack {self.name!r} records {len(buckets)} buckets ({', '.join(buckets)}): "
                "choose one with --bucket"
            )
        return buckets[0]

    @property
    def mode(self) -> Mode:
        """The handler's write mode: the ``Mode`` output, else the ``Mode`` parameter."""
        return parse_mode(self.outputs.get("Mode") or self.parameters.get("Mode") or "inbox")

    def parameter_int(self, key: str, default: int) -> int:
        """A numeric parameter (its template default when the stack does not report it)."""
        value = self.parameters.get(key)
        return int(value) if value and value.isdecimal() else default

    def settle_seconds(self) -> float:
        """Reconcile's settle window for this stack's queue (see :func:`settle_window`)."""
        return settle_window(
            self.parameter_int("QueueVisibilityTimeout", 180),
            self.parameter_int("MaxReceiveCount", 5),
        )


def describe_stack(cloudformation: Any, found: StackName) -> Stack:
    """``DescribeStacks`` of ``found``; a :class:`ConfigurationError` if there is no such stack."""
    try:
        answer = cloudformation.describe_stacks(StackName=found.name)
    except ClientError as exc:
        if error_code(exc) != "ValidationError":
            raise
        raise ConfigurationError(
            f"stack {found.name!r} ({found.source}) does not exist at "
            f"{cloudformation.meta.endpoint_url} ({exc.response['Error'].get('Message', '')})"
        ) from None
    (stack,) = answer["Stacks"]
    return Stack(
        name=found.name,
        outputs={o["OutputKey"]: o.get("OutputValue", "") for o in stack.get("Outputs", [])},
        parameters={
            p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])
        },
    )


def stack_alarm_names(cloudformation: Any, name: str) -> list[str]:
    """The names of the stack's CloudWatch alarms (``ListStackResources``: CloudFormation names
    them ``<stack>-<logical id>-<suffix>``)."""
    names: list[str] = []
    for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
        names += [
            summary["PhysicalResourceId"]
            for summary in page["StackResourceSummaries"]
            if summary["ResourceType"] == "AWS::CloudWatch::Alarm"
            and summary.get("PhysicalResourceId")
        ]
    return names

"""What an operator command acts on, and where each name comes from: ``--stack`` and the flags.

Every name (a table, the bucket, a queue) is taken, in this order, from its own flag; from the
stack's outputs, when a stack is named (``--stack``, ``$S3LEDGER_STACK`` or ``./samconfig.toml``:
:func:`s3ledger.operate.stack.find_stack_name`); from its ``S3LEDGER_*`` variable; from its
default (the tables of a stack called ``s3ledger``). A command declares the names it needs and
calls :func:`resolve_targets` once its arguments are parsed; ``s3ledger history`` (or any new
command) does the same.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from s3ledger.core.config import DEFAULT_AUDIT_TABLE, DEFAULT_LEDGER_TABLE
from s3ledger.core.errors import ConfigurationError
from s3ledger.operate.stack import (
    STACK_VARIABLE,
    Stack,
    StackName,
    describe_stack,
    find_stack_name,
)

__all__ = [
    "TARGETS",
    "Target",
    "add_stack_argument",
    "add_target_arguments",
    "require_stack",
    "resolve_targets",
]


@dataclass(frozen=True)
class Target:
    """One name a command may need: its flag, the stack's value, its variable, its default."""

    flag: str
    from_stack: Callable[[Stack], str]
    variable: str
    default: str | None
    help: str

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


TARGETS: Final = {
    target.dest: target
    for target in (
        Target(
            "--ledger-table",
            lambda stack: stack.output("LedgerTableName"),
            "S3LEDGER_LEDGER_TABLE",
            DEFAULT_LEDGER_TABLE,
            "the ledger table",
        ),
        Target(
            "--audit-table",
            lambda stack: stack.output("AuditTableName"),
            "S3LEDGER_AUDIT_TABLE",
            DEFAULT_AUDIT_TABLE,
            "the audit table",
        ),
        Target("--bucket", Stack.bucket, "S3LEDGER_BUCKET", None, "the bucket"),
        Target(
            "--queue-url",
            lambda stack: stack.output("QueueUrl"),
            "S3LEDGER_QUEUE_URL",
            None,
            "the events queue",
        ),
        Target(
            "--dlq-url",
            lambda stack: stack.output("DLQUrl"),
            "S3LEDGER_DLQ_URL",
            None,
            "the dead-letter queue",
        ),
        Target(
            "--state-machine",
            lambda stack: stack.output("BulkStateMachineArn"),
            "S3LEDGER_STATE_MACHINE_ARN",
            None,
            "the bulk state machine's ARN (--engine stepfunctions)",
        ),
    )
}


def add_stack_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stack",
        default=None,
        metavar="NAME",
        help="read names and settings from this CloudFormation stack's outputs and parameters "
        f"(default: ${STACK_VARIABLE}, else stack_name in ./samconfig.toml); flags override",
    )


def add_target_arguments(parser: argparse.ArgumentParser, *names: str) -> None:
    """``--stack`` and the flags of ``names`` (keys of :data:`TARGETS`), all defaulting to
    ``None`` so that :func:`resolve_targets` can tell a flag given from one left out."""
    add_stack_argument(parser)
    for name in names:
        target = TARGETS[name]
        fallback = f"${target.variable}" + (f", else {target.default}" if target.default else "")
        parser.add_argument(
            target.flag,
            default=None,
            help=f"{target.help} (default: the stack's, else {fallback})",
        )


def _describe(found: StackName) -> Stack:
    import boto3
    from botocore.config import Config

    client = boto3.client("cloudformation", config=Config(retries={"mode": "standard"}))
    return describe_stack(client, found)


def require_stack(args: argparse.Namespace) -> Stack:
    """The stack named by ``--stack``, ``$S3LEDGER_STACK`` or ``./samconfig.toml``, read."""
    found = find_stack_name(getattr(args, "stack", None), os.environ, Path.cwd())
    if found is None:
        raise ConfigurationError(
            f"no stack named: give --stack NAME, set ${STACK_VARIABLE}, or run from the folder "
            "of your samconfig.toml"
        )
    return _describe(found)


def resolve_targets(args: argparse.Namespace, *names: str, use_stack: bool = False) -> Stack | None:
    """Fill in each of ``names`` that no flag gave (see the module's docstring) and return the
    stack read, if any. ``DescribeStacks`` is called only when a stack is named and something is
    to be read from it, or ``use_stack`` (the command reads more than names from it)."""
    found = find_stack_name(getattr(args, "stack", None), os.environ, Path.cwd())
    missing = [name for name in names if getattr(args, name, None) is None]
    stack = _describe(found) if found is not None and (missing or use_stack) else None
    for name in missing:
        target = TARGETS[name]
        value = target.from_stack(stack) if stack is not None else None
        setattr(args, name, value or os.environ.get(target.variable) or target.default)
    return stack

"""``--engine stepfunctions`` for ``backfill`` and ``reconcile``: the run goes to the stack's bulk
state machine (``BulkStateMachineArn``); this follows it with a progress bar from its Map Runs'
item counts and prints the same summary and ``--json`` keys as ``--engine local``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, Final, Literal

from s3ledger.cli.commands.common import fail
from s3ledger.cli.commands.targets import resolve_targets

__all__ = ["ENGINES", "add_engine_arguments", "with_engine"]

ENGINES: Final = ("local", "stepfunctions")
Job = Literal["backfill", "reconcile"]
Command = Callable[[argparse.Namespace], int]


def add_engine_arguments(parser: argparse.ArgumentParser, job: Job) -> None:
    """The engine's flags (the local engine ignores all but ``--engine``); ``--state-machine``
    is a target (:mod:`s3ledger.cli.commands.targets`): its flag, the stack, its variable."""
    engine = parser.add_argument_group("engine")
    engine.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this machine (the default, for small buckets); stepfunctions: the stack's "
        "bulk state machine, a Distributed Map of the bucket",
    )
    engine.add_argument(
        "--execution",
        default=None,
        metavar="ARN",
        help="follow a run already started (its ARN, as printed when it started)",
    )
    engine.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        metavar="N",
        help="batches written at once (default and ceiling: the stack's BulkMaxConcurrency)",
    )
    if job == "reconcile":
        engine.add_argument(
            "--segments", type=int, default=16, metavar="N", help="parallel ledger scan segments"
        )
        engine.add_argument(
            "--inventory",
            default=None,
            metavar="MANIFEST_URI",
            help="s3://.../manifest.json of a CSV S3 Inventory report to compare with instead of "
            "a listing (stepfunctions engine only)",
        )


def with_engine(local: Command, job: Job) -> Command:
    """``local``, unless ``--engine stepfunctions`` asks for the bulk state machine."""

    def run(args: argparse.Namespace) -> int:
        if args.engine == "stepfunctions":
            return _stepfunctions(args, job)
        flags = {
            "--execution": args.execution,
            "--max-concurrency": args.max_concurrency,
            "--inventory": getattr(args, "inventory", None) if job == "reconcile" else None,
        }
        for flag, value in flags.items():
            if value is not None:
                fail(f"{job} {flag} needs --engine stepfunctions")
        return local(args)

    return run


def _document(args: argparse.Namespace, job: Job) -> dict[str, Any]:
    from s3ledger.cli.commands.operate import default_settle_seconds
    from s3ledger.operate.bulk import run_input

    if not args.bucket and not args.inventory:
        fail("--bucket is required (or --stack, or S3LEDGER_BUCKET)")
    if args.max_concurrency is not None and args.max_concurrency < 1:
        fail("--max-concurrency must be at least 1")
    settle = 0.0
    if job == "reconcile":
        settle = args.settle if args.settle is not None else default_settle_seconds()
    return run_input(
        job=job,
        bucket=args.bucket,
        prefix=args.prefix,
        inventory=args.inventory,
        apply=job == "backfill" or args.apply,
        settle_seconds=settle,
        segments=getattr(args, "segments", 16),
        max_concurrency=args.max_concurrency,
    )


def _follow(sfn: Any, arn: str, job: Job, quiet: bool) -> dict[str, Any]:
    from rich.console import Console

    from s3ledger.operate.bulk import Progress, follow
    from s3ledger.workbench.console import counting_progress

    with counting_progress(Console(stderr=True), disable=quiet, unit="objects") as bar:
        task = bar.add_task(f"{job} (Step Functions)", total=None)

        def show(progress: Progress) -> None:
            bar.update(task, completed=progress.done, total=progress.total or None)

        try:
            return follow(sfn, arn, show)
        except KeyboardInterrupt:
            fail(
                f"stopped following; the run goes on on Step Functions ({arn}). Follow it "
                f"again: s3ledger {job} --engine stepfunctions --execution {arn}; stop it: aws "
                f"stepfunctions stop-execution --execution-arn {arn}",
                130,
            )


def _stepfunctions(args: argparse.Namespace, job: Job) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.bulk import backfill_report, reconcile_report, start_run

    resolve_targets(args, "bucket", "ledger_table", "audit_table", "state_machine")
    config = Config(retries={"mode": "standard"})
    sfn, s3 = boto3.client("stepfunctions", config=config), boto3.client("s3", config=config)
    arn = args.execution
    if arn is None:
        if not args.state_machine:
            fail("--state-machine is required (or --stack, or S3LEDGER_STATE_MACHINE_ARN)")
        arn = start_run(sfn, args.state_machine, _document(args, job))
        print(f"started {arn}", file=sys.stderr)
    elif json.loads(sfn.describe_execution(executionArn=arn)["input"]).get("job") != job:
        fail(f"{arn} is not a {job} run")
    described = _follow(sfn, arn, job, quiet=args.json)
    if described["status"] != "SUCCEEDED":
        fail(
            f"{arn} ended {described['status']}: {described.get('error')}: "
            f"{described.get('cause')}",
            1,
        )
    report = (backfill_report if job == "backfill" else reconcile_report)(s3, described)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_backfill, print_reconcile

        (print_backfill if job == "backfill" else print_reconcile)(report.to_json())
    return 1 if job == "backfill" and report.failed else 0

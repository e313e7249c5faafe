"""The operator commands, against a deployed pipeline (or the workbench): ``check``,
``reconcile``, ``attach``/``detach``, ``redrive``, ``backfill`` and ``status``. Each finds what it
acts on with :func:`~s3ledger.cli.commands.targets.resolve_targets` (flags, then ``--stack``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

from s3ledger.cli.commands.common import EXIT_ANOMALIES, fail
from s3ledger.cli.commands.targets import require_stack, resolve_targets

__all__ = [
    "attach_command",
    "backfill_command",
    "check_command",
    "default_settle_seconds",
    "reconcile_command",
    "redrive_command",
    "status_command",
]


def check_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from s3ledger.operate.scan import check_tables
    from s3ledger.pipeline.aws import error_code

    resolve_targets(args, "ledger_table", "audit_table")
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
    try:
        report = check_tables(
            client,
            ledger_table=args.ledger_table,
            audit_table=args.audit_table,
            segments=args.segments,
        )
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        fail(
            f"table {args.ledger_table!r} or {args.audit_table!r} does not exist at "
            f"{client.meta.endpoint_url} (set --stack, --ledger-table/--audit-table, or "
            "S3LEDGER_LEDGER_TABLE/S3LEDGER_AUDIT_TABLE)"
        )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_check

        print_check(report, ledger_table=args.ledger_table, audit_table=args.audit_table)
    return EXIT_ANOMALIES if report.anomalies_total else 0


def reconcile_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.reconcile import reconcile

    stack = resolve_targets(
        args, "bucket", "ledger_table", "audit_table", use_stack=args.settle is None
    )
    if not args.bucket:
        fail("--bucket is required (or --stack, or set S3LEDGER_BUCKET)")
    settle = args.settle
    if settle is None:
        settle = stack.settle_seconds() if stack is not None else default_settle_seconds()
    if settle < 0:
        fail("--settle must not be negative")
    config = Config(retries={"mode": "standard"})
    report = reconcile(
        boto3.client("s3", config=config),
        boto3.client("dynamodb", config=config),
        bucket=args.bucket,
        ledger_table=args.ledger_table,
        audit_table=args.audit_table,
        apply=args.apply,
        prefix=args.prefix,
        settle_seconds=settle,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_reconcile

        print_reconcile(report.to_json())
    return 0


def attach_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.attach import attach, detach

    resolve_targets(args, "bucket")
    if not args.bucket:
        fail("--bucket is required (or --stack, or set S3LEDGER_BUCKET)")
    s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}))
    change = (attach if args.command == "attach" else detach)(s3, args.bucket)
    if args.json:
        print(json.dumps(change.to_json(), indent=2, sort_keys=True))
    else:
        print(change.describe())
        if args.command == "detach" and change.changed:
            print(
                "note: the switch is the bucket's: any other EventBridge rule matching this "
                "bucket stops receiving its events too",
                file=sys.stderr,
            )
    return 0


def redrive_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config
    from rich.console import Console

    from s3ledger.operate.redrive import redrive
    from s3ledger.workbench.console import counting_progress

    resolve_targets(args, "dlq_url", "queue_url")
    if not args.dlq_url or not args.queue_url:
        fail(
            "--dlq-url and --queue-url are required (or --stack, or S3LEDGER_DLQ_URL and "
            "S3LEDGER_QUEUE_URL)"
        )
    sqs = boto3.client("sqs", config=Config(retries={"mode": "standard"}))
    console = Console(stderr=True)
    with counting_progress(console, disable=args.json, unit="messages") as progress:
        task = progress.add_task("redriving the DLQ", total=None)
        report = redrive(
            sqs,
            dlq_url=args.dlq_url,
            queue_url=args.queue_url,
            progress=lambda moved, total: progress.update(task, completed=moved, total=total),
        )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        how = "SQS's move task" if report.method == "move-task" else "receive, send, delete"
        print(f"moved {report.moved} of {report.to_move} messages ({how}); {report.failed} failed")
    return 1 if report.failed else 0


def backfill_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config
    from rich.console import Console

    from s3ledger.operate.backfill import backfill, default_checkpoint
    from s3ledger.workbench.console import counting_progress

    resolve_targets(args, "bucket", "ledger_table", "audit_table")
    if not args.bucket:
        fail("--bucket is required (or --stack, or set S3LEDGER_BUCKET)")
    if args.workers < 1:
        fail("--workers must be at least 1")
    checkpoint = args.checkpoint or default_checkpoint(args.bucket, args.prefix, args.inventory)
    config = Config(retries={"mode": "standard"}, max_pool_connections=max(10, 2 * args.workers))
    stop = threading.Event()
    progress = counting_progress(Console(stderr=True), disable=args.json, unit="units")
    with progress:
        task = progress.add_task(f"backfill {args.bucket}", total=None)

        def advance(seen: int, units: int) -> None:
            progress.update(task, completed=units, description=f"{seen} objects seen")

        try:
            report = backfill(
                boto3.client("s3", config=config),
                boto3.client("dynamodb", config=config),
                bucket=args.bucket,
                ledger_table=args.ledger_table,
                audit_table=args.audit_table,
                prefix=args.prefix,
                inventory=args.inventory,
                workers=args.workers,
                checkpoint=checkpoint,
                progress=advance,
                stop=stop,
            )
        except KeyboardInterrupt:
            fail(f"interrupted; run the same command again to resume from {checkpoint}", 130)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_backfill

        print_backfill(report.to_json())
    return 1 if report.failed else 0


def default_settle_seconds() -> float:
    """Without a stack: the template's queue settings (visibility timeout x maxReceiveCount,
    from the packaged template.yaml) plus S3's own delivery margin."""
    from s3ledger.operate.stack import settle_window
    from s3ledger.workbench.template import load_pipeline_spec

    queue = load_pipeline_spec().queue
    return settle_window(queue.visibility_timeout, queue.max_receive_count)


def status_command(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.status import read_status

    stack = require_stack(args)
    config = Config(retries={"mode": "standard"})
    status = read_status(
        stack,
        sqs=boto3.client("sqs", config=config),
        cloudwatch=boto3.client("cloudwatch", config=config),
        cloudformation=boto3.client("cloudformation", config=config),
    )
    if args.json:
        print(json.dumps(status.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_status

        print_status(status.to_json())
    return 0 if status.healthy else EXIT_ANOMALIES

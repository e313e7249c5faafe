"""``s3ledger``: the parser and :func:`main`. Each command is registered here, in
:func:`build_parser` (``set_defaults(run=<name>_command)``); its implementation is in
:mod:`s3ledger.cli.commands` (workbench, operate, harness)."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from s3ledger.cli.commands.bulk import add_engine_arguments, with_engine
from s3ledger.cli.commands.common import fail, missing_extra
from s3ledger.cli.commands.harness import (
    bench_backfill_command,
    bench_command,
    chaos_command,
    demo_command,
)
from s3ledger.cli.commands.history import add_history_parsers
from s3ledger.cli.commands.operate import (
    attach_command,
    backfill_command,
    check_command,
    reconcile_command,
    redrive_command,
    status_command,
)
from s3ledger.cli.commands.rebuild import add_rebuild_parser
from s3ledger.cli.commands.targets import add_stack_argument, add_target_arguments
from s3ledger.cli.commands.workbench import invoke_command, up_command
from s3ledger.core.config import DEFAULT_STACK_NAME, MODES
from s3ledger.core.errors import S3LedgerError

__all__ = ["build_parser", "main"]


def _stack_name(value: str) -> str:
    """``--stack-name``: what CloudFormation accepts as a stack name."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{0,127}", value):
        raise argparse.ArgumentTypeError(
            f"{value!r}: a stack name starts with a letter, then letters, digits and hyphens "
            "(128 at most)"
        )
    return value


def _add_bench_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    bench = commands.add_parser(
        "bench",
        help="measure every mode side by side: requests, write units, throughput, latency",
        description="On a throwaway workbench, send N fresh S3 notifications and then the same N "
        "again (duplicates) through every mode's own pipeline and the local runner, and report "
        "DynamoDB requests and write units per event and per duplicate (metered on the handler's "
        "client, Powertools' calls included), events per second, per-event handler latency, "
        "and cold start, each also as a ratio to powertools; then, on a pipeline of its own, the "
        "lag end to end of U real uploads (S3 -> SQS -> runner -> handler -> ledger). Exit 1 if "
        "inbox or inbox-batch ends with anomalies.",
    )
    bench.add_argument("--events", type=int, default=500, metavar="N", help="default 500")
    bench.add_argument("--modes", default=",".join(MODES), help="comma-separated (default all)")
    bench.add_argument("--workers", type=int, default=2, metavar="W", help="concurrent sandboxes")
    bench.add_argument(
        "--batch", type=int, default=10, metavar="B", help="SQS batch size, 1-10 (default 10)"
    )
    bench.add_argument("--seed", type=int, default=1, metavar="S")
    bench.add_argument("--json", action="store_true", help="machine-readable output")
    bench.add_argument(
        "--streams",
        action="store_true",
        help="keep the template's table streams (off by default: the bench never reads them, "
        "and DynamoDB Local's streams slow its writes, which AWS's do not)",
    )
    bench.add_argument(
        "--chart", type=Path, default=None, metavar="FILE", help="write a PNG or SVG chart"
    )
    bench.add_argument(
        "--uploads",
        type=int,
        default=100,
        metavar="U",
        help="real uploads per mode, one at a time, timed from the PutObject response to a "
        "ledger read that shows it (end_to_end_ms; default 100, 0 skips)",
    )
    bench.set_defaults(run=bench_command)


def _add_operator_parsers(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    """attach, detach and redrive: commands for a deployed pipeline's buckets and queues."""
    for name, verb in (("attach", "on"), ("detach", "off")):
        switch = commands.add_parser(
            name,
            help=f"turn a bucket's EventBridge delivery {verb}, keeping its other notifications",
            description=f"Read the bucket's notification settings, turn its EventBridge "
            f"delivery {verb}, and write back every other setting (queues, topics, functions) "
            "as it was; print what changed. With EventBridge on, the stack's rule (or the one "
            "`s3ledger up` creates) feeds the bucket's object events to the pipeline.",
        )
        add_target_arguments(switch, "bucket")
        switch.add_argument("--json", action="store_true", help="machine-readable output")
        switch.set_defaults(run=attach_command)

    redrive = commands.add_parser(
        "redrive",
        help="move the dead-letter queue's messages back to the events queue",
        description="Start SQS's message move task from the DLQ to the events queue and follow "
        "it to the end; where the endpoint lacks it (the workbench), receive, send and delete "
        "instead (at least once: a message may come back twice, never be lost). Then run "
        "`s3ledger reconcile --apply`. Exit 1 if a message could not be moved.",
    )
    add_target_arguments(redrive, "dlq_url", "queue_url")
    redrive.add_argument("--json", action="store_true", help="machine-readable output")
    redrive.set_defaults(run=redrive_command)


def _add_backfill_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    fill = commands.add_parser(
        "backfill",
        help="bring every existing object of a bucket into the ledger, exactly once",
        description="List the bucket (or read an S3 Inventory report) and write, through the "
        "inbox path, every current object that has no ledger item, pinned to 'no item' so a live "
        "event that lands first wins and a second run writes nothing. Resumable: a checkpoint "
        "file records the finished prefixes. Exit 1 if some writes failed (run it again).",
    )
    add_target_arguments(fill, "bucket", "ledger_table", "audit_table", "state_machine")
    fill.add_argument("--prefix", default="", help="only keys that start with this")
    fill.add_argument(
        "--inventory",
        default=None,
        metavar="MANIFEST_URI",
        help="s3://bucket/path/manifest.json of an S3 Inventory report (CSV or Parquet) to read "
        "instead of listing",
    )
    fill.add_argument("--workers", type=int, default=4, metavar="N", help="parallel units")
    fill.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        metavar="FILE",
        help="resume from and save progress to FILE (default: "
        "./.s3ledger-backfill-<bucket>[-<digest>].json, removed when the run completes)",
    )
    fill.add_argument("--json", action="store_true", help="machine-readable output")
    add_engine_arguments(fill, "backfill")
    fill.set_defaults(run=with_engine(backfill_command, "backfill"))

    timing = commands.add_parser(
        "bench-backfill",
        help="measure a backfill on each engine, from a listing and from an inventory",
        description="On a throwaway workbench (DynamoDB Local and moto on free ports), put N "
        "objects in a bucket and backfill it from a listing, then N more in another and "
        "backfill it from a CSV S3 Inventory report of it, once per engine (W batches at a "
        "time on each); print objects per second, requests, write units and the cost per "
        "million objects at AWS's prices.",
    )
    timing.add_argument("--objects", type=int, default=2000, metavar="N", help="default 2000")
    timing.add_argument("--workers", type=int, default=4, metavar="W", help="default 4")
    timing.add_argument(
        "--engines", default="local,stepfunctions", help="comma-separated (default both)"
    )
    timing.add_argument("--json", action="store_true", help="machine-readable output")
    timing.set_defaults(run=bench_backfill_command)


def _add_status_parser(
    commands: argparse._SubParsersAction[argparse.ArgumentParser],
) -> None:
    status = commands.add_parser(
        "status",
        help="is the pipeline healthy now: queues, DLQ, alarms, the last hour's events and lag",
        description="Read the stack's queues (SQS), its alarms in ALARM and the last hour's "
        "handler metrics (CloudWatch): queue depth and age of the oldest message, DLQ depth, "
        "events applied / unchanged / duplicates / superseded / failed, and the lag from S3's "
        "event time to the ledger write at p50 and p99. Exit 1 when something needs a person: "
        "a message in the DLQ, an alarm in ALARM, or a queue older than QueueAgeThreshold.",
    )
    add_stack_argument(status)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=status_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3ledger",
        description="Exactly-once S3 object events in DynamoDB, and a workbench that proves it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # In the order `s3ledger --help` lists them.
    for add in (
        _add_local_parsers,
        _add_check_parser,
        _add_proof_parsers,
        _add_bench_parser,
        _add_reconcile_parser,
        _add_operator_parsers,
        _add_backfill_parser,
        add_rebuild_parser,
        add_history_parsers,
        _add_status_parser,
    ):
        add(commands)
    return parser


def _add_local_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``up`` and ``invoke``: the pipeline on this machine."""
    up = commands.add_parser(
        "up",
        help="run the whole pipeline locally (DynamoDB Local, S3, SQS, the Lambda runner)",
        description="Start DynamoDB Local and moto (S3, SQS) on 127.0.0.1, create what "
        "template.yaml declares, run the handler on the queue, and print the variables that "
        "point the AWS CLI and SDKs at it. Runs until interrupted.",
    )
    up.add_argument("--dynamodb-port", type=int, default=8000, metavar="P")
    up.add_argument("--aws-port", type=int, default=4566, metavar="Q", help="S3 and SQS")
    up.add_argument("--workers", type=int, default=2, metavar="N", help="concurrent sandboxes")
    up.add_argument("--mode", choices=MODES, default=None, help="write mode (default: template's)")
    up.add_argument("--data", type=Path, default=None, metavar="DIR", help="keep DynamoDB data")
    up.add_argument(
        "--stack-name",
        type=_stack_name,
        default=DEFAULT_STACK_NAME,
        metavar="S",
        help=f"the tables are S-ledger, S-audit, S-idempotency (default {DEFAULT_STACK_NAME})",
    )
    up.set_defaults(run=up_command)

    invoke = commands.add_parser(
        "invoke",
        help="invoke the handler once with an event file (like `sam local invoke -e`)",
        description="Detect the envelope (S3, SQS or EventBridge), call the matching handler "
        "with a Lambda-like context against whatever the environment points at, and print "
        "its JSON response. Logs go to stderr.",
    )
    invoke.add_argument("event_file", metavar="EVENT_FILE")
    invoke.add_argument("--mode", choices=MODES, default=None)
    invoke.add_argument("--timeout", type=float, default=30.0, help="seconds (default 30)")
    invoke.set_defaults(run=invoke_command)


def _add_check_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    check = commands.add_parser(
        "check",
        help="scan the ledger and audit tables and report anomalies (exit 1 if any)",
        description="Count items and the anomalies the two tables reveal: ledger items whose "
        "last event has no audit item, applied audit items without a ledger item, and ledger "
        "states older than the newest applied event of their object.",
    )
    add_target_arguments(check, "ledger_table", "audit_table")
    check.add_argument("--segments", type=int, default=4, help="parallel scan segments")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run=check_command)


def _add_proof_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``demo`` and ``chaos``: the workbench's proofs."""
    demo = commands.add_parser(
        "demo",
        help="watch the article's problem happen (naive) and disappear (inbox)",
        description="On a throwaway workbench, run one seeded workload through S3 → SQS → the "
        "runner for every mode, with duplicate deliveries and crashes injected, and compare.",
    )
    demo.add_argument("--files", type=int, default=30, metavar="N", help="uploads (default 30)")
    demo.add_argument("--seed", type=int, default=7, metavar="S")
    demo.add_argument("--workers", type=int, default=2, metavar="W")
    demo.add_argument("--json", action="store_true", help="machine-readable output")
    demo.add_argument("--verbose", action="store_true", help="show the handlers' logs")
    demo.set_defaults(run=demo_command)

    chaos = commands.add_parser(
        "chaos",
        help="inject AWS's faults into a known history and count every mode's anomalies",
        description="Generate N S3 events with a known ground truth, deliver them at least once "
        "with the chosen faults, check tables and stream logs against the truth, reconcile, "
        "and check again. The same --seed gives the same faults and the same counts. Exit 0 "
        "when the exactly-once modes run (inbox, inbox-batch, lean) end with zero anomalies.",
    )
    chaos.add_argument("--events", type=int, default=200, metavar="N", help="default 200")
    chaos.add_argument("--modes", default=",".join(MODES), help="comma-separated (default all)")
    chaos.add_argument(
        "--faults",
        default="all",
        help="all, none, or kind[=rate],... of: duplicate, reorder, crash, lost-response, "
        "error, deadline, drop, poison, between (lean: a crash between its two writes) "
        "(default: all at their default rates)",
    )
    chaos.add_argument("--seed", type=int, default=1, metavar="S")
    chaos.add_argument(
        "--workers", type=int, default=4, metavar="W", help="parallel lanes (default 4)"
    )
    chaos.add_argument("--json", action="store_true", help="machine-readable output")
    chaos.set_defaults(run=chaos_command)


def _add_reconcile_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    recon = commands.add_parser(
        "reconcile",
        help="compare the bucket with the ledger and repair what AWS never delivered",
        description="List the bucket (its object versions where versioning is on) and compare "
        "it with the ledger: objects missing from the ledger, ledger items whose object is gone, "
        "states that differ. With --apply, repair through the inbox path, exactly once.",
    )
    add_target_arguments(recon, "bucket", "ledger_table", "audit_table", "state_machine")
    recon.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="leave alone objects changed more recently than this: their own events may still "
        "be queued (default: the stack's QueueVisibilityTimeout x MaxReceiveCount + 300 s; "
        "without a stack, the template's: 1,200 s)",
    )
    recon.add_argument("--prefix", default="", help="only keys that start with this")
    recon.add_argument("--apply", action="store_true", help="repair (default: report only)")
    recon.add_argument("--json", action="store_true", help="machine-readable output")
    add_engine_arguments(recon, "reconcile")
    recon.set_defaults(run=with_engine(reconcile_command, "reconcile"))


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except S3LedgerError as exc:
        fail(str(exc))
    except ImportError as exc:
        if (message := missing_extra(args.command, exc)) is None:
            raise
        fail(message)
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError

        from s3ledger.workbench.errors import WorkbenchError

        # AWS errors (a missing table, an endpoint that does not answer, no credentials) are
        # the user's environment, not a bug: one line, not a traceback.
        if isinstance(exc, WorkbenchError | ClientError | BotoCoreError):
            fail(str(exc))
        raise
    return code

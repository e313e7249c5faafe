"""``s3ledger``: the local workbench, one invocation, the consistency check, and the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NoReturn, cast

from s3ledger.cli.rebuild import add_rebuild_parser
from s3ledger.core.config import DEFAULT_AUDIT_TABLE, DEFAULT_LEDGER_TABLE, MODES, Mode
from s3ledger.core.errors import S3LedgerError

__all__ = ["build_parser", "main"]

EXIT_ANOMALIES = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"s3ledger: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _up(args: argparse.Namespace) -> int:
    # stdout carries only the `export` lines a shell can eval: the handler's logs go to stderr.
    # Powertools' Logger binds its stream when the handlers module is imported: import it here.
    with contextlib.redirect_stdout(sys.stderr):
        import s3ledger.pipeline.handlers  # noqa: F401, PLC0415
    from s3ledger.workbench.session import start_session  # noqa: PLC0415 -- keep `invoke` light

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with start_session(
        mode=args.mode,
        workers=args.workers,
        dynamodb_port=args.dynamodb_port,
        aws_port=args.aws_port,
        data_dir=args.data,
    ) as session:
        for name, value in session.environment().items():
            print(f"export {name}={value}")
        sys.stdout.flush()
        print(
            f"s3ledger: workbench up (mode {session.mode}, {args.workers} workers). "
            f"Try: aws --endpoint-url {session.aws_endpoint} s3 cp FILE "
            f"s3://{session.resources.bucket}/  — Ctrl-C stops everything.",
            file=sys.stderr,
        )
        if args.data is None:
            print(
                "s3ledger: DynamoDB Local is in memory (use --data DIR to keep it).",
                file=sys.stderr,
            )
        print("s3ledger: S3 and SQS (moto) are in memory and start empty.", file=sys.stderr)
        while not stop.wait(0.5):
            if session.runner.errors:
                _fail(f"the local runner stopped: {session.runner.errors[0]!r}")
    print("s3ledger: stopped.", file=sys.stderr)
    return 0


def _invoke(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(Path(args.event_file).read_text())
    except OSError as exc:
        _fail(f"cannot read {args.event_file}: {exc.strerror}")
    except ValueError as exc:
        _fail(f"{args.event_file} is not JSON: {exc}")
    if args.mode:
        os.environ["S3LEDGER_MODE"] = args.mode
    from s3ledger.core.events import detect_envelope  # noqa: PLC0415 -- after the environment is set
    from s3ledger.workbench.context import LocalContext  # noqa: PLC0415

    try:
        kind = detect_envelope(payload)
    except S3LedgerError as exc:
        _fail(f"{args.event_file}: {exc}")
    # Like `sam local invoke`: the handler's logs and metrics go to stderr, its answer to stdout.
    with contextlib.redirect_stdout(sys.stderr):
        from s3ledger.pipeline import handlers  # noqa: PLC0415 -- Powertools binds stdout at import

        handler = {
            "sqs": handlers.sqs_handler,
            "s3": handlers.s3_handler,
            "eventbridge": handlers.eventbridge_handler,
        }[kind]
        try:
            response = handler(payload, LocalContext(timeout_seconds=args.timeout))
        except S3LedgerError as exc:
            response = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
    print(json.dumps(response, indent=2, sort_keys=True))
    return 1 if "errorType" in response else 0


def _check(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs a client at the top level
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import ClientError  # noqa: PLC0415

    from s3ledger.operate.scan import check_tables  # noqa: PLC0415

    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
    try:
        report = check_tables(
            client,
            ledger_table=args.ledger_table,
            audit_table=args.audit_table,
            segments=args.segments,
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise
        _fail(
            f"table {args.ledger_table!r} or {args.audit_table!r} does not exist at "
            f"{client.meta.endpoint_url} (set --ledger-table/--audit-table, or "
            "S3LEDGER_LEDGER_TABLE/S3LEDGER_AUDIT_TABLE)"
        )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_check  # noqa: PLC0415

        print_check(report, ledger_table=args.ledger_table, audit_table=args.audit_table)
    return EXIT_ANOMALIES if report.anomalies_total else 0


def _demo(args: argparse.Namespace) -> int:
    from s3ledger.proof.demo import run_demo  # noqa: PLC0415 -- the harness loads on demand

    summary = run_demo(
        files=args.files,
        seed=args.seed,
        as_json=args.json,
        workers=args.workers,
        verbose=args.verbose,
    )
    _print_summary(summary, as_json=args.json, table="demo")
    return 0 if summary["modes"]["inbox"]["verdict_ok"] else EXIT_ANOMALIES


def _modes(text: str) -> list[Mode]:
    """``--modes``: comma-separated, known, each once."""
    modes = [m.strip() for m in text.split(",") if m.strip()]
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        _fail(f"unknown mode(s) {', '.join(unknown) or '(none)'}: choose from {', '.join(MODES)}")
    if len(set(modes)) != len(modes):
        _fail("--modes lists a mode twice")
    return cast(list[Mode], modes)


def _chaos(args: argparse.Namespace) -> int:
    from s3ledger.proof.chaos import run_chaos  # noqa: PLC0415 -- the harness loads on demand
    from s3ledger.proof.delivery import FaultRates  # noqa: PLC0415

    try:
        rates = FaultRates.parse(args.faults)
    except ValueError as exc:
        _fail(str(exc))
    modes = _modes(args.modes)
    if args.events < 1 or args.workers < 1:
        _fail("--events and --workers must be at least 1")
    summary = run_chaos(
        events=args.events,
        modes=modes,
        rates=rates,
        seed=args.seed,
        workers=args.workers,
        as_json=args.json,
    )
    _print_summary(summary, as_json=args.json, table="chaos")
    print(
        f"chaos: {summary['elapsed_seconds']:.0f} s, "
        f"peak RSS of this process {summary['peak_rss_mib']} MiB",
        file=sys.stderr,
    )
    return EXIT_ANOMALIES if _exactly_once_broken(summary) else 0


def _reconcile(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs these clients
    from botocore.config import Config  # noqa: PLC0415

    from s3ledger.operate.reconcile import reconcile  # noqa: PLC0415

    if not args.bucket:
        _fail("--bucket is required (or set S3LEDGER_BUCKET)")
    settle = args.settle if args.settle is not None else default_settle_seconds()
    if settle < 0:
        _fail("--settle must not be negative")
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
        from s3ledger.cli.render import print_reconcile  # noqa: PLC0415

        print_reconcile(report.to_json())
    return 0


def _attach(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs the client
    from botocore.config import Config  # noqa: PLC0415

    from s3ledger.operate.attach import attach, detach  # noqa: PLC0415

    if not args.bucket:
        _fail("--bucket is required")
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


def _redrive(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs the client
    from botocore.config import Config  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415

    from s3ledger.operate.redrive import redrive  # noqa: PLC0415
    from s3ledger.workbench.console import counting_progress  # noqa: PLC0415

    if not args.dlq_url or not args.queue_url:
        _fail("--dlq-url and --queue-url are required (or S3LEDGER_DLQ_URL, S3LEDGER_QUEUE_URL)")
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


def _backfill(args: argparse.Namespace) -> int:
    import boto3  # noqa: PLC0415 -- only this command needs these clients
    from botocore.config import Config  # noqa: PLC0415
    from rich.console import Console  # noqa: PLC0415

    from s3ledger.operate.backfill import backfill, default_checkpoint  # noqa: PLC0415
    from s3ledger.workbench.console import counting_progress  # noqa: PLC0415

    if not args.bucket:
        _fail("--bucket is required (or set S3LEDGER_BUCKET)")
    if args.workers < 1:
        _fail("--workers must be at least 1")
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
            _fail(f"interrupted; run the same command again to resume from {checkpoint}", 130)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        from s3ledger.cli.render import print_backfill  # noqa: PLC0415

        print_backfill(report.to_json())
    return 1 if report.failed else 0


def _bench_backfill(args: argparse.Namespace) -> int:
    from s3ledger.bench.backfill import run_backfill_bench  # noqa: PLC0415 -- on demand

    if args.objects < 1 or args.workers < 1:
        _fail("--objects and --workers must be at least 1")
    return run_backfill_bench(objects=args.objects, workers=args.workers, as_json=args.json)


# S3 documents no bound on its own delivery delay ("typically ... within seconds, but can
# sometimes take a minute or longer", Amazon S3 Event Notifications); five minutes is our margin.
S3_DELIVERY_MARGIN_SECONDS = 300


def default_settle_seconds() -> float:
    """The queue's whole redelivery span (visibility timeout x maxReceiveCount, from
    template.yaml) plus S3's own delivery margin: no event of an older change is still queued."""
    from s3ledger.workbench.template import load_pipeline_spec  # noqa: PLC0415

    queue = load_pipeline_spec().queue
    return float(queue.visibility_timeout * queue.max_receive_count + S3_DELIVERY_MARGIN_SECONDS)


def _bench(args: argparse.Namespace) -> int:
    from s3ledger.bench.benchmark import run_bench  # noqa: PLC0415 -- the harness loads on demand

    modes = _modes(args.modes)
    if args.events < 1 or args.workers < 1 or not 1 <= args.batch <= 10:
        _fail("--events and --workers must be at least 1, --batch between 1 and 10")
    if args.chart is not None and args.chart.suffix.lower() not in {".png", ".svg"}:
        _fail(f"--chart {args.chart}: the file must end in .png or .svg")
    summary = run_bench(
        events=args.events,
        modes=modes,
        workers=args.workers,
        batch=args.batch,
        as_json=args.json,
        chart=args.chart,
        seed=args.seed,
        streams=args.streams,
    )
    _print_summary(summary, as_json=args.json, table="bench")
    if args.chart is not None and not args.json:
        print(f"chart written to {args.chart}", file=sys.stderr)
    return EXIT_ANOMALIES if _exactly_once_broken(summary) else 0


def _print_summary(
    summary: Mapping[str, Any], *, as_json: bool, table: Literal["demo", "chaos", "bench"]
) -> None:
    """A run's summary: JSON for machines, or its Rich table for people."""
    if as_json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        from s3ledger.cli import render  # noqa: PLC0415 -- Rich loads only for people

        printers = {"demo": render.print_demo, "chaos": render.print_chaos}
        printers.get(table, render.print_bench)(summary)
    sys.stdout.flush()


def _exactly_once_broken(summary: Mapping[str, Any]) -> bool:
    """True when an exactly-once mode (inbox, inbox-batch, lean) ended with an anomaly."""
    modes: Mapping[str, Mapping[str, Any]] = summary["modes"]
    exactly_once = ("inbox", "inbox-batch", "lean")
    return any(modes[m]["anomalies_total"] for m in exactly_once if m in modes)


def _add_table_arguments(parser: argparse.ArgumentParser) -> None:
    """``--ledger-table`` and ``--audit-table``, defaulting to the variables ``up`` prints."""
    parser.add_argument(
        "--ledger-table", default=os.environ.get("S3LEDGER_LEDGER_TABLE", DEFAULT_LEDGER_TABLE)
    )
    parser.add_argument(
        "--audit-table", default=os.environ.get("S3LEDGER_AUDIT_TABLE", DEFAULT_AUDIT_TABLE)
    )


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
        "and cold start, each also as a ratio to powertools. Exit 1 if inbox or inbox-batch "
        "ends with anomalies.",
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
    bench.set_defaults(run=_bench)


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
        switch.add_argument(
            "--bucket", default=None, required=True, help="an existing bucket's name"
        )
        switch.add_argument("--json", action="store_true", help="machine-readable output")
        switch.set_defaults(run=_attach)

    redrive = commands.add_parser(
        "redrive",
        help="move the dead-letter queue's messages back to the events queue",
        description="Start SQS's message move task from the DLQ to the events queue and follow "
        "it to the end; where the endpoint lacks it (the workbench), receive, send and delete "
        "instead (at least once: a message may come back twice, never be lost). Then run "
        "`s3ledger reconcile --apply`. Exit 1 if a message could not be moved.",
    )
    redrive.add_argument(
        "--dlq-url",
        default=os.environ.get("S3LEDGER_DLQ_URL"),
        help="the dead-letter queue (default: $S3LEDGER_DLQ_URL)",
    )
    redrive.add_argument(
        "--queue-url",
        default=os.environ.get("S3LEDGER_QUEUE_URL"),
        help="the events queue (default: $S3LEDGER_QUEUE_URL)",
    )
    redrive.add_argument("--json", action="store_true", help="machine-readable output")
    redrive.set_defaults(run=_redrive)


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
    fill.add_argument(
        "--bucket",
        default=os.environ.get("S3LEDGER_BUCKET"),
        help="the bucket to backfill (default: $S3LEDGER_BUCKET)",
    )
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
    _add_table_arguments(fill)
    fill.add_argument("--json", action="store_true", help="machine-readable output")
    fill.set_defaults(run=_backfill)

    timing = commands.add_parser(
        "bench-backfill",
        help="measure a backfill's objects per second, from a listing and from an inventory",
        description="On a throwaway workbench (DynamoDB Local and moto on free ports), put N "
        "objects in a bucket and backfill it from a listing, then N more in another and "
        "backfill it from a CSV S3 Inventory report of it; print objects per second.",
    )
    timing.add_argument("--objects", type=int, default=2000, metavar="N", help="default 2000")
    timing.add_argument("--workers", type=int, default=4, metavar="W", help="default 4")
    timing.add_argument("--json", action="store_true", help="machine-readable output")
    timing.set_defaults(run=_bench_backfill)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="s3ledger",
        description="Exactly-once S3 object events in DynamoDB, and a workbench that proves it.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

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
    up.set_defaults(run=_up)

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
    invoke.set_defaults(run=_invoke)

    check = commands.add_parser(
        "check",
        help="scan the ledger and audit tables and report anomalies (exit 1 if any)",
        description="Count items and the anomalies the two tables reveal: ledger items whose "
        "last event has no audit item, applied audit items without a ledger item, and ledger "
        "states older than the newest applied event of their object.",
    )
    _add_table_arguments(check)
    check.add_argument("--segments", type=int, default=4, help="parallel scan segments")
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(run=_check)

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
    demo.set_defaults(run=_demo)

    chaos = commands.add_parser(
        "chaos",
        help="inject AWS's faults into a known history and count every mode's anomalies",
        description="Generate N S3 events with a known ground truth, deliver them at least once "
        "with the chosen faults, check tables and write history against the truth, reconcile, "
        "and check again. The same --seed gives the same faults and the same counts. Exit 0 "
        "when inbox (and inbox-batch, if run) end with zero anomalies.",
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
    chaos.set_defaults(run=_chaos)
    _add_bench_parser(commands)

    recon = commands.add_parser(
        "reconcile",
        help="compare the bucket with the ledger and repair what AWS never delivered",
        description="List the bucket (its object versions where versioning is on) and compare "
        "it with the ledger: objects missing from the ledger, ledger items whose object is gone, "
        "states that differ. With --apply, repair through the inbox path, exactly once.",
    )
    recon.add_argument(
        "--bucket",
        default=os.environ.get("S3LEDGER_BUCKET"),
        help="the bucket to compare (default: $S3LEDGER_BUCKET)",
    )
    recon.add_argument(
        "--settle",
        type=float,
        default=None,
        metavar="SECONDS",
        help="leave alone objects changed more recently than this: their own events may still "
        "be queued (default: the template's visibility timeout x maxReceiveCount + 300 s)",
    )
    _add_table_arguments(recon)
    recon.add_argument("--prefix", default="", help="only keys that start with this")
    recon.add_argument("--apply", action="store_true", help="repair (default: report only)")
    recon.add_argument("--json", action="store_true", help="machine-readable output")
    recon.set_defaults(run=_reconcile)

    _add_operator_parsers(commands)
    _add_backfill_parser(commands)
    add_rebuild_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args: Any = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except S3LedgerError as exc:
        _fail(str(exc))
    except Exception as exc:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        from s3ledger.workbench.errors import WorkbenchError  # noqa: PLC0415

        # AWS errors (a missing table, an endpoint that does not answer, no credentials) are
        # the user's environment, not a bug: one line, not a traceback.
        if isinstance(exc, WorkbenchError | ClientError | BotoCoreError):
            _fail(str(exc))
        raise
    return code

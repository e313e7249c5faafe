"""``up`` and ``invoke``: the pipeline run locally, whole or one invocation."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from pathlib import Path

from s3ledger.cli.commands.common import fail
from s3ledger.core.errors import S3LedgerError

__all__ = ["invoke_command", "up_command"]


def up_command(args: argparse.Namespace) -> int:
    # stdout carries only the `export` lines a shell can eval: the handler's logs go to stderr.
    # Powertools' Logger binds its stream when the handlers module is imported: import it here.
    with contextlib.redirect_stdout(sys.stderr):
        import s3ledger.pipeline.handlers  # noqa: F401 -- imported for its effect (Logger binds stderr)
    from s3ledger.workbench.session import start_session

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with start_session(
        mode=args.mode,
        workers=args.workers,
        dynamodb_port=args.dynamodb_port,
        aws_port=args.aws_port,
        data_dir=args.data,
        stack_name=args.stack_name,
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
                fail(f"the local runner stopped: {session.runner.errors[0]!r}")
    print("s3ledger: stopped.", file=sys.stderr)
    return 0


def invoke_command(args: argparse.Namespace) -> int:
    try:
        payload = json.loads(Path(args.event_file).read_text())
    except OSError as exc:
        fail(f"cannot read {args.event_file}: {exc.strerror}")
    except ValueError as exc:
        fail(f"{args.event_file} is not JSON: {exc}")
    if args.mode:
        os.environ["S3LEDGER_MODE"] = args.mode
    from s3ledger.core.events import detect_envelope
    from s3ledger.workbench.context import LocalContext

    try:
        kind = detect_envelope(payload)
    except S3LedgerError as exc:
        fail(f"{args.event_file}: {exc}")
    # Like `sam local invoke`: the handler's logs and metrics go to stderr, its answer to stdout.
    with contextlib.redirect_stdout(sys.stderr):
        from s3ledger.pipeline import handlers

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

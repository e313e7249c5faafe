"""``s3ledger history`` (what happened to one object) and ``s3ledger migrate-audit`` (the audit
log's new key, for tables of earlier releases)."""

from __future__ import annotations

import argparse
import json

from s3ledger.cli.commands.common import fail
from s3ledger.cli.commands.targets import add_target_arguments, resolve_targets

__all__ = ["add_history_parsers"]


def _history(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError

    from s3ledger.operate.history import object_history
    from s3ledger.pipeline.aws import error_code

    resolve_targets(args, "bucket", "audit_table")
    if not args.bucket:
        fail("--bucket is required (or --stack, or S3LEDGER_BUCKET)")
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
    try:
        history = object_history(
            client, audit_table=args.audit_table, bucket=args.bucket, key=args.key
        )
    except ClientError as exc:
        if error_code(exc) == "ValidationException":
            fail(
                f"{args.audit_table!r} is not keyed by object (an audit table of an earlier "
                "release?): copy it with `s3ledger migrate-audit` (README: Changes)"
            )
        if error_code(exc) == "ResourceNotFoundException":
            fail(f"table {args.audit_table!r} does not exist at {client.meta.endpoint_url}")
        raise
    if args.json:
        print(json.dumps(history.to_json(), indent=2, sort_keys=True, default=str))
    else:
        from s3ledger.cli.render import print_history

        print_history(history.to_json())
    return 0 if history.events else 1


def _migrate(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.migrate import migrate_audit

    if args.source == args.target:
        fail("--from and --to must name two different tables")
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
    report = migrate_audit(client, source=args.source, target=args.target, segments=args.segments)
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        print(
            f"migrate-audit {report.source} -> {report.target}: read {report.read}, "
            f"copied {report.copied}, already there {report.already_there}"
        )
    return 0


def add_history_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser(
        "history",
        help="every event of one object, in S3's order: what happened, when, and who did it",
        description="Query the audit log for one object (one key-condition Query, no Scan) and "
        "print its events oldest first: event name, time, version id, ETag, size, requester, "
        "source IP, S3 request id, and what each did to the ledger. Exit 1 if it has none.",
    )
    history.add_argument("key", help="the object's key, as S3 shows it (not URL-encoded)")
    add_target_arguments(history, "bucket", "audit_table")
    history.add_argument("--json", action="store_true", help="machine-readable output")
    history.set_defaults(run=_history)

    migrate = commands.add_parser(
        "migrate-audit",
        help="copy an audit table of an earlier release into one keyed by object and event",
        description="Scan the old audit table (keyed by event_id) and put each item into the new "
        "one (keyed by object_id, event_key), never overwriting an item the new table has: "
        "safe while events flow, and to run again.",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="TABLE")
    migrate.add_argument("--to", dest="target", required=True, metavar="TABLE")
    migrate.add_argument("--segments", type=int, default=4, help="parallel scan segments")
    migrate.add_argument("--json", action="store_true", help="machine-readable output")
    migrate.set_defaults(run=_migrate)

"""``s3ledger rebuild-ledger``: its arguments and its output (the work is
:mod:`s3ledger.operate.rebuild`'s)."""

from __future__ import annotations

import argparse
import json

from s3ledger.cli.commands.targets import add_target_arguments, resolve_targets

__all__ = ["add_rebuild_parser"]


def _rebuild(args: argparse.Namespace) -> int:
    import boto3
    from botocore.config import Config

    from s3ledger.operate.rebuild import rebuild_ledger

    resolve_targets(args, "ledger_table", "audit_table")
    client = boto3.client("dynamodb", config=Config(retries={"mode": "standard"}))
    report = rebuild_ledger(
        client,
        ledger_table=args.ledger_table,
        audit_table=args.audit_table,
        segments=args.segments,
    )
    if args.json:
        print(json.dumps(report.to_json(), indent=2, sort_keys=True))
    else:
        summary = report.to_json()
        print(
            f"rebuild-ledger {args.audit_table} -> {args.ledger_table}: "
            + ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in summary.items())
        )
    return 0


def add_rebuild_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rebuild = commands.add_parser(
        "rebuild-ledger",
        help="rebuild the ledger from the audit log alone (exactly once, safe to rerun)",
        description="Scan the audit log and replay, per object, its newest recorded events onto "
        "the ledger, each update guarded by the order rule: it never moves an item backwards, "
        "writes nothing the second time, and may run while events flow.",
    )
    # The same names as `check`: flags, then the stack, then the variables `up` prints.
    add_target_arguments(rebuild, "ledger_table", "audit_table")
    rebuild.add_argument("--segments", type=int, default=4, help="parallel scan segments")
    rebuild.add_argument("--json", action="store_true", help="machine-readable output")
    rebuild.set_defaults(run=_rebuild)

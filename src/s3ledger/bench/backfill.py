"""``s3ledger bench-backfill``: a backfill on each engine, side by side, from a listing and from an
S3 Inventory report, on a throwaway workbench.

Starts DynamoDB Local and moto on free ports; per source, provisions one versioned bucket from
``template.yaml``, puts N objects in it (and, for the inventory, writes a CSV report of it:
gzip, no header, URL-encoded keys, ``files`` of 500 rows), then backfills that same bucket once
per engine, each into tables of its own (streams off, as ``s3ledger bench`` does by default:
DynamoDB Local's streams slow its writes, AWS's do not). ``local`` is ``s3ledger backfill`` with
``--workers W``; ``stepfunctions`` is the template's bulk state machine on the stand-in, with
``BulkMaxConcurrency`` W, so both write W batches at a time.

Measured per run: objects per second (the workbench's, not AWS's), DynamoDB and S3 requests
per object (every call, counted on the clients), write units per object by DynamoDB's rule
(:mod:`s3ledger.bench.units`), read units by its rule, the bulk function's invocations and
duration, and the state machine's transitions and Express executions; priced at AWS's published
rates (:mod:`s3ledger.bench.prices`, each cited) into a cost per million objects.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console

from s3ledger.bench.buckets import fill_bucket, write_csv_inventory
from s3ledger.bench.meters import Meter
from s3ledger.bench.prices import PRICES, Usage, cost
from s3ledger.bench.requests import RequestCounter
from s3ledger.bench.summary import BackfillSummary, EngineResult
from s3ledger.operate.backfill import BackfillReport, backfill
from s3ledger.operate.bulk import backfill_report, follow, run_input, start_run
from s3ledger.operate.scan import check_tables
from s3ledger.workbench.dynamodb_local import dynamodb_client, free_port, local_client
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import provision, provision_tables
from s3ledger.workbench.stepfunctions import BulkStandIn, load_bulk_spec
from s3ledger.workbench.template import PipelineSpec, load_pipeline_spec
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

__all__ = ["ENGINES", "run_backfill_bench"]

ENGINES = ("local", "stepfunctions")
_SOURCES = ("listing", "inventory")
_PREFIX = "d"  # the objects, not the inventory files beside them


class _Clients:
    """One run's metered clients: DynamoDB (requests, write units by rule, read units) and S3
    (requests), every call of the engine counted (the operator's and the state machine's)."""

    def __init__(self, workbench: Workbench, pool: int) -> None:
        self.meter, self.dynamodb_calls, self.s3_calls = Meter(), RequestCounter(), RequestCounter()
        self.dynamodb: DynamoDBClient = dynamodb_client(
            workbench.dynamodb_endpoint, max_pool_connections=pool
        )
        self.meter.attach(self.dynamodb)
        self.dynamodb_calls.attach(self.dynamodb)
        self.s3: S3Client = self.s3_calls.attach(
            aws_client("s3", workbench.aws_endpoint, max_pool_connections=pool)
        )

    def usage(self, **bulk: Any) -> Usage:
        return Usage(
            write_units=self.meter.totals().write_units_rule,
            read_units=self.dynamodb_calls.read_units,
            s3_requests=dict(self.s3_calls.operations),
            **bulk,
        )


def _local(
    workbench: Workbench, tables: dict[str, str], bucket: str, workers: int, uri: str | None
) -> tuple[BackfillReport, _Clients, Usage]:
    clients = _Clients(workbench, pool=2 * workers + 8)
    report = backfill(
        clients.s3,
        clients.dynamodb,
        bucket=bucket,
        ledger_table=tables["ledger"],
        audit_table=tables["audit"],
        inventory=uri,
        prefix=_PREFIX,
        workers=workers,
    )
    return report, clients, clients.usage()


def _stepfunctions(
    workbench: Workbench, tables: dict[str, str], bucket: str, workers: int, uri: str | None
) -> tuple[BackfillReport, _Clients, Usage]:
    clients = _Clients(workbench, pool=2 * workers + 16)
    spec = load_bulk_spec(overrides={"BulkMaxConcurrency": str(workers)})
    standin = BulkStandIn(
        spec,
        s3=clients.s3,
        dynamodb=clients.dynamodb,
        ledger_table=tables["ledger"],
        audit_table=tables["audit"],
        results_bucket=f"{bucket}-results",
    )
    clients.s3_calls.operations.clear()  # the results bucket's creation is set-up
    try:
        sfn = local_client("stepfunctions", standin.serve())
        document = run_input(job="backfill", bucket=bucket, prefix=_PREFIX, inventory=uri)
        arn = start_run(sfn, standin.state_machine_arn, document)
        described = follow(sfn, arn, lambda _: None, poll_seconds=0.2)
        report = backfill_report(clients.s3, described)
        used = standin.usage(arn)
        usage = clients.usage(
            lambda_invocations=standin.function_usage.invocations,
            lambda_gb_seconds=standin.function_usage.seconds * spec.memory_mb / 1024,
            state_transitions=used.transitions,
            express_requests=used.express_requests,
            express_seconds=used.express_seconds,
        )
    finally:
        standin.close()
    return report, clients, usage


def _result(
    report: BackfillReport, clients: _Clients, usage: Usage, anomalies: int
) -> EngineResult:
    objects = max(report.objects_seen, 1)
    dollars = cost(usage)
    requests = clients.dynamodb_calls.total() + clients.s3_calls.total()
    return {
        # The report's keys are EngineResult's first ones; to_json is typed as a plain dict.
        **report.to_json(),  # type: ignore[typeddict-item]
        "anomalies": anomalies,
        "requests_per_object": round(requests / objects, 4),
        "requests": {
            "dynamodb": dict(sorted(clients.dynamodb_calls.operations.items())),
            "s3": dict(sorted(clients.s3_calls.operations.items())),
        },
        "write_units_per_object": round(usage.write_units / objects, 3),
        "read_units_per_object": round(usage.read_units / objects, 3),
        "lambda_invocations": usage.lambda_invocations,
        "lambda_gb_seconds": round(usage.lambda_gb_seconds, 3),
        "state_transitions": usage.state_transitions,
        "express_executions": usage.express_requests,
        "cost_per_million_objects": {
            name: round(value / objects * 1e6, 4) for name, value in dollars.items()
        }
        | {"total": round(sum(dollars.values()) / objects * 1e6, 4)},
    }


_RUNS = {"local": _local, "stepfunctions": _stepfunctions}


def _print(summary: BackfillSummary) -> None:
    for engine, by_source in summary["engines"].items():
        for source, r in by_source.items():
            cost_total = r["cost_per_million_objects"]["total"]
            print(
                f"{engine:>13} {source:>9}: {r['objects_written']}/{r['objects_seen']} written in "
                f"{r['elapsed_seconds']} s = {r['objects_per_second']} objects/s, "
                f"{r['requests_per_object']} requests and {r['write_units_per_object']} write "
                f"units per object, ${cost_total} per million objects "
                f"(anomalies {r['anomalies']})"
            )


def _source(
    workbench: Workbench,
    spec: PipelineSpec,
    source: str,
    *,
    objects: int,
    workers: int,
    engines: tuple[str, ...],
    console: Console,
) -> dict[str, EngineResult]:
    """One bucket of ``objects`` objects, backfilled by each engine into its own tables."""
    resources = provision(
        workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, prefix=f"bf-{source}-"
    )
    console.print(f"putting {objects} objects in {resources.bucket} ...")
    fill_bucket(workbench.s3(), resources.bucket, objects, prefix=_PREFIX)
    uri = write_csv_inventory(workbench.s3(), resources.bucket) if source == "inventory" else None
    results: dict[str, EngineResult] = {}
    for engine in engines:
        tables = provision_tables(
            workbench.dynamodb(),
            spec,
            {role: f"bf-{source}-{engine}-{role}" for role in ("ledger", "audit", "idempotency")},
        )
        console.print(f"backfill from the {source} on the {engine} engine ...")
        report, clients, usage = _RUNS[engine](workbench, tables, resources.bucket, workers, uri)
        check = check_tables(
            workbench.dynamodb(), ledger_table=tables["ledger"], audit_table=tables["audit"]
        )
        results[engine] = _result(report, clients, usage, check.anomalies_total)
    return results


def run_backfill_bench(
    *, objects: int, workers: int, engines: tuple[str, ...] = ENGINES, as_json: bool
) -> int:
    """Measure each engine on both sources; print JSON or a table; 1 on anomalies or a miss."""
    console = Console(stderr=True, quiet=as_json)
    spec = load_pipeline_spec().without_streams()
    summary: BackfillSummary = {
        "objects": objects,
        "workers": workers,
        "s3_metadata_backfill_per_million": PRICES.s3_metadata_backfill_per_million,
        "engines": {engine: {} for engine in engines},
    }
    with Workbench(dynamodb_port=free_port(), aws_port=free_port()) as workbench:
        for source in _SOURCES:
            measured = _source(
                workbench,
                spec,
                source,
                objects=objects,
                workers=workers,
                engines=engines,
                console=console,
            )
            for engine, result in measured.items():
                summary["engines"][engine][source] = result
    if as_json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        _print(summary)
    runs = [r for by_source in summary["engines"].values() for r in by_source.values()]
    ok = all(r["anomalies"] == 0 and r["objects_written"] == objects for r in runs)
    return 0 if ok else 1

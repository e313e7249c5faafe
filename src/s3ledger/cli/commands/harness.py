"""The commands that run a throwaway workbench to prove or measure: ``demo``, ``chaos``,
``bench`` and ``bench-backfill``. Each loads its harness on demand.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from s3ledger.cli.commands.common import (
    EXIT_ANOMALIES,
    exactly_once_broken,
    fail,
    parse_modes,
    print_summary,
)

__all__ = ["bench_backfill_command", "bench_command", "chaos_command", "demo_command"]


def demo_command(args: argparse.Namespace) -> int:
    from s3ledger.proof.demo import run_demo

    summary = run_demo(
        files=args.files,
        seed=args.seed,
        as_json=args.json,
        workers=args.workers,
        verbose=args.verbose,
    )
    print_summary(summary, as_json=args.json, table="demo")
    return 0 if summary["modes"]["inbox"]["verdict_ok"] else EXIT_ANOMALIES


def chaos_command(args: argparse.Namespace) -> int:
    from s3ledger.proof.chaos import run_chaos
    from s3ledger.proof.delivery import FaultRates

    try:
        rates = FaultRates.parse(args.faults)
    except ValueError as exc:
        fail(str(exc))
    modes = parse_modes(args.modes)
    if args.events < 1 or args.workers < 1:
        fail("--events and --workers must be at least 1")
    started = time.monotonic()
    summary = run_chaos(
        events=args.events,
        modes=modes,
        rates=rates,
        seed=args.seed,
        workers=args.workers,
        as_json=args.json,
    )
    print_summary(summary, as_json=args.json, table="chaos")
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    print(
        f"chaos: {time.monotonic() - started:.0f} s, peak RSS of this process {rss_mib:.0f} MiB",
        file=sys.stderr,
    )
    return EXIT_ANOMALIES if exactly_once_broken(summary) else 0


def bench_backfill_command(args: argparse.Namespace) -> int:
    from s3ledger.bench.backfill import ENGINES, run_backfill_bench

    if args.objects < 1 or args.workers < 1:
        fail("--objects and --workers must be at least 1")
    engines = tuple(dict.fromkeys(e.strip() for e in args.engines.split(",") if e.strip()))
    if not engines or set(engines) - set(ENGINES):
        fail(f"--engines: choose from {', '.join(ENGINES)}")
    return run_backfill_bench(
        objects=args.objects, workers=args.workers, engines=engines, as_json=args.json
    )


def bench_command(args: argparse.Namespace) -> int:
    from s3ledger.bench.run import run_bench

    modes = parse_modes(args.modes)
    if args.events < 1 or args.workers < 1 or not 1 <= args.batch <= 10 or args.uploads < 0:
        fail(
            "--events and --workers must be at least 1, --batch between 1 and 10, --uploads "
            "not negative"
        )
    if args.chart is not None and args.chart.suffix.lower() not in {".png", ".svg"}:
        fail(f"--chart {args.chart}: the file must end in .png or .svg")
    summary = run_bench(
        events=args.events,
        modes=modes,
        workers=args.workers,
        batch=args.batch,
        as_json=args.json,
        chart=args.chart,
        seed=args.seed,
        streams=args.streams,
        uploads=args.uploads,
    )
    print_summary(summary, as_json=args.json, table="bench")
    if args.chart is not None and not args.json:
        print(f"chart written to {args.chart}", file=sys.stderr)
    return EXIT_ANOMALIES if exactly_once_broken(summary) else 0

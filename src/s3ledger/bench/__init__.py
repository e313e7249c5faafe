"""The benchmark: every mode over the same workload on the workbench, measured side by side.

- :mod:`~s3ledger.bench.run`: ``s3ledger bench`` (``run_bench``), each mode's bench and figures;
- :mod:`~s3ledger.bench.phases`: one phase of a round, fed and drained;
- :mod:`~s3ledger.bench.workload`: the notifications it sends;
- :mod:`~s3ledger.bench.probes`: the metered, timed sandboxes;
- :mod:`~s3ledger.bench.meters`: request, write unit and CPU counting;
- :mod:`~s3ledger.bench.units`: write units by DynamoDB's rule;
- :mod:`~s3ledger.bench.cold_start`: import + writer time in fresh interpreters;
- :mod:`~s3ledger.bench.modes`: per-mode overrides, the reference mode;
- :mod:`~s3ledger.bench.notes`: ratios, notes and warnings of a summary;
- :mod:`~s3ledger.bench.chart`: ``--chart``;
- :mod:`~s3ledger.bench.summary`: the summaries' shapes, shared with the CLI;
- :mod:`~s3ledger.bench.backfill`: ``s3ledger bench-backfill``.
"""

__all__: list[str] = []

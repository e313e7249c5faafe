"""The commands' implementations, grouped by what they act on; :mod:`s3ledger.cli.main` builds
the parser and registers each one (``set_defaults(run=...)``).

* :mod:`.workbench`: ``up``, ``invoke``;
* :mod:`.operate`: ``check``, ``reconcile``, ``attach``, ``detach``, ``redrive``, ``backfill``;
* :mod:`.harness`: ``demo``, ``chaos``, ``bench``, ``bench-backfill``;
* :mod:`.common`: exit codes, errors, ``--modes`` and summaries, shared by the others.
"""

__all__: list[str] = []

"""The ``s3ledger`` command line and its Rich rendering: the only layer that prints for people."""

from s3ledger.cli.main import main

__all__ = ["main"]

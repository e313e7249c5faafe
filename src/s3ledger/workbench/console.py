"""What the workbench's long runs show people: a progress bar, and the handler's logs muted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

__all__ = ["counting_progress", "handler_logs_silenced"]


def counting_progress(console: Console, *, disable: bool, unit: str = "") -> Progress:
    """The long commands' progress bar: a description, a bar, done/total, elapsed time."""
    return Progress(
        TextColumn("{task.description:>26}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}" + (f" {unit}" if unit else "")),
        TimeElapsedColumn(),
        console=console,
        disable=disable,
    )


@contextmanager
def handler_logs_silenced() -> Iterator[None]:
    """Mute the handler's logs while a harness counts what they would say; restore them after."""
    logger = logging.getLogger("s3ledger")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)

"""What every command shares: exit codes, the one-line error, ``--modes``, and printing a run's
summary.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal, NoReturn, overload

from s3ledger.core.config import EXACTLY_ONCE_MODES, MODES, Mode, parse_mode
from s3ledger.core.errors import ConfigurationError

if TYPE_CHECKING:
    from s3ledger.bench.summary import BenchSummary
    from s3ledger.proof.summary import ChaosSummary, DemoSummary

__all__ = [
    "EXIT_ANOMALIES",
    "EXIT_USAGE",
    "exactly_once_broken",
    "fail",
    "missing_extra",
    "parse_modes",
    "print_summary",
]

EXIT_ANOMALIES = 1
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    print(f"s3ledger: error: {message}", file=sys.stderr)
    raise SystemExit(code)


# The optional dependencies and the extra of pyproject.toml that installs each: without them the
# package is the library and the handlers (boto3, Powertools) only.
_EXTRA_OF_MODULE = {
    "moto": "workbench",
    "rich": "workbench",
    "yaml": "workbench",
    "matplotlib": "workbench",
    "pyarrow": "backfill",
}


def missing_extra(command: str, error: ImportError) -> str | None:
    """What to tell a user whose ``command`` failed to import an optional dependency: the extra
    that installs it; ``None`` if the missing module is not one of the extras'."""
    module = (error.name or "").split(".")[0]
    extra = _EXTRA_OF_MODULE.get(module)
    if extra is None:
        return None
    return (
        f"`s3ledger {command}` needs the {extra!r} extra ({module} is not installed): "
        f"pip install 's3ledger[{extra}]'"
    )


def parse_modes(text: str) -> list[Mode]:
    """``--modes``: comma-separated, known, each once."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        fail(f"no mode given: choose from {', '.join(MODES)}")
    try:
        modes = [parse_mode(name) for name in names]
    except ConfigurationError as exc:
        fail(str(exc))
    if len(set(modes)) != len(modes):
        fail("--modes lists a mode twice")
    return modes


@overload
def print_summary(summary: DemoSummary, *, as_json: bool, table: Literal["demo"]) -> None: ...
@overload
def print_summary(summary: ChaosSummary, *, as_json: bool, table: Literal["chaos"]) -> None: ...
@overload
def print_summary(summary: BenchSummary, *, as_json: bool, table: Literal["bench"]) -> None: ...
def print_summary(
    summary: Mapping[str, Any], *, as_json: bool, table: Literal["demo", "chaos", "bench"]
) -> None:
    """A run's summary: JSON for machines, or its Rich table for people."""
    if as_json:
        print(json.dumps(summary, indent=2, sort_keys=True))
    else:
        from s3ledger.cli import render

        # Any: the overloads above pair each table with the summary its printer takes.
        printers: dict[str, Callable[[Any], None]] = {
            "demo": render.print_demo,
            "chaos": render.print_chaos,
            "bench": render.print_bench,
        }
        printers[table](summary)
    sys.stdout.flush()


def exactly_once_broken(summary: Mapping[str, Any]) -> bool:
    """True when an exactly-once mode (inbox, inbox-batch, lean) ended with an anomaly, or (in
    chaos) had one before reconcile that reconcile should never be needed for: only an event AWS
    dropped (``dropped``) waits for reconcile; a wrong ledger after the drain is a broken run,
    even if reconcile (with no settle window) then repaired it."""
    modes: Mapping[str, Mapping[str, Any]] = summary["modes"]
    for mode in (m for m in EXACTLY_ONCE_MODES if m in modes):
        before = modes[mode].get("before_reconcile", {}).get("anomalies", {})
        if modes[mode]["anomalies_total"] or any(
            count for kind, count in before.items() if kind != "dropped"
        ):
            return True
    return False

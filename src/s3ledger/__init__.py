"""s3ledger: exactly-once S3 object events in two DynamoDB tables.

The library, for a Lambda function of your own (README, "Use it as a library")::

    from s3ledger import Settings, ledger_writer, parse_sqs_batch

    writer = ledger_writer(Settings.from_env())  # once per execution environment
    for message in parse_sqs_batch(event):       # in the handler
        for object_event in message.events:
            outcome = writer.write(object_event, context)

Each name loads on first use (PEP 562 ``__getattr__``), so importing the packaged function
(``s3ledger.pipeline.handlers``) pays nothing for this facade at cold start.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from s3ledger.core.config import MODES, Mode, Settings
    from s3ledger.core.errors import PoisonError, RetryableError, S3LedgerError
    from s3ledger.core.events import ObjectEvent
    from s3ledger.pipeline.handlers import Handler
    from s3ledger.pipeline.library import SqsMessage, ledger_writer, parse_event, parse_sqs_batch
    from s3ledger.pipeline.writers import InvocationContext, Outcome, Writer

__all__ = [
    "MODES",
    "Handler",
    "InvocationContext",
    "Mode",
    "ObjectEvent",
    "Outcome",
    "PoisonError",
    "RetryableError",
    "S3LedgerError",
    "Settings",
    "SqsMessage",
    "Writer",
    "__version__",
    "ledger_writer",
    "parse_event",
    "parse_sqs_batch",
]

__version__ = "0.1.0"

# Where each public name lives: only the core and the pipeline, which ship in the Lambda.
_HOMES = {
    "MODES": "s3ledger.core.config",
    "Mode": "s3ledger.core.config",
    "Settings": "s3ledger.core.config",
    "PoisonError": "s3ledger.core.errors",
    "RetryableError": "s3ledger.core.errors",
    "S3LedgerError": "s3ledger.core.errors",
    "ObjectEvent": "s3ledger.core.events",
    "Handler": "s3ledger.pipeline.handlers",
    "SqsMessage": "s3ledger.pipeline.library",
    "ledger_writer": "s3ledger.pipeline.library",
    "parse_event": "s3ledger.pipeline.library",
    "parse_sqs_batch": "s3ledger.pipeline.library",
    "InvocationContext": "s3ledger.pipeline.writers",
    "Outcome": "s3ledger.pipeline.writers",
    "Writer": "s3ledger.pipeline.writers",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 's3ledger' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

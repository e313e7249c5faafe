"""Lambda entry points: S3 → SQS → Lambda, S3 → Lambda, S3 → EventBridge → Lambda.

Thin on purpose: parse the envelope into events, hand each to the configured writer, report.
Settings are read once, at the first invocation of the execution environment (cold start).

==================================================  ========================================
entry point (SAM ``Handler``)                       on a failed record
==================================================  ========================================
``s3ledger.pipeline.handlers.sqs_handler``          reported in ``batchItemFailures``; the
                                                    rest of the batch is kept; SQS
                                                    redelivers, then DLQ
``s3ledger.pipeline.handlers.s3_handler``           every event is tried, then the
                                                    invocation raises so Lambda's async
                                                    retries take over
``s3ledger.pipeline.handlers.eventbridge_handler``  the invocation raises (one event per call)
==================================================  ========================================
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable

import botocore.session
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from botocore.config import Config

from s3ledger.core.config import Settings
from s3ledger.core.errors import PoisonError, S3LedgerError
from s3ledger.core.events import (
    ObjectEvent,
    ParsedMessage,
    parse_eventbridge_event,
    parse_s3_event,
    parse_sqs_body,
)
from s3ledger.core.lag import LAG_METRIC, lag_ms
from s3ledger.pipeline.writers import (
    BatchWriter,
    ExpectingWriter,
    InvocationContext,
    MetricsSink,
    Outcome,
    make_writer,
)

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from mypy_boto3_dynamodb import DynamoDBClient

    from s3ledger.pipeline.bucket import StateReader

__all__ = [
    "Handler",
    "PowertoolsMetrics",
    "TimingSink",
    "default_dynamodb_client",
    "eventbridge_handler",
    "s3_handler",
    "sqs_handler",
]

# The stack sets POWERTOOLS_SERVICE_NAME to its own name (two stacks' metrics stay apart, and its
# alarms watch that service) and POWERTOOLS_METRICS_NAMESPACE; an argument would override them.
# Outside Lambda (invoke, the workbench) both default to "s3ledger".
_SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "s3ledger"
logger = Logger(service=_SERVICE)
metrics = Metrics(
    namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "s3ledger", service=_SERVICE
)

_OUTCOME_METRIC = {
    Outcome.APPLIED: "EventsApplied",
    Outcome.DUPLICATE: "DuplicatesSkipped",
    Outcome.SUPERSEDED: "EventsSuperseded",
    Outcome.UNCHANGED: "EventsUnchanged",
}


@runtime_checkable
class TimingSink(Protocol):
    """A metrics sink that also takes timings (the lag of each event, :data:`LAG_METRIC`)."""

    def timing(self, name: str, milliseconds: float) -> None: ...


class PowertoolsMetrics:
    """Counts and timings go to Powertools Metrics, flushed as EMF at the end of each
    invocation (a metric's values of one invocation go in one EMF record, so CloudWatch keeps
    each value and computes percentiles from them)."""

    def count(self, name: str, value: int = 1) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)

    def timing(self, name: str, milliseconds: float) -> None:
        metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=milliseconds)


def default_dynamodb_client() -> DynamoDBClient:
    """A client with botocore's ``standard`` retries (throttling, 5xx, connection errors).

    The endpoint comes from the SDK's own variables (``AWS_ENDPOINT_URL_DYNAMODB``), so the same
    code talks to AWS or to the local workbench. Built with botocore rather than boto3: importing
    boto3 pulls in s3transfer, about 100 ms of cold start this handler has no use for.
    """
    config = Config(
        retries={"mode": "standard", "max_attempts": 3},
        connect_timeout=3,
        read_timeout=10,
        tcp_keepalive=True,
    )
    # botocore's create_client is untyped (boto3.client is typed, but imports boto3).
    return cast(
        "DynamoDBClient", botocore.session.get_session().create_client("dynamodb", config=config)
    )


class Handler:
    """One execution environment's handler state: settings, a client, a writer."""

    def __init__(
        self,
        settings: Settings,
        client: DynamoDBClient | None = None,
        metrics_sink: MetricsSink | None = None,
        state_reader: StateReader | None = None,
    ) -> None:
        self.settings = settings
        self.metrics: MetricsSink = metrics_sink or PowertoolsMetrics()
        self.client = client or default_dynamodb_client()
        self.writer = make_writer(self.client, settings, self.metrics, state_reader=state_reader)
        # Writers that can write a whole batch (inbox-batch) get the batch at once; writers that
        # can use knowing it in advance (inbox's duplicate look-ahead) are told it first.
        self._batch_writer = self.writer if isinstance(self.writer, BatchWriter) else None
        self._expecting_writer = self.writer if isinstance(self.writer, ExpectingWriter) else None
        self._timings = self.metrics if isinstance(self.metrics, TimingSink) else None

    def _recorded(self, event: ObjectEvent, outcome: Outcome) -> None:
        """Count the outcome; time how late a written event (not a duplicate) was recorded."""
        self.metrics.count(_OUTCOME_METRIC[outcome])
        if self._timings is not None and outcome is not Outcome.DUPLICATE:
            self._timings.timing(LAG_METRIC, lag_ms(event.event_time, datetime.now(UTC)))

    def write(self, parsed: ParsedMessage, context: InvocationContext) -> Counter[str]:
        """Write every event of one message; raise on the first that fails."""
        tally: Counter[str] = Counter()
        for what in parsed.ignored:
            logger.info("notification ignored", extra={"notification": what})
            tally["ignored"] += 1
        for event in parsed.events:
            outcome = self.writer.write(event, context)
            self._recorded(event, outcome)
            tally[outcome.value] += 1
        return tally

    def _record_failed(self, exc: Exception, **where: str) -> None:
        self.metrics.count("RecordsFailed")
        fields = {"error": type(exc).__name__, "reason": str(exc), **where}
        if isinstance(exc, PoisonError):
            logger.error("record can never succeed", extra=fields)
        elif isinstance(exc, S3LedgerError):
            logger.warning("record failed, will be retried", extra=fields)
        else:
            logger.exception("record failed unexpectedly", extra=fields)

    def _parse_batch(self, event: Mapping[str, Any]) -> dict[str, ParsedMessage | Exception]:
        """Every message of an SQS batch, parsed, or the error that makes it unreadable."""
        parsed: dict[str, ParsedMessage | Exception] = {}
        for record in event.get("Records", []):
            message_id = str(record.get("messageId"))
            try:
                parsed[message_id] = parse_sqs_body(record.get("body"))
            # Any error fails its own message only (reported by record_handler), never the batch.
            except Exception as exc:
                parsed[message_id] = exc
        return parsed

    def _write_batch(
        self,
        writer: BatchWriter,
        messages: Mapping[str, ParsedMessage | Exception],
        context: InvocationContext,
    ) -> dict[str, Exception | None]:
        """Write the events of every message at once; the error of each message."""
        failures: dict[str, Exception | None] = {}
        owners: list[str] = []
        events: list[ObjectEvent] = []
        for message_id, parsed in messages.items():
            if isinstance(parsed, Exception):
                failures[message_id] = parsed
                continue
            failures[message_id] = None
            for what in parsed.ignored:
                logger.info("notification ignored", extra={"notification": what})
            owners.extend(message_id for _ in parsed.events)
            events.extend(parsed.events)
        results = writer.write_batch(events, context)
        for owner, event, result in zip(owners, events, results, strict=True):
            if isinstance(result, Exception):
                failures[owner] = failures[owner] or result
            else:
                self._recorded(event, result)
        return failures

    def handle_sqs(self, event: Mapping[str, Any], context: InvocationContext) -> dict[str, Any]:
        """S3 → SQS → Lambda: partial batch response, one entry per failed message."""
        messages = self._parse_batch(event)
        batch = None
        if self._batch_writer is not None:
            batch = self._write_batch(self._batch_writer, messages, context)
        elif self._expecting_writer is not None:
            self._expecting_writer.expect(
                [e for m in messages.values() if isinstance(m, ParsedMessage) for e in m.events]
            )

        def record_handler(record: SQSRecord) -> None:
            try:
                if batch is not None:
                    if (error := batch.get(record.message_id)) is not None:
                        raise error
                elif isinstance(parsed := messages[record.message_id], Exception):
                    raise parsed
                else:
                    self.write(parsed, context)
            except Exception as exc:
                self._record_failed(exc, message_id=record.message_id)
                raise

        # All records failing is reported like any other partial failure (every message comes
        # back) rather than raised, so the response always says which messages failed.
        processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
        response = process_partial_response(
            event=dict(event),
            record_handler=record_handler,
            processor=processor,
            # Powertools types it as its LambdaContext class; InvocationContext is what it reads.
            context=context,  # type: ignore[arg-type]
        )
        return dict(response)

    def handle_s3(self, event: Mapping[str, Any], context: InvocationContext) -> dict[str, Any]:
        """S3 → Lambda (asynchronous): try every event, then fail the invocation if one failed."""
        parsed = parse_s3_event(event)
        tally: Counter[str] = Counter({"ignored": len(parsed.ignored)})
        failures: list[Exception] = []
        for single in parsed.events:
            try:
                tally.update(self.write(ParsedMessage(events=(single,)), context))
            except Exception as exc:
                self._record_failed(exc, event_id=single.event_id)
                failures.append(exc)
        if failures:
            raise failures[0]
        return dict(tally)

    def handle_eventbridge(
        self, event: Mapping[str, Any], context: InvocationContext
    ) -> dict[str, Any]:
        """S3 → EventBridge → Lambda: one event per invocation."""
        try:
            return dict(self.write(parse_eventbridge_event(event), context))
        except Exception as exc:
            self._record_failed(exc, eventbridge_id=str(event.get("id")))
            raise


_handler: Handler | None = None


def _cold_start_handler() -> Handler:
    global _handler  # noqa: PLW0603 -- one handler per execution environment, built on first use
    if _handler is None:
        _handler = Handler(Settings.from_env())
    return _handler


@metrics.log_metrics
@logger.inject_lambda_context
def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _cold_start_handler().handle_sqs(event, context)


@metrics.log_metrics
@logger.inject_lambda_context
def s3_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _cold_start_handler().handle_s3(event, context)


@metrics.log_metrics
@logger.inject_lambda_context
def eventbridge_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _cold_start_handler().handle_eventbridge(event, context)

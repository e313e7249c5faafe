"""How long ``lean``'s two tables disagreed: per event, from its audit item to the ledger.

``lean`` writes the audit item, then updates the ledger (two requests). Between the two, and
after a crash there until the message comes back, the audit log has an event the ledger does
not show yet. This observer measures that window for every event, on the handlers' own DynamoDB
clients (botocore's event hooks, as the fault injector), with the runner's monotonic clock:

* **opens** when an audit Put of a ``recorded`` item is sent that creates the item. A Put that
  fails its condition (the event was recorded before) opens the window at the first Put of that
  event seen, if none had opened it: a Put whose answer was lost may have created the item, so
  the window is taken from its start (an upper bound, never an under-estimate);
* **closes** when a ledger Update for the event returns: applied, or refused by the order guard
  (the ledger shows the event already, or a newer one: the tables agree on it).

Windows still open once the pipeline is drained are events whose update never returned: half
done (the checker's ``half_done`` counts those from the tables), parked in the DLQ after their
audit Put while a newer event of the object has since moved the ledger past them, or settled by
S3 where the clocks could not place them (superseded, or unchanged: the ledger rightly never
shows them). The tables agree on all but the first; the observer, which sees requests and not
tables, counts them all.

Reported: the longest window, the total (the sum over events) and the union (wall time during
which at least one event was in disagreement).
Times are the machine's: they vary from run to run, unlike the seeded counts.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Final

from s3ledger.core.lean import RECORDED
from s3ledger.pipeline.dynamodb import CONDITION_FAILED_ERROR as CONDITION_FAILED
from s3ledger.proof.summary import Disagreement

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from s3ledger.workbench.provision import Resources
    from s3ledger.workbench.runner import ExecutionEnvironment

__all__ = ["WindowObserver", "observed", "two_write_windows"]

_KEY: Final = "s3ledger_window"


class WindowObserver:
    """Observes the clients it is attached to; thread-safe (lanes run in parallel)."""

    def __init__(self, *, audit_table: str, ledger_table: str) -> None:
        self._audit, self._ledger = audit_table, ledger_table
        self._lock = threading.Lock()
        self._first_put: dict[str, float] = {}
        self._opened: dict[str, float] = {}
        self._closed: dict[str, float] = {}

    def attach(self, client: DynamoDBClient) -> None:
        events = client.meta.events
        events.register("before-parameter-build.dynamodb.PutItem", self._before)
        events.register("before-parameter-build.dynamodb.UpdateItem", self._before)
        events.register("after-call.dynamodb.PutItem", self._after_put)
        events.register("after-call.dynamodb.UpdateItem", self._after_update)

    def _before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        now = time.monotonic()
        table = params.get("TableName")
        if table == self._audit:
            item = params.get("Item", {})
            if item.get("outcome", {}).get("S") != RECORDED:
                return
            event_id = item["event_id"]["S"]
            with self._lock:
                self._first_put.setdefault(event_id, now)
            context[_KEY] = (event_id, now)
        elif table == self._ledger:
            event_id = params.get("ExpressionAttributeValues", {}).get(":last_event_id", {})
            if "S" in event_id:
                context[_KEY] = (event_id["S"], now)

    def _after_put(self, http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
        mark = context.get(_KEY)
        if mark is None:
            return
        event_id, started = mark
        status = getattr(http_response, "status_code", 500)
        code = parsed.get("Error", {}).get("Code", "")
        with self._lock:
            if status < 300:
                self._opened.setdefault(event_id, started)
            elif code == CONDITION_FAILED:
                self._opened.setdefault(event_id, self._first_put.get(event_id, started))

    def _after_update(self, http_response: Any, parsed: Any, context: Any, **_: Any) -> None:
        mark = context.get(_KEY)
        if mark is None:
            return
        status = getattr(http_response, "status_code", 500)
        code = parsed.get("Error", {}).get("Code", "")
        if status < 300 or code == CONDITION_FAILED:
            with self._lock:
                self._closed.setdefault(mark[0], time.monotonic())

    def summary(self) -> Disagreement:
        """The windows so far, in seconds (3 decimals)."""
        with self._lock:
            spans = [
                (opened, self._closed[event_id])
                for event_id, opened in self._opened.items()
                if event_id in self._closed and self._closed[event_id] >= opened
            ]
            still_open = sum(1 for event_id in self._opened if event_id not in self._closed)
        lengths = sorted(end - start for start, end in spans)
        union = 0.0
        reach = float("-inf")
        for start, end in sorted(spans):
            if end > reach:
                union += end - max(start, reach)
                reach = end
        return {
            "events": len(spans),
            "open_after_drain": still_open,
            "longest_seconds": round(lengths[-1], 3) if lengths else 0.0,
            "p99_seconds": round(lengths[int(0.99 * (len(lengths) - 1))], 3) if lengths else 0.0,
            "median_seconds": round(lengths[len(lengths) // 2], 4) if lengths else 0.0,
            "total_seconds": round(sum(lengths), 3),
            "union_seconds": round(union, 3),
        }


def two_write_windows(mode: str, resources: Resources) -> WindowObserver | None:
    """An observer for a mode whose two writes are not atomic (``lean``), else ``None``."""
    if mode != "lean":
        return None
    return WindowObserver(audit_table=resources.audit_table, ledger_table=resources.ledger_table)


def observed(
    environment: ExecutionEnvironment, windows: WindowObserver | None
) -> ExecutionEnvironment:
    """``environment`` with ``windows`` watching its DynamoDB client (when there is one)."""
    if windows is not None:
        windows.attach(environment.pipeline.client)
    return environment

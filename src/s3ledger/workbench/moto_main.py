"""The moto server the workbench runs: ``python -m s3ledger.workbench.moto_main -H HOST -p PORT``.

It is moto's own server (:func:`moto.server.main`, same arguments) with four speed-ups, two to its
SQS backend and two to every request, so that the workbench measures the pipeline rather than
moto's bookkeeping.

Why: moto 5.2.5 computes a queue's attributes as one dict, including its three message counts
(``ApproximateNumberOfMessages``, ``…NotVisible``, ``…Delayed``), each a scan of every message
that reads the clock per message. ``SendMessage`` reads that dict once per message sent (for
``ContentBasedDeduplication``) and ``ReceiveMessage`` three times per message received (for
``MessageRetentionPeriod``). A ``ReceiveMessage`` of 10 therefore scans the whole queue about 90
times: 80 ms of moto CPU with 90 messages queued, 340 ms with 450 (measured in-process), which
starves DynamoDB Local of the machine's two cores.

The two SQS speed-ups, neither of which can change what moto answers:

* inside ``SendMessage`` and ``ReceiveMessage``, where nothing reads them, the three counts are
  not computed (they read as 0). Everywhere else (``GetQueueAttributes``, the redrive to the DLQ,
  retention, visibility) moto's code runs unchanged;
* the SQS models' ``camelcase_to_underscores`` (a pure function of an attribute name, called
  for each of the 14 attributes every time the dict is built: half of a receive's remaining
  time) is memoised.

With both, a ``ReceiveMessage`` of 10 costs moto about 3 ms at any queue depth (in-process). If
moto's internals change, the patch refuses to apply and the server does not start, rather than
run unpatched unnoticed.

Two more, for every request (a py-spy profile of the server under ``s3ledger bench`` put them at
13 % and 11 % of its CPU):

* moto's dispatcher lists its own package directory (``list_of_moto_modules``, ~150 ``stat``
  calls) to route each request; the listing cannot change while the server runs, so it is
  taken once;
* werkzeug's access log (one formatted line per request) is off; warnings and errors still go
  to the server's log.

Not speed-ups, but installed in the same place:
:func:`~s3ledger.workbench.moto_s3.install_s3_notification_fidelity` makes moto's S3 notify object
events as AWS does (sequencers, version ids, delete markers, lifecycle expirations), and
:func:`~s3ledger.workbench.moto_cloudwatch.install_cloudwatch_fidelity` makes its CloudWatch
answer what ``s3ledger status`` asks (percentiles, a stack's alarms, SQS's own metrics), with the
same refusal to start if moto's internals differ.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import sys
from collections.abc import Callable
from typing import Any, Final

from s3ledger.workbench.moto_cloudwatch import install_cloudwatch_fidelity
from s3ledger.workbench.moto_s3 import install_s3_notification_fidelity

__all__ = [
    "COUNT_PROPERTIES",
    "HOT_PATHS",
    "install_server_speedups",
    "install_sqs_speedups",
    "main",
]

COUNT_PROPERTIES: Final = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
HOT_PATHS: Final = ("send_message", "receive_message")

# Per thread of moto's threaded server (each request runs in its own context).
_in_hot_path: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_moto_hot_path", default=False
)
_INSTALLED_MARK: Final = "_s3ledger_speedups"


def _skippable_count(original: property) -> property:
    getter = original.fget
    if getter is None:
        raise RuntimeError("moto's queue count is not a readable property")

    def count(queue: Any) -> int:
        return 0 if _in_hot_path.get() else int(getter(queue))

    return property(count)


def _in_hot_path_call(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = _in_hot_path.set(True)
        try:
            return method(*args, **kwargs)
        finally:
            _in_hot_path.reset(token)

    return call


def install_sqs_speedups() -> None:
    """Patch moto's SQS models in this process (idempotent); raise if they are not as expected."""
    from moto.sqs import models  # noqa: PLC0415 -- moto is imported only by the server process

    queue, backend = models.Queue, models.SQSBackend
    # getattr probes: moto's internals are checked, not assumed, and a mismatch raises below.
    if getattr(queue, _INSTALLED_MARK, False):
        return
    originals = {name: getattr(queue, name, None) for name in COUNT_PROPERTIES}
    methods = {name: getattr(backend, name, None) for name in HOT_PATHS}
    to_snake_case = getattr(models, "camelcase_to_underscores", None)
    if (
        not all(isinstance(p, property) for p in originals.values())
        or not all(callable(m) for m in methods.values())
        or not callable(to_snake_case)
    ):
        raise RuntimeError(
            "moto's SQS models are not those s3ledger's speed-up was written for "
            f"(moto 5.2.5): {sorted(originals)} / {sorted(methods)}"
        )
    for name, original in originals.items():
        setattr(queue, name, _skippable_count(original))  # type: ignore[arg-type]  # checked above
    for name, method in methods.items():
        setattr(backend, name, _in_hot_path_call(method))  # type: ignore[arg-type]  # checked above
    setattr(models, "camelcase_to_underscores", functools.cache(to_snake_case))  # noqa: B010 -- moto does not export it
    setattr(queue, _INSTALLED_MARK, True)


def install_server_speedups() -> None:
    """List moto's modules once, and drop werkzeug's per-request access log (idempotent)."""
    from moto import backends  # noqa: PLC0415 -- moto is imported only by the server process

    # A getattr probe: a moto without this internal raises here rather than misbehaving later.
    listing = getattr(backends, "list_of_moto_modules", None)
    if not callable(listing):
        raise RuntimeError("moto.backends.list_of_moto_modules is not what s3ledger expects")
    if not getattr(listing, _INSTALLED_MARK, False):
        modules = tuple(listing())

        def listed_once() -> tuple[str, ...]:
            return modules

        setattr(listed_once, _INSTALLED_MARK, True)
        setattr(backends, "list_of_moto_modules", listed_once)  # noqa: B010 -- moto's internals
    # werkzeug configures its logger only if its level is unset, so this setting stays.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    """Install the speed-ups, S3's notification fidelity (:mod:`s3ledger.workbench.moto_s3`) and
    CloudWatch's (:mod:`s3ledger.workbench.moto_cloudwatch`), then run moto's server with
    ``argv`` (default: ``sys.argv[1:]``)."""
    install_sqs_speedups()
    install_server_speedups()
    install_s3_notification_fidelity()
    install_cloudwatch_fidelity()
    from moto.server import main as moto_server_main  # noqa: PLC0415

    moto_server_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()

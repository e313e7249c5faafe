"""The program the workbench's moto server runs: ``python -m s3ledger.workbench.moto_app -H HOST
-p PORT``. It is moto's own server application (:class:`moto.server.DomainDispatcherApplication`)
behind the S3 notifier (:class:`~s3ledger.workbench.moto_s3.S3NotificationMiddleware`), with the
speed-ups of :mod:`s3ledger.workbench.moto_speedups`, the Suspended-versioning patch of
:mod:`s3ledger.workbench.moto_s3.suspended`, the CloudWatch answers of
:mod:`s3ledger.workbench.moto_cloudwatch` and EventBridge's ``account`` of
:mod:`s3ledger.workbench.moto_eventbridge` installed first. Why each: docs/workbench.md#moto.
:class:`~s3ledger.workbench.moto_process.MotoServer` starts it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from s3ledger.workbench.moto_cloudwatch import install_cloudwatch_fidelity
from s3ledger.workbench.moto_eventbridge import install_eventbridge_account
from s3ledger.workbench.moto_s3 import S3NotificationMiddleware, install_suspended_versioning
from s3ledger.workbench.moto_speedups import (
    install_listing_speedup,
    install_server_speedups,
    install_sqs_speedups,
)

__all__ = ["install_patches", "main"]


def install_patches() -> None:
    """Every patch of moto's internals the workbench makes, each checked first (idempotent)."""
    install_sqs_speedups()
    install_server_speedups()
    install_listing_speedup()
    install_suspended_versioning()
    install_cloudwatch_fidelity()
    install_eventbridge_account()


def _stop(signum: int, frame: Any) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    """Install the patches, then serve moto behind the S3 notifier on ``-H HOST -p PORT``
    (default: ``sys.argv[1:]``), threaded, as ``moto_server`` serves."""
    parser = argparse.ArgumentParser(prog="python -m s3ledger.workbench.moto_app")
    parser.add_argument("-H", "--host", default="127.0.0.1", help="the address to bind")
    parser.add_argument("-p", "--port", type=int, default=5000, help="the port to listen on")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    install_patches()
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 -- only the server imports moto
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 -- what moto.server.main runs
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple  # noqa: PLC0415 -- with moto, in the server process

    # moto reads its own port from here (presigned URLs, queue URLs), as its main() sets it.
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    app = S3NotificationMiddleware(
        DomainDispatcherApplication(create_backend_app), account_id=str(DEFAULT_ACCOUNT_ID)
    )
    run_simple(args.host, args.port, app, threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()

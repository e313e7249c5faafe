"""Cold start: the time to import the handler module and build a mode's writer, in a fresh
interpreter each time."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from collections.abc import Callable, Sequence
from typing import Final

__all__ = ["COLD_START_RUNS", "cold_start_ms"]

COLD_START_RUNS: Final = 9


# The client is built as the handler builds it (botocore, no boto3), outside the timer: the
# same for every mode. A mode whose writer imports more (Powertools' idempotency imports boto3)
# pays for it inside the timer, as its Lambda would.
_COLD_START_CODE: Final = """
import time
started = time.perf_counter()
import s3ledger.pipeline.handlers
imported = time.perf_counter()
client = s3ledger.pipeline.handlers.default_dynamodb_client()
from s3ledger.core.config import Settings
from s3ledger.pipeline.writers import make_writer
built = time.perf_counter()
make_writer(client, Settings.from_env())
done = time.perf_counter()
print((imported - started + done - built) * 1000)
"""


def _cold_start_once(mode: str) -> float:
    env = {
        **os.environ,
        "S3LEDGER_MODE": mode,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",  # never contacted
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # a dummy: the client sends nothing
    }
    result = subprocess.run(  # noqa: S603 -- our own interpreter and fixed code
        [sys.executable, "-c", _COLD_START_CODE],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(result.stdout.strip().splitlines()[-1])


def cold_start_ms(
    modes: Sequence[str],
    runs: int = COLD_START_RUNS,
    on_run: Callable[[], None] = lambda: None,
) -> dict[str, float]:
    """Median time per mode to import the handler module and build its writer, fresh each time.

    The modes take turns run after run, so that a slower moment of the machine does not fall on
    one mode only. The DynamoDB client is built outside the timer (every mode builds the same
    one) and never used: no request is sent.
    """
    timings: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(runs):
        for mode in modes:
            timings[mode].append(_cold_start_once(mode))
            on_run()
    return {mode: statistics.median(values) for mode, values in timings.items()}

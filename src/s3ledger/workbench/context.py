"""A Lambda-like context object for invocations outside Lambda (tests, the runner, ``invoke``)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

__all__ = ["LocalContext"]


@dataclass
class LocalContext:
    """What Lambda hands a handler: a request id, names, and a deadline that really runs out."""

    timeout_seconds: float = 30.0
    function_name: str = "s3ledger-local"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    # When set, the remaining time is reported as this constant instead of a running clock, so
    # decisions that read it (retry budgets, Powertools' in-progress expiry) do not depend on how
    # fast the machine is: the proof harness uses it to stay replayable.
    frozen_remaining_ms: int | None = None
    _deadline: float = field(init=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:000000000000:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/{self.aws_request_id}"

    def get_remaining_time_in_millis(self) -> int:
        if self.frozen_remaining_ms is not None:
            return self.frozen_remaining_ms
        return max(0, int((self._deadline - time.monotonic()) * 1000))

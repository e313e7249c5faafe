"""Polling for a condition that other threads or processes will make true."""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["wait_for"]


def wait_for(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.2) -> bool:
    """Whether ``condition`` became true within ``timeout`` seconds (checked every ``interval``).

    It is checked once more at the deadline, so a condition that is already true never fails.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)

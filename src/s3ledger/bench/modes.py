"""What the bench does differently per mode: its pipelines' overrides, the reference mode, and
the modes whose write units come from DynamoDB's rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

__all__ = ["BENCH_OVERRIDES", "MODE_OVERRIDES", "REFERENCE_MODE", "RULE_MODES"]

# Rejected duplicates (transact) go to the DLQ at their first redelivery instead of coming back
# MaxReceiveCount times, and transact's visibility timeout is short so that this redelivery comes
# within seconds. The other modes reject nothing: their visibility timeout stays well above any
# invocation's time, so no message is redelivered while it is being processed. FunctionTimeout
# stays as the template declares it, so no invocation is cut short.
# (MaxReceiveCount stays at the template's value elsewhere: two concurrent receives in moto can
# count one receive twice, which at 1 would park a message that is being processed.)
BENCH_OVERRIDES: Final = {"QueueVisibilityTimeout": "60"}
MODE_OVERRIDES: Final[Mapping[str, Mapping[str, str]]] = {
    "transact": {"MaxReceiveCount": "1", "QueueVisibilityTimeout": "10"},
}
REFERENCE_MODE: Final = "powertools"  # the article's final design
# Modes whose write units come from the rule: DynamoDB Local under-reports their transactions.
RULE_MODES: Final = frozenset({"inbox-batch"})

"""AWS's published prices (us-east-1, on demand, as each page showed them on 2026-12-04) and what
a measured run would cost at them.

* DynamoDB on demand, standard table class: $0.625 per million write request units and $0.125
  per million read request units (https://aws.amazon.com/dynamodb/pricing/on-demand/). A
  strongly consistent read of an item up to 4 KB is one read unit; a transactional write of an
  item up to 1 KB is two write units (same page, "Read request units and write request units").
* Lambda, Arm: $0.0000133334 per GB-second and $0.20 per million requests
  (https://aws.amazon.com/lambda/pricing/).
* Step Functions: Standard workflows $0.025 per 1,000 state transitions; Express workflows $1.00
  per million requests and $0.00001667 per GB-second (first 1,000 GB-hours), memory billed in
  64-MB chunks (https://aws.amazon.com/step-functions/pricing/).
* S3 Standard requests: PUT, COPY, POST, LIST $0.005 per 1,000; GET and all other requests
  $0.0004 per 1,000 (https://aws.amazon.com/s3/pricing/, "Requests & data retrievals").
* S3 Metadata's live inventory table, for comparison: $0.30 per million objects for its
  one-time backfill (https://aws.amazon.com/s3/pricing/, "S3 Metadata").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = ["PRICES", "Prices", "Usage", "cost"]

# S3 operations billed at the PUT, COPY, POST, LIST rate; every other one at the GET rate.
_S3_LIST_CLASS: Final = frozenset(
    {
        "ListObjectsV2",
        "ListObjects",
        "ListObjectVersions",
        "PutObject",
        "CopyObject",
        "CreateMultipartUpload",
        "UploadPart",
        "CompleteMultipartUpload",
    }
)


@dataclass(frozen=True)
class Prices:
    dynamodb_write_unit: float = 0.625 / 1e6
    dynamodb_read_unit: float = 0.125 / 1e6
    lambda_gb_second: float = 0.0000133334
    lambda_request: float = 0.20 / 1e6
    state_transition: float = 0.025 / 1e3
    express_request: float = 1.00 / 1e6
    express_gb_second: float = 0.00001667
    express_memory_gb: float = 64 / 1024  # the smallest chunk
    s3_list_class: float = 0.005 / 1e3
    s3_get_class: float = 0.0004 / 1e3
    s3_metadata_backfill_per_million: float = 0.30


PRICES: Final = Prices()


@dataclass(frozen=True)
class Usage:
    """What one run used, as measured."""

    write_units: float
    read_units: float
    s3_requests: Mapping[str, int]
    lambda_invocations: int = 0
    lambda_gb_seconds: float = 0.0
    state_transitions: int = 0
    express_requests: int = 0
    express_seconds: float = 0.0


def cost(usage: Usage, prices: Prices = PRICES) -> dict[str, float]:
    """Dollars per service for ``usage``."""
    s3 = sum(
        count * (prices.s3_list_class if operation in _S3_LIST_CLASS else prices.s3_get_class)
        for operation, count in usage.s3_requests.items()
    )
    return {
        "dynamodb": usage.write_units * prices.dynamodb_write_unit
        + usage.read_units * prices.dynamodb_read_unit,
        "lambda": usage.lambda_invocations * prices.lambda_request
        + usage.lambda_gb_seconds * prices.lambda_gb_second,
        "step_functions": usage.state_transitions * prices.state_transition
        + usage.express_requests * prices.express_request
        + usage.express_seconds * prices.express_memory_gb * prices.express_gb_second,
        "s3_requests": s3,
    }

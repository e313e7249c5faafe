"""The bulk handler's pure parts: a run's input checked and completed, an inventory batch's rows
read as S3 Inventory writes them, and payloads it refuses by name."""

from __future__ import annotations

from typing import Any

import pytest

from s3ledger.core.config import Settings
from s3ledger.core.inventory import InventoryError
from s3ledger.pipeline.bulk.handler import (
    BatchInputError,
    BulkClients,
    BulkLimits,
    _inventory_states,
    handle,
)
from s3ledger.workbench.context import LocalContext


def clients(**limits: Any) -> BulkClients:
    # No request is made by the payloads below: the clients are never called.
    return BulkClients(None, None, Settings(), BulkLimits(**limits))  # type: ignore[arg-type]


def test_prepare_completes_a_listing_run_within_the_stacks_limits() -> None:
    """A run asking for more concurrency than the stack allows gets the stack's ceiling; the
    segments become the Map's item list; a backfill always writes."""
    run = handle(
        {"prepare": {"job": "backfill", "bucket": "b", "max_concurrency": 500, "segments": 3}},
        LocalContext(),
        clients(max_concurrency=40, items_per_batch=250),
    )
    assert run["max_concurrency"] == 40
    assert run["items_per_batch"] == 250
    assert run["segment_list"] == [0, 1, 2]
    assert (run["source"], run["apply"], run["prefix"]) == ("listing", True, "")
    lower = handle(
        {"prepare": {"job": "reconcile", "bucket": "b", "max_concurrency": 5}},
        LocalContext(),
        clients(max_concurrency=40),
    )
    assert (lower["max_concurrency"], lower["apply"]) == (5, False)


@pytest.mark.parametrize(
    "payload",
    [
        {"prepare": {"job": "delete-everything", "bucket": "b"}},
        {"prepare": {"job": "backfill"}},
        {"prepare": {"job": "backfill", "bucket": "b", "segments": 0}},
        {"something": "else"},
    ],
)
def test_a_payload_that_can_never_succeed_is_refused_by_name(payload: dict[str, Any]) -> None:
    """Refused as BatchInputError (Step Functions does not retry it)."""
    with pytest.raises(BatchInputError):
        handle(payload, LocalContext(), clients())


def test_inventory_rows_are_read_as_s3_inventory_writes_them() -> None:
    """URL-encoded keys decoded, older versions and delete markers skipped, keys outside the
    prefix left out, the manifest's time as the snapshot's; a row of another bucket refused."""
    rows = [
        {"Bucket": "b", "Key": "a/q3+report%2Bfinal.csv", "VersionId": "v2", "IsLatest": "true",
         "IsDeleteMarker": "false", "Size": "12", "ETag": "e2"},
        {"Bucket": "b", "Key": "a/old", "VersionId": "v1", "IsLatest": "false",
         "IsDeleteMarker": "false", "Size": "3", "ETag": "e1"},
        {"Bucket": "b", "Key": "a/gone", "VersionId": "m", "IsLatest": "true",
         "IsDeleteMarker": "true", "Size": "", "ETag": ""},
        {"Bucket": "b", "Key": "z/outside", "Size": "1", "ETag": "e"},
    ]  # fmt: skip
    run = {"bucket": "b", "prefix": "a/", "as_of": "2026-11-28T00:00:00.000Z"}
    states = _inventory_states(rows, run)
    assert list(states) == ["a/q3 report+final.csv"]
    state = states["a/q3 report+final.csv"]
    assert (state.version_id, state.size, state.etag, state.as_of) == (
        "v2",
        12,
        "e2",
        "2026-11-28T00:00:00.000Z",
    )
    with pytest.raises(InventoryError, match="bucket 'other'"):
        _inventory_states([{**rows[0], "Bucket": "other"}], run)

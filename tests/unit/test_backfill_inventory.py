"""Reading S3 Inventory data files (no servers): URL-decoded CSV keys, current versions only,
both column spellings, the prefix."""

from __future__ import annotations

import gzip
import io
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from s3ledger.core.ledger import ObjectState
from s3ledger.operate.backfill import BackfillError, Manifest, read_inventory_file, read_manifest

SCHEMA = ("Bucket", "Key", "VersionId", "IsLatest", "IsDeleteMarker", "Size", "ETag")


def manifest(file_format: str) -> Manifest:
    return Manifest("b", "dest", file_format, SCHEMA, ("f",), "2026-11-28T00:00:00.000Z")


def test_csv_keys_are_url_decoded_and_only_current_versions_are_kept() -> None:
    lines = [
        '"b","in+box/a%20b%2Bc.txt","v2","true","false","3","e1"',
        '"b","in+box/a%20b%2Bc.txt","v1","false","false","2","e0"',  # noncurrent
        '"b","gone","v9","true","true","",""',  # delete marker is latest
        '"b","r%C3%A9sum%C3%A9","null","true","false","0","e2"',
        '"b","other/x","v3","true","false","1","e3"',
    ]
    data = gzip.compress(("\n".join(lines) + "\n").encode())
    states = read_inventory_file(data, manifest("CSV"), "")
    assert states == {
        "in box/a b+c.txt": ObjectState(True, "v2", "e1", 3),
        "résumé": ObjectState(True, None, "e2", 0),
        "other/x": ObjectState(True, "v3", "e3", 1),
    }
    assert states["résumé"].as_of == "2026-11-28T00:00:00.000Z"
    assert set(read_inventory_file(data, manifest("CSV"), "in box/")) == {"in box/a b+c.txt"}


def test_parquet_snake_case_columns_are_read_and_keys_are_not_decoded() -> None:
    columns: dict[str, Any] = {
        "bucket": ["b", "b"],
        "key": ["a%20b", "c"],
        "version_id": ["v1", "v2"],
        "is_latest": [True, False],
        "is_delete_marker": [False, False],
        "size": [5, 6],
        "e_tag": ["x", "y"],
    }
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    states = read_inventory_file(sink.getvalue(), manifest("Parquet"), "")
    assert states == {"a%20b": ObjectState(True, "v1", "x", 5)}


def test_a_manifest_uri_must_be_s3() -> None:
    with pytest.raises(BackfillError, match="expected s3://"):
        read_manifest(None, "https://example.com/manifest.json")  # type: ignore[arg-type]

"""Pure: an S3 Inventory report's manifest, and the state one of its rows says an object is in.

Shared by the two engines that read inventories: ``s3ledger backfill --inventory`` on one
machine (:mod:`s3ledger.operate.backfill.inventory`, which reads whole data files with pyarrow)
and the Step Functions engine (:mod:`s3ledger.pipeline.bulk`, whose Distributed Map hands it
rows that its ``ItemReader`` read). The manifest's fields (``sourceBucket``,
``destinationBucket``, ``fileFormat``, ``fileSchema``, ``files``, ``creationTimestamp`` in
milliseconds) are those of *Locating your inventory list*
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory-location.html); CSV
keys are URL-encoded (*Amazon S3 Inventory*,
https://docs.aws.amazon.com/AmazonS3/latest/userguide/storage-inventory.html), decoded with
``unquote_plus`` (right whether a space is written ``+`` or ``%20``; a literal ``+`` is ``%2B``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from s3ledger.core.errors import MalformedRecordError
from s3ledger.core.ledger import ObjectState, version_of
from s3ledger.core.order import normalize_event_time

__all__ = ["InventoryError", "Manifest", "parse_manifest", "row_state"]


class InventoryError(MalformedRecordError):
    """A manifest or an inventory row that is not what S3 Inventory writes."""


@dataclass(frozen=True)
class Manifest:
    source_bucket: str
    destination_bucket: str
    file_format: str
    schema: tuple[str, ...]
    files: tuple[str, ...]
    as_of: str


def parse_manifest(data: bytes, uri: str) -> Manifest:
    """Read and check the bytes of an inventory ``manifest.json`` found at ``uri``."""
    try:
        document = json.loads(data)
        destination = str(document["destinationBucket"])
        millis = int(document["creationTimestamp"])
        manifest = Manifest(
            source_bucket=str(document["sourceBucket"]),
            # "arn:aws:s3:::bucket" in the documented example.
            destination_bucket=destination.rsplit(":", 1)[-1],
            file_format=str(document["fileFormat"]),
            schema=tuple(c.strip() for c in str(document.get("fileSchema", "")).split(",")),
            files=tuple(str(f["key"]) for f in document["files"]),
            as_of=normalize_event_time(datetime.fromtimestamp(millis / 1000, UTC).isoformat()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InventoryError(f"{uri}: not an S3 Inventory manifest ({exc!r})") from exc
    if manifest.file_format not in {"CSV", "Parquet"}:
        raise InventoryError(f"{uri}: fileFormat {manifest.file_format} is not supported")
    if "Key" not in manifest.schema and manifest.file_format == "CSV":
        raise InventoryError(f"{uri}: fileSchema has no Key column")
    return manifest


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def row_state(
    row: tuple[Any, Any, Any, Any, Any, Any], *, encoded: bool, prefix: str, as_of: str
) -> tuple[str, ObjectState] | None:
    """The key and current state one inventory row (key, version id, is latest, is delete
    marker, size, etag) gives, or ``None`` for a row that says nothing about the current state
    (an older version, a delete marker) or whose key is outside ``prefix``. ``encoded``: the key
    is URL-encoded, as in CSV reports."""
    key, version_id, latest, marker, size, etag = row
    if latest is not None and not _truthy(latest):
        return None
    if marker is not None and _truthy(marker):
        return None
    if key in (None, ""):
        raise InventoryError("an inventory row has no key")
    name = unquote_plus(str(key)) if encoded else str(key)
    if not name.startswith(prefix):
        return None
    return name, ObjectState(
        exists=True,
        version_id=version_of(version_id),
        etag=None if etag in (None, "") else str(etag).strip('"'),
        size=None if size in (None, "") else int(size),
        as_of=as_of,
    )

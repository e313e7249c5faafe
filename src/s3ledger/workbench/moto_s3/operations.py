"""What one S3 call did, read from what S3 answers and lists, never from moto's objects: the
response's status, ``x-amz-version-id`` and ``x-amz-delete-marker`` headers (or DeleteObjects'
result document), a HeadObject of the version created, and the key's versions listed before a
removal. Each becomes an :class:`~.records.S3Operation`, as S3 would notify it.
"""

from __future__ import annotations

import datetime
import hashlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from s3ledger.workbench.moto_s3.calls import S3Call
from s3ledger.workbench.moto_s3.identity import S3Request, Sequencer
from s3ledger.workbench.moto_s3.loopback import Loopback, VersionEntry
from s3ledger.workbench.moto_s3.records import (
    CREATED,
    EMPTY_ETAG,
    EXPIRED,
    LIFECYCLE_PRINCIPAL,
    REMOVED,
    S3Operation,
)

__all__ = ["Answer", "Deleted", "OperationReader", "Removal", "objects_to_delete"]

_CREATION_EVENTS: Final = {
    "put": "s3:ObjectCreated:Put",
    "copy": "s3:ObjectCreated:Copy",
    "complete": "s3:ObjectCreated:CompleteMultipartUpload",
    "tag": "s3:ObjectTagging:Put",
    "untag": "s3:ObjectTagging:Delete",
    "acl": "s3:ObjectAcl:Put",
}


@dataclass(frozen=True, slots=True)
class Answer:
    """What the S3 API answered a call: status, headers (lower-case names), body."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        # CompleteMultipartUpload can fail with 200 and an <Error> document.
        return 200 <= self.status < 300 and b"<Error>" not in self.body[:512]


@dataclass(frozen=True, slots=True)
class Deleted:
    """One object a removal call answered as deleted: the version it named, the marker made."""

    key: str
    version_id: str | None
    marker_version_id: str | None

    def answers(self, removal: Removal) -> bool:
        return self.key == removal.key and (
            removal.version_id is None or self.version_id == removal.version_id
        )


@dataclass(frozen=True, slots=True)
class Removal:
    """One object a removal call names, and its versions listed just before the call."""

    key: str
    version_id: str | None
    before: Mapping[str, VersionEntry]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _field(node: ET.Element, name: str) -> str | None:
    for child in node:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return None


def objects_to_delete(document: bytes) -> list[tuple[str, str | None]]:
    """``(key, version id)`` of each ``<Object>`` of a DeleteObjects request, in order."""
    try:
        root = ET.fromstring(document)  # noqa: S314 -- see the import
    except ET.ParseError:
        return []
    found = []
    for node in root:
        if _local(node.tag) == "Object" and (key := _field(node, "Key")) is not None:
            found.append((key, _field(node, "VersionId") or None))
    return found


def _deleted_entries(document: bytes) -> list[Deleted]:
    """DeleteObjects' result: each object deleted, and the delete marker it created (or None)."""
    try:
        root = ET.fromstring(document)  # noqa: S314 -- see the import
    except ET.ParseError:
        return []
    entries = []
    for node in root:
        if _local(node.tag) != "Deleted" or (key := _field(node, "Key")) is None:
            continue
        marker = _field(node, "DeleteMarker") == "true"
        entries.append(
            Deleted(
                key,
                _field(node, "VersionId") or None,
                _field(node, "DeleteMarkerVersionId") if marker else None,
            )
        )
    return entries


def _owner_for(account_id: str) -> str:
    # "Amazon-customer-ID-of-the-bucket-owner" (the documented example: A3NL1KOZZKExample).
    return "A" + hashlib.sha256(account_id.encode()).hexdigest().upper()[:16]


class OperationReader:
    """Turns one answered S3 call into the operations S3 would notify, in the order applied."""

    def __init__(self, loopback: Loopback, sequencer: Sequencer, account_id: str) -> None:
        self._loopback = loopback
        self._sequencer = sequencer
        self._account_id = account_id

    def removals(self, call: S3Call, body: bytes) -> list[Removal]:
        """Before a removal call: the objects it names, each with its versions as listed now."""
        if call.action == "delete":
            named = [(call.key, call.version_id)]
        elif call.action == "delete_objects":
            named = objects_to_delete(body)
        else:
            return []
        listed: dict[str, dict[str, VersionEntry]] = {}
        for key, _ in named:
            if key not in listed:
                listed[key] = self._loopback.versions(call.bucket, key)
        return [Removal(key, version, listed[key]) for key, version in named]

    def operations(
        self,
        call: S3Call,
        request: S3Request,
        answer: Answer,
        removals: list[Removal],
        region: str,
    ) -> list[S3Operation]:
        """What the call did, once it was answered."""
        if not answer.ok:
            return []
        versioned = self._loopback.versioned(call.bucket)
        if call.action in _CREATION_EVENTS:
            return list(self._written(call, request, answer, versioned=versioned, region=region))
        if call.action == "delete":
            marker = None
            if answer.headers.get("x-amz-delete-marker") == "true" and call.version_id is None:
                marker = answer.headers.get("x-amz-version-id", "null")
            (removal,) = removals
            answered = [Deleted(removal.key, removal.version_id, marker)]
            return list(
                self._removed(call, request, removals, answered, region=region, versioned=versioned)
            )
        if call.action == "delete_objects":
            deleted = _deleted_entries(answer.body)
            return list(
                self._removed(call, request, removals, deleted, region=region, versioned=versioned)
            )
        return []

    def _written(
        self, call: S3Call, request: S3Request, answer: Answer, *, versioned: bool, region: str
    ) -> Iterator[S3Operation]:
        event_name = _CREATION_EVENTS[call.action]
        named = call.version_id if call.action in ("tag", "untag", "acl") else None
        version = named or answer.headers.get("x-amz-version-id")
        head = self._loopback.head(call.bucket, call.key, version if versioned else None)
        if head is None:
            return
        if versioned:
            version = str(head.get("VersionId") or version or "null")
        yield self._operation(
            event_name,
            call,
            request,
            region=region,
            version_id=version if versioned else None,
            size=int(head.get("ContentLength", 0)),
            etag=str(head.get("ETag", "")).strip('"') or None,
        )

    def _removed(
        self,
        call: S3Call,
        request: S3Request,
        removals: list[Removal],
        deleted: list[Deleted],
        *,
        region: str,
        versioned: bool,
    ) -> Iterator[S3Operation]:
        prefix = EXPIRED if request.lifecycle else REMOVED
        for removal in removals:
            answer = next((d for d in deleted if d.answers(removal)), None)
            if answer is None:
                continue  # DeleteObjects refused it (or was quiet: see docs/workbench.md)
            marker = answer.marker_version_id
            if marker is not None:
                # One event per operation: on a Suspended bucket the null version the marker
                # replaces goes silently, as the marker's creation is what S3 notifies.
                yield self._operation(
                    prefix + "DeleteMarkerCreated",
                    call,
                    request,
                    region=region,
                    key=removal.key,
                    version_id=marker,
                    etag=EMPTY_ETAG,
                )
                continue
            gone = self._gone(removal, versioned)
            if gone is not None:
                etag = EMPTY_ETAG if gone.is_marker else gone.etag
                version = gone.version_id if versioned else None
                yield self._operation(
                    prefix + "Delete",
                    call,
                    request,
                    region=region,
                    key=removal.key,
                    version_id=version,
                    etag=etag,
                )

    @staticmethod
    def _gone(removal: Removal, versioned: bool) -> VersionEntry | None:
        """The version a removal without a new marker took away, if it was there."""
        if removal.version_id is not None:
            return removal.before.get(removal.version_id)
        if versioned:
            return None  # no marker was made: the key had no version (moto makes none then)
        return next(iter(removal.before.values()), None)

    def _operation(
        self,
        event_name: str,
        call: S3Call,
        request: S3Request,
        *,
        region: str,
        key: str | None = None,
        version_id: str | None = None,
        size: int | None = None,
        etag: str | None = None,
    ) -> S3Operation:
        by_lifecycle = event_name.startswith(EXPIRED)
        removed = by_lifecycle or event_name.startswith(REMOVED)
        return S3Operation(
            event_name=event_name,
            bucket=call.bucket,
            bucket_arn=f"arn:aws:s3:::{call.bucket}",
            region=region,
            key=key if key is not None else call.key,
            event_time=datetime.datetime.now(datetime.UTC),
            request_id=request.request_id,
            host_id=request.host_id,
            principal_id=LIFECYCLE_PRINCIPAL if by_lifecycle else request.principal_id,
            source_ip=LIFECYCLE_PRINCIPAL if by_lifecycle else request.source_ip,
            requester=LIFECYCLE_PRINCIPAL if by_lifecycle else self._account_id,
            owner_id=_owner_for(self._account_id),
            version_id=version_id,
            # AWS's documents disagree on lifecycle expirations: the field's description says
            # the sequencer is "only used with PUTs and DELETEs" (notification-content-structure
            # .html), while the lifecycle examples show one (lifecycle-configure-notification
            # .html, ev-events.html). The workbench sends none: the product must order these
            # events either way, and the case without one is the one that can freeze a key if
            # it is wrong, so it is the one the proof must exercise.
            sequencer=(
                self._sequencer.next()
                if not by_lifecycle and (removed or event_name.startswith(CREATED))
                else None
            ),
            size=None if removed else size,
            etag=etag,
        )

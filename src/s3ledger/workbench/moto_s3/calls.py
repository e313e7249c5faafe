"""Which S3 API call one HTTP request is, read from its method, path, query and headers as S3's
REST API defines them (path-style addressing, which the workbench's clients use). Needs no moto.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qs, unquote

__all__ = ["Action", "S3Call"]

Action = Literal[
    "put",
    "copy",
    "complete",
    "tag",
    "untag",
    "acl",
    "delete",
    "delete_objects",
    "put_notification",
    "get_notification",
    "delete_bucket",
    "other",
]

_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/]+/([^/]+)/aws4_request")
# Object subresources whose PUT, POST or DELETE creates or removes no object.
_NOT_AN_OBJECT_WRITE: Final = frozenset(
    {"uploadId", "partNumber", "uploads", "retention", "legal-hold", "restore", "select"}
)


@dataclass(frozen=True, slots=True)
class S3Call:
    """One S3 request: its bucket and key, what it does, and the version it names."""

    method: str
    bucket: str
    key: str
    action: Action
    version_id: str | None = None

    @property
    def mutating(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")

    @classmethod
    def from_environ(cls, environ: Mapping[str, Any]) -> S3Call | None:
        """The S3 call a WSGI request is, or None if it is not signed for S3 (another service,
        moto's own API, or an unsigned request: those pass through untouched)."""
        if _signed_service(environ) != "s3":
            return None
        raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
        path = raw_path.split("?", 1)[0] if raw_path else str(environ.get("PATH_INFO", ""))
        bucket, _, key = unquote(path).lstrip("/").partition("/")
        query = parse_qs(str(environ.get("QUERY_STRING", "")), keep_blank_values=True)
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        version = query.get("versionId", [None])[0]
        copying = bool(environ.get("HTTP_X_AMZ_COPY_SOURCE"))
        return cls(method, bucket, key, _action(method, key, set(query), copying), version)


def _signed_service(environ: Mapping[str, Any]) -> str | None:
    match = _SCOPE.search(str(environ.get("HTTP_AUTHORIZATION", "")))
    if match is None:
        credential = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential", [""])
        match = _SCOPE.search(f"Credential={credential[0]}")
    return match.group(1) if match else None


# (method, subresource) of an object request -> its action; None: no subresource.
_OBJECT_ACTIONS: Final[dict[tuple[str, str | None], Action]] = {
    ("PUT", None): "put",
    ("DELETE", None): "delete",
    ("PUT", "tagging"): "tag",
    ("DELETE", "tagging"): "untag",
    ("PUT", "acl"): "acl",
}


def _action(method: str, key: str, query: set[str], copying: bool) -> Action:
    if not key:
        return _bucket_action(method, query)
    if query & _NOT_AN_OBJECT_WRITE:
        complete = method == "POST" and "uploadId" in query and "partNumber" not in query
        return "complete" if complete else "other"
    subresources = query - {"versionId"}
    if len(subresources) > 1:
        return "other"
    action = _OBJECT_ACTIONS.get((method, next(iter(subresources), None)), "other")
    return "copy" if action == "put" and copying else action


def _bucket_action(method: str, query: set[str]) -> Action:
    if "notification" in query:
        if method == "PUT":
            return "put_notification"
        return "get_notification" if method == "GET" else "other"
    if method == "POST" and "delete" in query:
        return "delete_objects"
    return "delete_bucket" if method == "DELETE" and not query else "other"

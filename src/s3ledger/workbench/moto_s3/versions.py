"""Versions and delete markers as S3 keeps them: a Suspended bucket's null version, one
mutation at a time, strictly later ``last_modified`` and ``ListObjectVersions``' order and
prefix.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, Final

from s3ledger.workbench.moto_s3.context import (
    _clock,
    _listing_prefix,
    _mutation_lock,
    _removal_notified_by_wrapper,
    _suspended_as_versioned,
)
from s3ledger.workbench.moto_s3.hooks import _Moto
from s3ledger.workbench.moto_s3.notifications import _notify_removal

__all__: list[str] = []

_NULL_VERSION: Final = "null"


def _wrap_put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            bucket = self.get_bucket(bucket_name)
            if bucket.versioning_status != "Suspended":
                return original(self, bucket_name, key_name, *args, **kwargs)
            store = bucket.keys
            versions = list(store.getlist(key_name, None) or ())
            kept = [v for v in versions if str(v.version_id) != _NULL_VERSION]
            if not kept:
                return original(self, bucket_name, key_name, *args, **kwargs)
            nulls = [v for v in versions if str(v.version_id) == _NULL_VERSION]
            # Suspended: moto replaces every version of the key; S3 replaces the null version
            # only (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html).
            # moto replaces what it sees, so it is shown the null version alone and the
            # others are put back underneath the new one (dict's own setter: the store's would
            # append, and its setlist would dispose of what it drops).
            dict.__setitem__(store, key_name, nulls)
            try:
                new_key = original(self, bucket_name, key_name, *args, **kwargs)
            except BaseException:
                dict.__setitem__(store, key_name, versions)
                raise
            dict.__setitem__(store, key_name, kept + list(store.getlist(key_name, None) or ()))
            return new_key

    return put_object


def _wrap_delete_object(moto: _Moto, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        with _mutation_lock:
            bucket = self.get_bucket(bucket_name)
            before = list(bucket.keys.getlist(key_name, None) or ())
            suspended = getattr(bucket, "versioning_status", None) == "Suspended"
            wrapped = _removal_notified_by_wrapper.set(True)
            as_versioned = _suspended_as_versioned.set(suspended)
            try:
                deleted, meta = original(
                    self, bucket_name, key_name, version_id=version_id, bypass=bypass
                )
            finally:
                _suspended_as_versioned.reset(as_versioned)
                _removal_notified_by_wrapper.reset(wrapped)
            if deleted and suspended and version_id is None:
                _make_marker_null(moto, bucket, key_name, meta)
            after = list(bucket.keys.getlist(key_name, None) or ())
            _notify_removal(moto, str(self.account_id), bucket, before, after)
            return deleted, meta

    return delete_object


def _make_marker_null(moto: _Moto, bucket: Any, key_name: str, meta: dict[str, Any]) -> None:
    """On a Suspended bucket the new delete marker is the null version, replacing the old one
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html)."""
    versions = list(bucket.keys.getlist(key_name, None) or ())
    if not versions or not isinstance(versions[-1], moto.delete_marker):
        return
    marker: Any = versions[-1]
    marker._version_id = _NULL_VERSION
    others = [v for v in versions[:-1] if str(v.version_id) != _NULL_VERSION]
    bucket.keys.setlist(key_name, [*others, marker])  # disposes of the old null version
    meta["version-id"] = _NULL_VERSION


def _wrap_is_versioned(original: property) -> property:
    getter = original.fget
    assert getter is not None  # noqa: S101 -- checked by _resolve

    def is_versioned(bucket: Any) -> bool:
        if getter(bucket):
            return True
        return _suspended_as_versioned.get() and bucket.versioning_status == "Suspended"

    return property(is_versioned)


def _wrap_in_context(
    original: Callable[..., Any], flag: contextvars.ContextVar[bool]
) -> Callable[..., Any]:
    """Run ``original`` under the mutation lock with ``flag`` set."""

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            token = flag.set(True)
            try:
                return original(*args, **kwargs)
            finally:
                flag.reset(token)

    return call


def _wrap_locked(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        with _mutation_lock:
            return original(*args, **kwargs)

    return call


def _wrap_list_object_versions(original: Callable[..., Any]) -> Callable[..., Any]:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def list_object_versions(*args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        prefix, key_marker = bound.arguments["prefix"], bound.arguments["key_marker"]
        # Skipping the keys outside the prefix changes nothing moto answers, as long as the key
        # marker (where a page resumes) is itself under the prefix, or absent.
        narrow = bool(prefix) and (key_marker is None or str(key_marker).startswith(prefix))
        token = _listing_prefix.set(str(prefix) if narrow else None)
        try:
            return original(*args, **kwargs)
        finally:
            _listing_prefix.reset(token)

    return list_object_versions


def _wrap_iterlists(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def iterlists(store: Any) -> Iterator[tuple[str, list[Any]]]:
        prefix = _listing_prefix.get()
        if prefix is None:
            return iter(original(store))
        return _lists_under(store, prefix)

    return iterlists


def _lists_under(store: Any, prefix: str) -> Iterator[tuple[str, list[Any]]]:
    # list() copies the names in one step, as moto's own dict(self) does, for other threads.
    for name in [n for n in list(dict.keys(store)) if n.startswith(prefix)]:
        versions = store.getlist(name, None)
        if versions:
            yield name, versions


def _wrap_strictly_later(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.last_modified = _clock.after_previous(self.last_modified)

    return __init__

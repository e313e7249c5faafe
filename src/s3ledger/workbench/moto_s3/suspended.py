"""The hooks on moto's internals that remain: a bucket whose versioning is Suspended keeps its
versions as S3 documents (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersionSuspendedBehavior.html).
moto 5.2.5 replaces every version of the key on a PUT, and drops them all on a DELETE; no
public call can put them back, so this is patched in moto's S3 backend. The repro and the
reasons: docs/workbench.md#what-still-reaches-into-moto.

Every hook is checked before anything is patched: if moto's internals are not those this was
written for, :func:`install_suspended_versioning` raises and the server does not start.
"""

from __future__ import annotations

import contextvars
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Final

__all__ = ["HOOKS", "install_suspended_versioning"]

_NULL_VERSION: Final = "null"
_INSTALLED_MARK: Final = "_s3ledger_suspended_versioning"
# Every attribute replaced, and the leading parameters its wrapper relies on.
_WRAPPED: Final[Mapping[str, tuple[str, ...]]] = {
    "moto.s3.models.S3Backend.put_object": ("self", "bucket_name", "key_name", "value"),
    "moto.s3.models.S3Backend.delete_object": (
        "self",
        "bucket_name",
        "key_name",
        "version_id",
        "bypass",
    ),
}
_IS_VERSIONED: Final = "moto.s3.models.FakeBucket.is_versioned"
HOOKS: Final = (*_WRAPPED, _IS_VERSIONED)
"""Every attribute of moto's S3 that :func:`install_suspended_versioning` replaces."""

# A DeleteObject on a Suspended bucket, which moto treats as unversioned: take its versioned path.
_suspended_as_versioned: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_s3_suspended_as_versioned", default=False
)


def _owner_and_name(path: str) -> tuple[Any, str]:
    """``moto.s3.models.S3Backend.put_object`` -> (the S3Backend class, ``put_object``)."""
    parts = path.split(".")
    try:
        owner: Any = importlib.import_module(".".join(parts[:3]))
    except ImportError:
        owner = None
    for part in parts[3:-1]:
        owner = getattr(owner, part, None)
    return owner, parts[-1]


def _resolve() -> tuple[dict[str, Callable[..., Any]], property, type]:
    """The originals, or raise naming each hook that is not what this was written for."""
    from moto.s3 import models  # noqa: PLC0415 -- only the server process imports moto

    problems: list[str] = []
    originals: dict[str, Callable[..., Any]] = {}
    for path, expected in _WRAPPED.items():
        owner, name = _owner_and_name(path)
        target = getattr(owner, name, None)
        if not callable(target):
            problems.append(f"{path} is missing")
            continue
        parameters = tuple(inspect.signature(target).parameters)
        if parameters[: len(expected)] != expected:
            problems.append(f"{path}{parameters} does not start with {expected}")
            continue
        originals[path] = target
    owner, name = _owner_and_name(_IS_VERSIONED)
    is_versioned = inspect.getattr_static(owner, name, None) if owner is not None else None
    if not isinstance(is_versioned, property) or is_versioned.fget is None:
        problems.append(f"{_IS_VERSIONED} is not a readable property")
    marker = getattr(models, "FakeDeleteMarker", None)
    if not isinstance(inspect.getattr_static(marker, "version_id", None), property):
        problems.append("moto.s3.models.FakeDeleteMarker.version_id is not a property")
    store = _owner_and_name("moto.s3.utils._VersionedKeyStore.getlist")[0]
    for method in ("getlist", "setlist"):
        if not callable(getattr(store, method, None)):
            problems.append(f"moto.s3.utils._VersionedKeyStore.{method} is missing")
    if problems or not isinstance(is_versioned, property) or not isinstance(marker, type):
        raise RuntimeError(
            "moto's S3 is not what s3ledger's Suspended-versioning patch was written for "
            f"(moto 5.2.5): {'; '.join(problems)}"
        )
    return originals, is_versioned, marker


def install_suspended_versioning() -> None:
    """Patch moto's S3 in this process (idempotent); raise RuntimeError naming every hook that
    is not what this patch was written for, before patching anything."""
    from moto.s3 import models  # noqa: PLC0415 -- only the server process imports moto

    if getattr(models, _INSTALLED_MARK, False):
        return
    originals, is_versioned, marker = _resolve()
    replacements: dict[str, Any] = {
        "moto.s3.models.S3Backend.put_object": _wrap_put_object(
            originals["moto.s3.models.S3Backend.put_object"]
        ),
        "moto.s3.models.S3Backend.delete_object": _wrap_delete_object(
            originals["moto.s3.models.S3Backend.delete_object"], marker
        ),
        _IS_VERSIONED: _wrap_is_versioned(is_versioned),
    }
    for path, replacement in replacements.items():
        owner, name = _owner_and_name(path)
        setattr(owner, name, replacement)
    setattr(models, _INSTALLED_MARK, True)


def _wrap_put_object(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def put_object(self: Any, bucket_name: str, key_name: str, *args: Any, **kwargs: Any) -> Any:
        bucket = self.get_bucket(bucket_name)
        if bucket.versioning_status != "Suspended":
            return original(self, bucket_name, key_name, *args, **kwargs)
        store = bucket.keys
        versions = list(store.getlist(key_name, None) or ())
        kept = [v for v in versions if str(v.version_id) != _NULL_VERSION]
        if not kept:
            return original(self, bucket_name, key_name, *args, **kwargs)
        nulls = [v for v in versions if str(v.version_id) == _NULL_VERSION]
        # Suspended: moto replaces every version of the key; S3 replaces the null version only
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/AddingObjectstoVersionSuspendedBuckets.html).
        # moto replaces what it sees, so it is shown the null version alone and the others are
        # put back underneath the new one (dict's own setter: the store's would append, and its
        # setlist would dispose of what it drops). The server applies one mutation at a time.
        dict.__setitem__(store, key_name, nulls)
        try:
            new_key = original(self, bucket_name, key_name, *args, **kwargs)
        except BaseException:
            dict.__setitem__(store, key_name, versions)
            raise
        dict.__setitem__(store, key_name, kept + list(store.getlist(key_name, None) or ()))
        return new_key

    return put_object


def _wrap_delete_object(original: Callable[..., Any], marker_type: type) -> Callable[..., Any]:
    @functools.wraps(original)
    def delete_object(
        self: Any,
        bucket_name: str,
        key_name: str,
        version_id: str | None = None,
        bypass: bool = False,
    ) -> tuple[bool, dict[str, Any]]:
        bucket = self.get_bucket(bucket_name)
        suspended = getattr(bucket, "versioning_status", None) == "Suspended"
        token = _suspended_as_versioned.set(suspended)
        try:
            deleted, meta = original(
                self, bucket_name, key_name, version_id=version_id, bypass=bypass
            )
        finally:
            _suspended_as_versioned.reset(token)
        if deleted and suspended and version_id is None:
            _make_marker_null(bucket, key_name, meta, marker_type)
        return deleted, meta

    return delete_object


def _make_marker_null(bucket: Any, key_name: str, meta: dict[str, Any], marker_type: type) -> None:
    """On a Suspended bucket the new delete marker is the null version, replacing the old one
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectsfromVersioningSuspendedBuckets.html)."""
    versions = list(bucket.keys.getlist(key_name, None) or ())
    if not versions or not isinstance(versions[-1], marker_type):
        return
    marker: Any = versions[-1]
    marker._version_id = _NULL_VERSION
    others = [v for v in versions[:-1] if str(v.version_id) != _NULL_VERSION]
    bucket.keys.setlist(key_name, [*others, marker])  # disposes of the old null version
    meta["version-id"] = _NULL_VERSION


def _wrap_is_versioned(original: property) -> property:
    getter = original.fget
    if getter is None:
        raise RuntimeError(f"{_IS_VERSIONED} is not a readable property")

    def is_versioned(bucket: Any) -> bool:
        if getter(bucket):
            return True
        return _suspended_as_versioned.get() and bucket.versioning_status == "Suspended"

    return property(is_versioned)

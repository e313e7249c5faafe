"""Which parts of moto's S3 the patch replaces, and the check that they are what it was written
for (moto 5.2.5) before anything is patched.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from s3ledger.workbench.moto_s3.records import _COMPLETE_MULTIPART

__all__ = ["HOOKS"]

# Every attribute the patch replaces, and the leading parameters its wrapper relies on.
_WRAPPED: Final[Mapping[str, tuple[str, ...]]] = {
    "moto.s3.responses.S3Response.get_bucket_notification": ("self",),
    "moto.s3.notifications.send_event": ("account_id", "event_name", "bucket", "key"),
    "moto.s3.notifications._get_s3_event": ("event_name", "bucket", "key", "notification_id"),
    "moto.s3.notifications._send_event_bridge_message": (
        "account_id",
        "bucket",
        "event_name",
        "key",
    ),
    "moto.s3.models.S3Backend.put_object": ("self", "bucket_name", "key_name", "value"),
    "moto.s3.models.S3Backend.delete_object": (
        "self",
        "bucket_name",
        "key_name",
        "version_id",
        "bypass",
    ),
    "moto.s3.models.S3Backend.copy_object": (
        "self",
        "src_key",
        "dest_bucket_name",
        "dest_key_name",
    ),
    "moto.s3.models.S3Backend.complete_multipart_upload": (
        "self",
        "bucket_name",
        "multipart_id",
        "body",
    ),
    "moto.s3.models.S3Backend.list_object_versions": (
        "self",
        "bucket_name",
        "delimiter",
        "key_marker",
        "max_keys",
        "prefix",
        "version_id_marker",
    ),
    "moto.s3.responses.S3Response.key_response": ("self", "request", "full_url", "headers"),
    "moto.s3.responses.S3Response.bucket_response": ("self", "request", "full_url", "headers"),
    "moto.s3.models.FakeKey.__init__": ("self", "name", "value"),
    "moto.s3.models.FakeDeleteMarker.__init__": ("self", "key"),
    "moto.s3.utils._VersionedKeyStore.iterlists": ("self",),
}
_IS_VERSIONED: Final = "moto.s3.models.FakeBucket.is_versioned"
HOOKS: Final = (*_WRAPPED, _IS_VERSIONED)
"""Every attribute of moto's S3 that :func:`install_s3_notification_fidelity` replaces."""

# The event types the patch sends itself, which moto must know.
_EVENT_NAMES: Final = (
    "s3:ObjectRemoved:Delete",
    "s3:ObjectRemoved:DeleteMarkerCreated",
    "s3:LifecycleExpiration:Delete",
    "s3:LifecycleExpiration:DeleteMarkerCreated",
    _COMPLETE_MULTIPART,
)


def _owner_and_name(path: str) -> tuple[Any, str]:
    """``moto.s3.models.S3Backend.put_object`` -> (the S3Backend class, ``put_object``)."""
    import importlib  # noqa: PLC0415 -- only the server process imports moto

    parts = path.split(".")
    try:
        owner: Any = importlib.import_module(".".join(parts[:3]))
    except ImportError:
        owner = None
    for part in parts[3:-1]:
        owner = getattr(owner, part, None)
    return owner, parts[-1]


@dataclass(frozen=True, slots=True)
class _Moto:
    """The parts of moto the patch uses, each checked by :func:`_resolve`."""

    notifications: Any
    delete_marker: type
    originals: Mapping[str, Callable[..., Any]]
    is_versioned: property
    detail_type: Callable[[str], str]


def _resolve() -> _Moto:
    """Find every hook, or raise naming each one that is not what this patch was written for."""
    from moto.s3 import models, notifications  # noqa: PLC0415 -- only the server imports moto

    problems: list[str] = []
    originals: dict[str, Callable[..., Any]] = {}
    for path, expected in _WRAPPED.items():
        owner, name = _owner_and_name(path)
        target = getattr(owner, name, None)
        if not callable(target):
            problems.append(f"{path} is missing")
            continue
        try:
            parameters = tuple(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            parameters = ()
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
    if getattr(models, "notifications", None) is not notifications:
        problems.append("moto.s3.models does not notify through moto.s3.notifications")
    detail_type = getattr(notifications, "_detail_type", None)
    if not callable(detail_type):
        problems.append("moto.s3.notifications._detail_type is missing")
    known = {getattr(m, "value", None) for m in getattr(notifications, "S3NotificationEvent", ())}
    problems.extend(
        f"S3NotificationEvent lacks {name}" for name in _EVENT_NAMES if name not in known
    )
    if problems or not isinstance(is_versioned, property) or not isinstance(marker, type):
        raise RuntimeError(
            "moto's S3 is not what s3ledger's notification fidelity was written for "
            f"(moto 5.2.5): {'; '.join(problems)}"
        )
    return _Moto(
        notifications=notifications,
        delete_marker=marker,
        originals=originals,
        is_versioned=is_versioned,
        detail_type=detail_type,  # type: ignore[arg-type]
    )

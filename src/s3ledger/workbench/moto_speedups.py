"""Speed-ups to moto's server, none of which changes what moto answers: SQS's queue counts
skipped where nothing reads them, its attribute names memoised, moto's module list taken once,
werkzeug's access log off, and ListObjectVersions with a prefix deep-copying only that prefix.
So the workbench measures the pipeline rather than moto's bookkeeping. Each hook, what it saved
(measured) and why it cannot change an answer: docs/workbench.md#moto. If moto's internals
differ, each refuses to install and the server does not start, rather than run unpatched.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import Callable, Iterator
from typing import Any, Final

__all__ = [
    "COUNT_PROPERTIES",
    "HOT_PATHS",
    "install_listing_speedup",
    "install_server_speedups",
    "install_sqs_speedups",
]

COUNT_PROPERTIES: Final = (
    "approximate_number_of_messages",
    "approximate_number_of_messages_delayed",
    "approximate_number_of_messages_not_visible",
)
HOT_PATHS: Final = ("send_message", "receive_message")

_LISTING: Final = "moto.s3.models.S3Backend.list_object_versions"
_KEY_LISTS: Final = "moto.s3.utils._VersionedKeyStore.iterlists"

# Per thread of moto's threaded server (each request runs in its own context).
_in_hot_path: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_moto_hot_path", default=False
)
_INSTALLED_MARK: Final = "_s3ledger_speedups"
# ListObjectVersions with a prefix: the key store yields only the keys under it.
_listing_prefix: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "s3ledger_s3_listing_prefix", default=None
)


def _skippable_count(original: property) -> property:
    getter = original.fget
    if getter is None:
        raise RuntimeError("moto's queue count is not a readable property")

    def count(queue: Any) -> int:
        return 0 if _in_hot_path.get() else int(getter(queue))

    return property(count)


def _in_hot_path_call(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = _in_hot_path.set(True)
        try:
            return method(*args, **kwargs)
        finally:
            _in_hot_path.reset(token)

    return call


def install_sqs_speedups() -> None:
    """Patch moto's SQS models in this process (idempotent); raise if they are not as expected."""
    from moto.sqs import models  # noqa: PLC0415 -- moto is imported only by the server process

    queue, backend = models.Queue, models.SQSBackend
    # getattr probes: moto's internals are checked, not assumed, and a mismatch raises below.
    if getattr(queue, _INSTALLED_MARK, False):
        return
    originals = {name: getattr(queue, name, None) for name in COUNT_PROPERTIES}
    methods = {name: getattr(backend, name, None) for name in HOT_PATHS}
    to_snake_case = getattr(models, "camelcase_to_underscores", None)
    if (
        not all(isinstance(p, property) for p in originals.values())
        or not all(callable(m) for m in methods.values())
        or not callable(to_snake_case)
    ):
        raise RuntimeError(
            "moto's SQS models are not those s3ledger's speed-up was written for "
            f"(moto 5.2.5): {sorted(originals)} / {sorted(methods)}"
        )
    for name, original in originals.items():
        setattr(queue, name, _skippable_count(original))  # type: ignore[arg-type]  # checked above
    for name, method in methods.items():
        setattr(backend, name, _in_hot_path_call(method))  # type: ignore[arg-type]  # checked above
    setattr(models, "camelcase_to_underscores", functools.cache(to_snake_case))  # noqa: B010 -- moto does not export it
    setattr(queue, _INSTALLED_MARK, True)


def install_server_speedups() -> None:
    """List moto's modules once, and drop werkzeug's per-request access log (idempotent)."""
    from moto import backends  # noqa: PLC0415 -- moto is imported only by the server process

    # A getattr probe: a moto without this internal raises here rather than misbehaving later.
    listing = getattr(backends, "list_of_moto_modules", None)
    if not callable(listing):
        raise RuntimeError("moto.backends.list_of_moto_modules is not what s3ledger expects")
    if not getattr(listing, _INSTALLED_MARK, False):
        modules = tuple(listing())

        def listed_once() -> tuple[str, ...]:
            return modules

        setattr(listed_once, _INSTALLED_MARK, True)
        setattr(backends, "list_of_moto_modules", listed_once)  # noqa: B010 -- moto's internals
    # werkzeug configures its logger only if its level is unset, so this setting stays.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def install_listing_speedup() -> None:
    """Make ListObjectVersions with a ``Prefix`` deep-copy only the keys under it (idempotent).

    moto 5.2.5 deep-copies every version of the bucket, bodies included, and filters after; on
    a bucket of 5,000 versions of 1 KiB, ``Prefix=<one key>, MaxKeys=10`` took a median 260 ms
    over HTTP, 6 ms with this. The handlers list one key's versions on every removal, so
    without it the workbench's S3 slows as its bucket grows. The answer is the same: the keys
    left out are outside the prefix, and a page resumes at a key marker under the prefix.
    """
    from moto.s3 import models, utils  # noqa: PLC0415 -- only the server process imports moto

    backend, store = models.S3Backend, getattr(utils, "_VersionedKeyStore", None)
    listing, iterlists = (
        getattr(backend, "list_object_versions", None),
        getattr(store, "iterlists", None),
    )
    if getattr(listing, _INSTALLED_MARK, False):
        return
    expected = ("self", "bucket_name", "delimiter", "key_marker", "max_keys", "prefix")
    if (
        not callable(listing)
        or not callable(iterlists)
        or not callable(getattr(store, "getlist", None))
        or tuple(inspect.signature(listing).parameters)[: len(expected)] != expected
    ):
        raise RuntimeError(
            f"moto's {_LISTING} and {_KEY_LISTS} are not those s3ledger's speed-up was "
            "written for (moto 5.2.5)"
        )
    narrowed = _narrowed_listing(listing)
    setattr(narrowed, _INSTALLED_MARK, True)
    setattr(backend, "list_object_versions", narrowed)  # noqa: B010 -- moto's internals
    setattr(store, "iterlists", _lists_under_prefix(iterlists))  # noqa: B010 -- moto's internals


def _narrowed_listing(original: Callable[..., Any]) -> Callable[..., Any]:
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


def _lists_under_prefix(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def iterlists(store: Any) -> Iterator[tuple[str, list[Any]]]:
        prefix = _listing_prefix.get()
        if prefix is None:
            return iter(original(store))
        return _under(store, prefix)

    return iterlists


def _under(store: Any, prefix: str) -> Iterator[tuple[str, list[Any]]]:
    # list() copies the names in one step, as moto's own dict(self) does, for other threads.
    for name in [n for n in list(dict.keys(store)) if n.startswith(prefix)]:
        versions = store.getlist(name, None)
        if versions:
            yield name, versions

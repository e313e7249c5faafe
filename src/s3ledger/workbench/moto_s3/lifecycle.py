"""The client side: :func:`lifecycle_expire` sends a DeleteObject that the workbench's moto notifies
as S3 Lifecycle's expiration. Needs no moto.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Final

from s3ledger.workbench.moto_s3.records import LIFECYCLE_EXPIRATION_HEADER

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import DeleteObjectOutputTypeDef

__all__ = ["lifecycle_expire"]

# Set while lifecycle_expire's DeleteObject is being sent (per thread, so a client shared by
# several threads marks only that call).
_expiring: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "s3ledger_lifecycle_expiring", default=False
)
_LIFECYCLE_HANDLER_ID: Final = "s3ledger-lifecycle-expiration"


def _mark_lifecycle_expiration(request: Any, **_: Any) -> None:
    if _expiring.get():
        request.headers[LIFECYCLE_EXPIRATION_HEADER] = "true"


def lifecycle_expire(
    s3: S3Client, bucket: str, key: str, version_id: str | None = None
) -> DeleteObjectOutputTypeDef:
    """Delete ``key`` (or one version of it) on the workbench as S3 Lifecycle's expiration would.

    The DeleteObject carries :data:`LIFECYCLE_EXPIRATION_HEADER`, added through boto3's event
    system just before signing, so the workbench notifies it as ``LifecycleExpiration:Delete``
    (a version or an unversioned object removed) or ``LifecycleExpiration:DeleteMarkerCreated``.
    On AWS the header means nothing: it would be an ordinary DeleteObject. Needs no moto.
    """
    # unique_id: registering again on the same client is a no-op.
    s3.meta.events.register(
        "before-sign.s3.DeleteObject",
        _mark_lifecycle_expiration,
        unique_id=_LIFECYCLE_HANDLER_ID,
    )
    token = _expiring.set(True)
    try:
        if version_id is None:
            return s3.delete_object(Bucket=bucket, Key=key)
        return s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)
    finally:
        _expiring.reset(token)

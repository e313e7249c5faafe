"""The workbench's S3 notifications, made to look like AWS's: a patch to moto 5.2.5's S3.

moto's S3 notifies object events, but not as AWS does, and the ledger's ordering and delete logic
is exactly what those differences hide. :func:`install_s3_notification_fidelity` patches moto in
the server process (``s3ledger.workbench.moto_main`` calls it) so that:

* every object-event record (SQS, SNS and Lambda destinations alike) has the fields "Event message
  structure" documents (https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-content-structure.html):
  ``s3.object.sequencer``, ``s3.object.versionId`` on versioned buckets, ``userIdentity``,
  ``requestParameters.sourceIPAddress`` and ``responseElements`` (``x-amz-request-id`` and
  ``x-amz-id-2``, "the same as those that Amazon S3 returns in the response to the request that
  initiates the events": the S3 responses now carry both headers);
* sequencers grow per key in the order the operations were applied, under S3's documented rule
  (right-pad the shorter with zeros, then compare as strings). Some are 16 hex digits, some 18,
  so a consumer that left-pads (or compares numerically) orders some pairs the wrong way round,
  as it would on AWS;
* removals are notified as AWS notifies them ("Event notification types",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/notification-how-to-event-types-and-destinations.html;
  "Deleting object versions", https://docs.aws.amazon.com/AmazonS3/latest/userguide/DeletingObjectVersions.html):
  a DeleteObject without a version on a versioned bucket creates a delete marker and sends
  ``ObjectRemoved:DeleteMarkerCreated`` (moto sent nothing); one with a version id sends
  ``ObjectRemoved:Delete`` for that version (moto sent it only when the key's last version went,
  naming the wrong version); DeleteObjects does the same per object;
* one CompleteMultipartUpload sends one ``ObjectCreated:CompleteMultipartUpload`` (moto also sent
  ``ObjectCreated:Put`` and ``ObjectTagging:Put``), and a request that creates an object sends no
  ``ObjectTagging`` event for the tags it was created with;
* a DeleteObject that carries the header :data:`LIFECYCLE_EXPIRATION_HEADER` stands in for S3
  Lifecycle (moto runs no lifecycle rules): it is notified as ``LifecycleExpiration:Delete`` or
  ``LifecycleExpiration:DeleteMarkerCreated``, by ``s3.amazonaws.com``, with ``eventVersion`` 2.3
  ("Configuring S3 Lifecycle event notifications",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/lifecycle-configure-notification.html).
  :func:`lifecycle_expire` sends such a request from any boto3 S3 client;
* EventBridge events ("EventBridge event message structure",
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/ev-events.html) carry the same sequencer
  and request id as the records, a fresh ``id`` (moto sent one constant id), ``version-id`` on
  versioned buckets only, ``etag``, ``size`` (created only), ``requester``, ``source-ip-address``
  (not for lifecycle), the documented ``reason`` (moto sent ``ObjectCreated``) and
  ``deletion-type``; they go to the default event bus only, as S3's do. Their ``time`` reaches a
  target in ISO form (moto keeps it a unix timestamp inside EventBridge and converts it there);
* a bucket whose versioning is Suspended behaves as S3 documents
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/VersionSuspendedBehavior.html): a PUT
  replaces only the ``null`` version, a DELETE without a version replaces it with a ``null``
  delete marker, a DELETE with a version removes that version (moto replaced or dropped every
  version of the key);
* ``ListObjectVersions`` lists one key's versions newest first even if two were written within
  one microsecond (moto sorts by ``last_modified``, so a tie could make the older one
  ``IsLatest``), and with a ``Prefix`` it deep-copies only the keys under that prefix instead of
  every version in the bucket, object bodies included (on a bucket of 5,000 versions of 1 KiB,
  ``Prefix=<one key>, MaxKeys=10`` went from a median 260 ms to 6 ms over HTTP; a listing
  without a prefix is unchanged, about 530 ms).

Every hook is checked before anything is patched: if moto's internals are not those this was
written for, :func:`install_s3_notification_fidelity` raises and the server does not start.

Not covered, because moto's model does not have it: a DeleteObject of a key that does not exist
creates no delete marker (S3 does create one on a versioned bucket), and nothing else of S3
Lifecycle runs. Outside an HTTP request (moto used in-process), ``sourceIPAddress`` is a fixed
``127.0.0.1``.

The package, by concern (moto is imported only when :func:`install_s3_notification_fidelity` runs):

* :mod:`.records`: :class:`S3Operation` and the record and EventBridge event it becomes;
* :mod:`.context`: the sequencer, the clock, the mutation lock and the request being served;
* :mod:`.hooks`: the moto attributes replaced (:data:`HOOKS`) and the check that they fit;
* :mod:`.notifications`: which events are sent and what each says;
* :mod:`.versions`: versions, delete markers, multipart and ``ListObjectVersions``;
* :mod:`.responses`: request ids in S3's responses, and the notification document;
* :mod:`.lifecycle`: :func:`lifecycle_expire`, the client side.
"""

from __future__ import annotations

from typing import Any, Final

from s3ledger.workbench.moto_s3.context import _completing_multipart
from s3ledger.workbench.moto_s3.hooks import _IS_VERSIONED, HOOKS, _owner_and_name, _resolve
from s3ledger.workbench.moto_s3.lifecycle import lifecycle_expire
from s3ledger.workbench.moto_s3.notifications import (
    _wrap_get_s3_event,
    _wrap_send_event,
    _wrap_send_event_bridge_message,
)
from s3ledger.workbench.moto_s3.records import (
    LIFECYCLE_EXPIRATION_HEADER,
    LIFECYCLE_PRINCIPAL,
    S3Operation,
    eventbridge_event,
    s3_record,
)
from s3ledger.workbench.moto_s3.responses import _wrap_get_notification, _wrap_serving
from s3ledger.workbench.moto_s3.versions import (
    _wrap_delete_object,
    _wrap_in_context,
    _wrap_is_versioned,
    _wrap_iterlists,
    _wrap_list_object_versions,
    _wrap_locked,
    _wrap_put_object,
    _wrap_strictly_later,
)

__all__ = [
    "HOOKS",
    "LIFECYCLE_EXPIRATION_HEADER",
    "LIFECYCLE_PRINCIPAL",
    "S3Operation",
    "eventbridge_event",
    "install_s3_notification_fidelity",
    "lifecycle_expire",
    "s3_record",
]


_INSTALLED_MARK: Final = "_s3ledger_notification_fidelity"


def install_s3_notification_fidelity() -> None:
    """Patch moto's S3 in this process (idempotent); raise RuntimeError naming every hook that
    is not what this patch was written for, before patching anything."""
    from moto.s3 import notifications  # noqa: PLC0415 -- only the server process imports moto

    if getattr(notifications, _INSTALLED_MARK, False):
        return
    moto = _resolve()
    o = moto.originals
    replacements: dict[str, Any] = {
        "moto.s3.notifications.send_event": _wrap_send_event(
            moto, o["moto.s3.notifications.send_event"]
        ),
        "moto.s3.notifications._get_s3_event": _wrap_get_s3_event(moto),
        "moto.s3.notifications._send_event_bridge_message": _wrap_send_event_bridge_message(moto),
        "moto.s3.models.S3Backend.put_object": _wrap_put_object(
            o["moto.s3.models.S3Backend.put_object"]
        ),
        "moto.s3.models.S3Backend.delete_object": _wrap_delete_object(
            moto, o["moto.s3.models.S3Backend.delete_object"]
        ),
        "moto.s3.models.S3Backend.copy_object": _wrap_locked(
            o["moto.s3.models.S3Backend.copy_object"]
        ),
        "moto.s3.models.S3Backend.complete_multipart_upload": _wrap_in_context(
            o["moto.s3.models.S3Backend.complete_multipart_upload"], _completing_multipart
        ),
        "moto.s3.models.S3Backend.list_object_versions": _wrap_list_object_versions(
            o["moto.s3.models.S3Backend.list_object_versions"]
        ),
        "moto.s3.responses.S3Response.key_response": _wrap_serving(
            o["moto.s3.responses.S3Response.key_response"]
        ),
        "moto.s3.responses.S3Response.bucket_response": _wrap_serving(
            o["moto.s3.responses.S3Response.bucket_response"]
        ),
        "moto.s3.models.FakeKey.__init__": _wrap_strictly_later(
            o["moto.s3.models.FakeKey.__init__"]
        ),
        "moto.s3.models.FakeDeleteMarker.__init__": _wrap_strictly_later(
            o["moto.s3.models.FakeDeleteMarker.__init__"]
        ),
        "moto.s3.utils._VersionedKeyStore.iterlists": _wrap_iterlists(
            o["moto.s3.utils._VersionedKeyStore.iterlists"]
        ),
        "moto.s3.responses.S3Response.get_bucket_notification": _wrap_get_notification(
            o["moto.s3.responses.S3Response.get_bucket_notification"]
        ),
        _IS_VERSIONED: _wrap_is_versioned(moto.is_versioned),
    }
    for path, replacement in replacements.items():
        owner, name = _owner_and_name(path)
        setattr(owner, name, replacement)
    setattr(notifications, _INSTALLED_MARK, True)

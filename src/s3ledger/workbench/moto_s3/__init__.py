"""The workbench's S3 notifications, made to look like AWS's, sent from what moto's S3 answers.

:class:`~.middleware.S3NotificationMiddleware` sits in front of moto's server: it keeps each
bucket's notification configuration itself (so moto's own notifier, whose records are not
AWS's, never fires), reads what each S3 call did from its answer (status, ``x-amz-version-id``,
``x-amz-delete-marker``, a HeadObject, the key's versions), and sends the record or the
EventBridge event AWS documents. One behaviour has no public trace and is patched in moto's
backend: a bucket whose versioning is Suspended (:mod:`.suspended`). What each part does and
why, field by field, and what still reaches into moto with its repro:
docs/workbench.md#s3-notifications-as-aws-sends-them.

Modules: :mod:`.calls` (which S3 call a request is), :mod:`.identity` (request ids, caller,
sequencer, clock), :mod:`.configuration`, :mod:`.operations`, :mod:`.records` (the record and
the EventBridge event), :mod:`.loopback` (the server's own API), :mod:`.middleware`,
:mod:`.suspended`, :mod:`.lifecycle` (:func:`lifecycle_expire`, the client side). Importing
this package imports no moto.
"""

from __future__ import annotations

from s3ledger.workbench.moto_s3.lifecycle import lifecycle_expire
from s3ledger.workbench.moto_s3.middleware import S3NotificationMiddleware
from s3ledger.workbench.moto_s3.records import (
    LIFECYCLE_EXPIRATION_HEADER,
    LIFECYCLE_PRINCIPAL,
    S3Operation,
    eventbridge_event,
    s3_record,
)
from s3ledger.workbench.moto_s3.suspended import HOOKS, install_suspended_versioning

__all__ = [
    "HOOKS",
    "LIFECYCLE_EXPIRATION_HEADER",
    "LIFECYCLE_PRINCIPAL",
    "S3NotificationMiddleware",
    "S3Operation",
    "eventbridge_event",
    "install_suspended_versioning",
    "lifecycle_expire",
    "s3_record",
]

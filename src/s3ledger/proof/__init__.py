"""The proof harness: real S3 requests, fault injection, the checker, chaos and the demo.

Kept apart from the product: nothing in :mod:`s3ledger.core`, :mod:`s3ledger.pipeline` or
:mod:`s3ledger.operate` imports it.
"""

__all__: list[str] = []

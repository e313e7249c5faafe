"""What runs in the Lambda function: the handlers, the writers (one per mode) and S3 reads.

Ships with :mod:`s3ledger.core` and nothing else (``src/Makefile``); imports only the core.
"""

"""s3ledger: exactly-once S3 object events in two DynamoDB tables."""

__all__ = ["__version__"]

__version__ = "0.1.0"

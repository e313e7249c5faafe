"""A helper over botocore shared by the pipeline and the layers above it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

__all__ = ["error_code"]


def error_code(error: ClientError) -> str:
    """The service's error code (``ConditionalCheckFailedException``, ``NoSuchKey``, ``404``)."""
    return str(error.response.get("Error", {}).get("Code", ""))

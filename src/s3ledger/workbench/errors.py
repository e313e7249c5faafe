"""Errors raised by the local workbench (DynamoDB Local process management).

Every message says what went wrong and what to do about it, in one line.
"""

__all__ = ["MissingDependencyError", "PortInUseError", "WorkbenchError"]


class WorkbenchError(Exception):
    """The local workbench could not do what was asked (e.g. DynamoDB Local did not start)."""


class MissingDependencyError(WorkbenchError):
    """A tool the workbench needs (java, the DynamoDB Local jar) is not installed."""


class PortInUseError(WorkbenchError):
    """The TCP port asked for on 127.0.0.1 is already taken by another process."""

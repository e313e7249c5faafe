"""The proof harness: fault injection, workloads, the checker and reconcile.

Kept apart from the product code: neither ``s3ledger.handlers`` nor ``s3ledger.writers`` import it.
"""

__all__: list[str] = []

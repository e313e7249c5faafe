"""Tests for s3ledger."""

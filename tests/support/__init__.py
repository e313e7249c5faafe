"""Helpers shared by the tests (table set-up, scans, stream reads)."""

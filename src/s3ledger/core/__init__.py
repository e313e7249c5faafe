"""The pure core: event parsing, identity, S3's order, the write plan and the invariants.

No boto3 and no I/O (an import-linter contract in ``pyproject.toml`` enforces it), so every rule
here is tested without an emulator. Ships in the Lambda function.
"""

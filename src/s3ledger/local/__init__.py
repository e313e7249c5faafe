"""Local workbench helpers: Amazon's DynamoDB Local as a subprocess, for tests and demos."""

__all__: list[str] = []

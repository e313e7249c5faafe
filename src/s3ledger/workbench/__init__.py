"""The local workbench: DynamoDB Local and moto's server as subprocesses, provisioned from
``template.yaml``, and the runner that plays Lambda's SQS poller in-process.

Imports the pipeline (it runs the real handler) but never the proof or the benchmark: fault
injection plugs in through the runner's hooks.
"""

__all__: list[str] = []

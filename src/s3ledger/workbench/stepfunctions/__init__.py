"""A stand-in for Step Functions on the workbench: it runs ``template.yaml``'s own bulk state
machine (Distributed Maps over a listing or an S3 Inventory manifest, ``ItemBatcher``,
``MaxConcurrency``, tolerated failures, ``ResultWriter``), calls the bulk handler in-process as
Lambda would, and serves the Step Functions API the CLI uses on 127.0.0.1.

moto's own state-machine interpreter reads no S3 Inventory manifest (``MANIFEST``) and needs
Docker for Lambda tasks; this stand-in plays Step Functions as the runner
(:mod:`s3ledger.workbench.runner`) plays Lambda's SQS poller. What it does not model:
docs/workbench.md.
"""

from s3ledger.workbench.stepfunctions.paths import StatesError, UnsupportedDefinition
from s3ledger.workbench.stepfunctions.service import StepFunctionsService
from s3ledger.workbench.stepfunctions.spec import BulkSpec, load_bulk_spec
from s3ledger.workbench.stepfunctions.standin import BulkStandIn

__all__ = [
    "BulkSpec",
    "BulkStandIn",
    "StatesError",
    "StepFunctionsService",
    "UnsupportedDefinition",
    "load_bulk_spec",
]

"""One running pipeline on the workbench: resources from the template, and a runner on its queue."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from s3ledger.core.config import Mode, Settings, parse_mode
from s3ledger.pipeline.bucket import S3VersionsReader
from s3ledger.pipeline.handlers import Handler
from s3ledger.pipeline.writers import CountingMetrics, MetricsSink
from s3ledger.workbench.dynamodb_local import dynamodb_client
from s3ledger.workbench.faults import DynamoDBFaults
from s3ledger.workbench.metrics import CloudWatchMetrics
from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.provision import Resources, provision, route_s3_events_to_queue
from s3ledger.workbench.runner import (
    ExecutionEnvironment,
    InvocationHook,
    LocalRunner,
    RunnerSettings,
)
from s3ledger.workbench.stack import StackBody, create_workbench_stack, workbench_stack_body
from s3ledger.workbench.stepfunctions.standin import BulkStandIn, start_bulk_standin
from s3ledger.workbench.template import (
    DEFAULT_STACK_NAME,
    PipelineSpec,
    load_pipeline_spec,
    load_template,
)
from s3ledger.workbench.workbench import Workbench

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

__all__ = ["Session", "environment_factory", "queue_arn", "start_runner", "start_session"]


@dataclass
class Session:
    """A running pipeline: its stack (``stack_name`` in moto's CloudFormation, without the
    template's outputs and resources named in ``left_out``) and the runner on its queue."""

    mode: Mode
    workbench: Workbench
    resources: Resources
    runner: LocalRunner
    stack_name: str = DEFAULT_STACK_NAME
    left_out: tuple[str, ...] = ()
    # The bulk state machine's stand-in and its API endpoint (--engine stepfunctions).
    bulk: BulkStandIn | None = None
    bulk_endpoint: str = ""

    @property
    def aws_endpoint(self) -> str:
        return self.workbench.aws_endpoint

    def environment(self) -> dict[str, str]:
        """The variables that point the AWS CLI, the SDKs and ``s3ledger``'s commands here."""
        variables = {**self.workbench.env(self.resources), "S3LEDGER_STACK": self.stack_name}
        if self.bulk is not None:
            variables["AWS_ENDPOINT_URL_SFN"] = self.bulk_endpoint
            variables["S3LEDGER_STATE_MACHINE_ARN"] = self.bulk.state_machine_arn
        return variables


def queue_arn(sqs: SQSClient, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def environment_factory(
    dynamodb_endpoint: str,
    settings: Settings,
    metrics: MetricsSink | None = None,
    environments: list[ExecutionEnvironment] | None = None,
    *,
    aws_endpoint: str | None = None,
    fault_hooks: bool = False,
) -> Callable[[int], ExecutionEnvironment]:
    """Build each worker's sandbox: its own clients and pipeline.

    ``aws_endpoint`` is the workbench's S3, where the handler reads an object's state after a
    version was removed (``None``: boto3's own endpoint variables decide). ``fault_hooks``
    attaches ``DynamoDBFaults`` (the proof harness's injector, which also records every call):
    the demo and chaos want it; ``s3ledger up`` runs the product as is.
    """

    def build(index: int) -> ExecutionEnvironment:
        client = dynamodb_client(dynamodb_endpoint)
        faults = DynamoDBFaults(client) if fault_hooks else None
        reader = (
            S3VersionsReader(lambda: aws_client("s3", aws_endpoint))
            if aws_endpoint is not None
            else None
        )
        pipeline = Handler(settings, client, metrics or CountingMetrics(), reader)
        environment = ExecutionEnvironment(pipeline=pipeline, faults=faults, index=index)
        if environments is not None:
            environments.append(environment)
        return environment

    return build


def start_runner(
    spec: PipelineSpec,
    resources: Resources,
    *,
    dynamodb_endpoint: str,
    aws_endpoint: str,
    sqs_factory: Callable[[], SQSClient],
    workers: int,
    metrics: MetricsSink | None = None,
    environments: list[ExecutionEnvironment] | None = None,
    before_invoke: InvocationHook | None = None,
    fault_hooks: bool = False,
) -> LocalRunner:
    """A runner on ``resources``' queue, with batch size and timeout from the template."""
    settings = resources.settings(parse_mode(spec.parameters.get("Mode", "inbox")))
    runner = LocalRunner(
        RunnerSettings(
            queue_url=resources.queue_url,
            queue_arn=queue_arn(sqs_factory(), resources.queue_url),
            batch_size=spec.function.batch_size,
            function_timeout=spec.function.timeout,
            workers=workers,
            function_name=f"{spec.stack_name}-local",
        ),
        sqs_factory,
        environment_factory(
            dynamodb_endpoint,
            settings,
            metrics,
            environments,
            aws_endpoint=aws_endpoint,
            fault_hooks=fault_hooks,
        ),
        before_invoke=before_invoke,
    )
    return runner.start()


def _describe_as_stack(
    workbench: Workbench,
    spec: PipelineSpec,
    resources: Resources,
    runner: LocalRunner,
    *,
    parameters: Mapping[str, str],
    bulk: BulkStandIn,
) -> StackBody:
    """Create the stack that describes this pipeline in moto (:mod:`s3ledger.workbench.stack`)."""
    body = workbench_stack_body(
        load_template(overrides=parameters, stack_name=spec.stack_name),
        spec,
        resources,
        function_name=runner.settings.function_name,
        queue_arn=runner.settings.queue_arn,
        dlq_arn=queue_arn(workbench.sqs(), resources.dlq_url),
        also_made={
            "BulkStateMachine": bulk.state_machine_arn,
            "BulkResultsBucket": bulk.results_bucket,
            "BulkFunction": bulk.spec.function_name,
        },
    )
    create_workbench_stack(workbench.cloudformation(), spec.stack_name, body)
    return body


def _provision_with_attach_route(
    workbench: Workbench, spec: PipelineSpec, *, exist_ok: bool
) -> Resources:
    """What ``template.yaml`` declares, and the EventBridge rule through which buckets attached
    with ``s3ledger attach`` feed this pipeline."""
    resources = provision(
        workbench.dynamodb(), workbench.s3(), workbench.sqs(), spec, exist_ok=exist_ok
    )
    route_s3_events_to_queue(
        workbench.events(), resources.queue_url, workbench.sqs(), "s3ledger-attached"
    )
    return resources


def _metrics_for(workbench: Workbench, spec: PipelineSpec, stack_name: str) -> CloudWatchMetrics:
    """The handlers' metrics to moto's CloudWatch, in the namespace and under the service the
    template gives the function."""
    variables = spec.function.environment
    return CloudWatchMetrics(
        workbench.cloudwatch(),
        namespace=variables.get("POWERTOOLS_METRICS_NAMESPACE", "s3ledger"),
        service=variables.get("POWERTOOLS_SERVICE_NAME", stack_name),
    )


@contextmanager
def start_session(
    *,
    mode: Mode | None = None,
    workers: int = 2,
    dynamodb_port: int = 8000,
    aws_port: int = 4566,
    data_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    stack_name: str = DEFAULT_STACK_NAME,
) -> Iterator[Session]:
    """Start the workbench, provision what ``template.yaml`` declares, run the handler on it.

    ``stack_name`` stands for the stack's name, from which the template derives the table names
    (``<stack_name>-ledger``, ...) unless ``overrides`` names them; a stack of that name in
    moto's CloudFormation describes the pipeline (:mod:`s3ledger.workbench.stack`), and the
    handlers' metrics go to moto's CloudWatch under that service name, as on AWS.
    """
    parameters = {**(overrides or {}), **({"Mode": mode} if mode is not None else {})}
    spec = load_pipeline_spec(overrides=parameters, stack_name=stack_name)
    with Workbench(dynamodb_port=dynamodb_port, aws_port=aws_port, data_dir=data_dir) as workbench:
        resources = _provision_with_attach_route(workbench, spec, exist_ok=data_dir is not None)
        metrics = _metrics_for(workbench, spec, stack_name)
        runner = start_runner(
            spec,
            resources,
            dynamodb_endpoint=workbench.dynamodb_endpoint,
            aws_endpoint=workbench.aws_endpoint,
            sqs_factory=workbench.sqs,
            workers=workers,
            metrics=metrics,
        )
        bulk = start_bulk_standin(
            workbench.dynamodb_endpoint,
            workbench.aws_endpoint,
            ledger_table=resources.ledger_table,
            audit_table=resources.audit_table,
            overrides=parameters,
            stack_name=stack_name,
        )
        try:
            body = _describe_as_stack(
                workbench, spec, resources, runner, parameters=parameters, bulk=bulk
            )
            metrics.start()
            yield Session(
                parse_mode(spec.parameters["Mode"]),
                workbench,
                resources,
                runner,
                stack_name=stack_name,
                left_out=body.left_out,
                bulk=bulk,
                bulk_endpoint=bulk.serve(),
            )
        finally:
            bulk.close()
            runner.stop()
            metrics.stop()  # after the runner: its last invocations' metrics are sent too

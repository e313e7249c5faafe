"""``s3ledger backfill|reconcile --engine stepfunctions`` as a user runs it: the real command in
a subprocess, against the bulk stand-in's HTTP API (served here, or by ``s3ledger up``)."""

from __future__ import annotations

import json
import queue
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from s3ledger.workbench.moto_process import aws_client
from s3ledger.workbench.stepfunctions.standin import BulkStandIn, start_bulk_standin
from tests.e2e.test_cli import ROOT, UpProcess, base_env, run_cli, table_env, up
from tests.e2e.test_reconcile import Rig
from tests.support.tables import TableNames, create_tables, delete_tables, scan_all
from tests.support.waiting import wait_for

__all__ = ["up"]


def make_standin(
    rig: Rig, dynamodb_endpoint: str, aws_endpoint: str, **overrides: str
) -> Iterator[BulkStandIn]:
    standin = start_bulk_standin(
        dynamodb_endpoint,
        aws_endpoint,
        ledger_table=rig.tables.ledger,
        audit_table=rig.tables.audit,
        overrides=overrides,
        results_bucket=f"results-{uuid.uuid4().hex[:8]}",
    )
    try:
        yield standin
    finally:
        standin.close()


def cli_env(
    rig: Rig, dynamodb_endpoint: str, aws_endpoint: str, standin: BulkStandIn
) -> dict[str, str]:
    """What ``s3ledger up`` would export for this rig: endpoints, tables, the state machine."""
    tables = TableNames(rig.tables.ledger, rig.tables.audit, "unused")
    return {
        **table_env(dynamodb_endpoint, tables),
        "AWS_ENDPOINT_URL_S3": aws_endpoint,
        "AWS_ENDPOINT_URL_SFN": standin.serve(),
        "S3LEDGER_STATE_MACHINE_ARN": standin.state_machine_arn,
        "S3LEDGER_BUCKET": rig.bucket,
    }


@pytest.mark.slow
def test_the_engines_print_the_same_summary_keys(
    plain_rig: Rig, dynamodb_endpoint: str, aws_endpoint: str, tmp_path: Path
) -> None:
    """``backfill`` and ``reconcile`` print the same --json keys on both engines, and the two
    backfills (into two sets of tables) count the same objects."""
    rig = plain_rig
    for i in range(40):
        rig.put(f"k{i % 4}/{i:02d}", b"x" * i)
    gen = make_standin(rig, dynamodb_endpoint, aws_endpoint)
    standin = next(gen)
    other = create_tables(rig.dynamodb)  # the local engine's, apart from the rig's
    try:
        env = cli_env(rig, dynamodb_endpoint, aws_endpoint, standin)
        remote = run_cli("backfill", "--engine", "stepfunctions", "--json", env=env)
        assert remote.returncode == 0, remote.stderr
        local_env = {**env, "S3LEDGER_LEDGER_TABLE": other.ledger,
                     "S3LEDGER_AUDIT_TABLE": other.audit}  # fmt: skip
        checkpoint = tmp_path / "checkpoint.json"
        local = run_cli("backfill", "--json", "--checkpoint", checkpoint, env=local_env)
        assert local.returncode == 0, local.stderr
        ours, theirs = json.loads(remote.stdout), json.loads(local.stdout)
        assert ours.keys() == theirs.keys()
        assert ours["objects_written"] == theirs["objects_written"] == 40, (ours, theirs)
        assert "started arn:aws:states:" in remote.stderr

        checks = [
            run_cli("reconcile", *engine, "--settle", "0", "--json", env=env)
            for engine in (("--engine", "stepfunctions"), ())
        ]
        assert all(c.returncode == 0 for c in checks), [c.stderr for c in checks]
        ours, theirs = (json.loads(c.stdout) for c in checks)
        assert ours.keys() == theirs.keys()
        assert ours["discrepancies"] == theirs["discrepancies"] == 0
        assert ours["ledger_items_checked"] == theirs["ledger_items_checked"] == 40
    finally:
        gen.close()
        delete_tables(rig.dynamodb, other)


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ctrl_c_leaves_the_run_going_and_says_how_to_follow_it(
    plain_rig: Rig, dynamodb_endpoint: str, aws_endpoint: str
) -> None:
    """Ctrl-C while following: exit 130 and a line naming the execution; the run goes on, and
    ``--execution ARN`` follows it to its end and prints its report."""
    rig = plain_rig
    for i in range(120):
        rig.put(f"slow/{i:03d}", b"x")
    gen = make_standin(
        rig, dynamodb_endpoint, aws_endpoint, BulkMaxConcurrency="1", BulkItemsPerBatch="3"
    )
    standin = next(gen)
    try:
        env = cli_env(rig, dynamodb_endpoint, aws_endpoint, standin)
        process = subprocess.Popen(
            [sys.executable, "-m", "s3ledger.cli", "backfill", "--engine", "stepfunctions"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stderr is not None
        started = process.stderr.readline()
        assert started.startswith("started arn:aws:states:"), started
        arn = started.split()[1]
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130, stderr
        assert f"--execution {arn}" in stderr
        assert standin.service.execution(arn).status == "RUNNING"

        followed = run_cli(
            "backfill", "--engine", "stepfunctions", "--execution", arn, "--json", env=env,
            timeout=150,
        )  # fmt: skip
        assert followed.returncode == 0, followed.stderr
        report = json.loads(followed.stdout)
        assert (report["objects_seen"], report["objects_written"]) == (120, 120)
        assert report["units"] == 40  # batches of 3
    finally:
        gen.close()


def read_all_exports(running: UpProcess, names: set[str], timeout: float) -> dict[str, str]:
    exports: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    while not exports.keys() >= names:
        line = running.lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        assert line is not None, running.stderr()
        name, _, value = line.removeprefix("export ").partition("=")
        exports[name] = value
    return exports


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_up_exports_the_bulk_engine_and_the_cli_runs_on_it(
    up: Callable[..., UpProcess],
) -> None:
    """``s3ledger up`` exports the bulk engine's endpoint and state machine; with those lines
    pasted, backfill and reconcile --engine stepfunctions run against the live pipeline: every
    object its events brought in is already there, nothing to write, nothing to repair."""
    running = up()
    try:
        exports = read_all_exports(
            running, {"AWS_ENDPOINT_URL_SFN", "S3LEDGER_STATE_MACHINE_ARN", "S3LEDGER_BUCKET"}, 60
        )
    except queue.Empty:
        pytest.fail(f"no bulk exports; stderr:\n{running.stderr()}")
    assert exports["AWS_ENDPOINT_URL_SFN"].startswith("http://127.0.0.1:")
    s3 = aws_client("s3", exports["AWS_ENDPOINT_URL_S3"])
    for i in range(12):
        s3.put_object(Bucket=exports["S3LEDGER_BUCKET"], Key=f"up/{i:02d}", Body=b"x")
    dynamodb = aws_client("dynamodb", exports["AWS_ENDPOINT_URL_DYNAMODB"])
    assert wait_for(
        lambda: len(list(scan_all(dynamodb, exports["S3LEDGER_LEDGER_TABLE"]))) == 12, timeout=60
    ), "the pipeline did not record the 12 objects"
    env = {**base_env(), **exports}
    fill = run_cli("backfill", "--engine", "stepfunctions", "--json", env=env)
    assert fill.returncode == 0, fill.stderr
    assert json.loads(fill.stdout)["already_in_ledger"] == 12
    check = run_cli("reconcile", "--engine", "stepfunctions", "--settle", "0", "--json", env=env)
    assert check.returncode == 0, check.stderr
    assert json.loads(check.stdout)["discrepancies"] == 0

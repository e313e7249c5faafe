"""What ``sam build`` bundles (``src/Makefile``, target ``build-LedgerFunction``) runs the handler.

The target is run as SAM runs it, with ``ARTIFACTS_DIR``; then a fresh interpreter, isolated
from this virtualenv (``-I -S``), imports the handlers and every write mode's module from the
artifact plus only what the Lambda Python runtime provides (boto3, botocore and their
dependencies).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import botocore
import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the Lambda Python runtime ships beside the function's code.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "urllib3", "dateutil", "six.py")

PROBE = """
import sys
sys.path[:0] = [{artifact!r}, {runtime!r}]
import s3ledger.pipeline.handlers as handlers
from s3ledger.pipeline.writers import inbox, inbox_batch, naive, transact, powertools
assert callable(handlers.sqs_handler) and callable(handlers.eventbridge_handler)
assert handlers.__file__.startswith({artifact!r}), handlers.__file__
import s3ledger.pipeline.bulk.handler as bulk  # the bulk function's, from the same artifact
assert callable(bulk.bulk_handler)
from s3ledger import Settings, ledger_writer, parse_sqs_batch  # the library's facade ships too
workbench_only = {{"rich", "moto", "matplotlib", "hypothesis", "yaml"}} & set(sys.modules)
assert not workbench_only, workbench_only
print("ok")
"""


@pytest.mark.slow
def test_the_built_artifact_runs_the_handler_with_the_runtimes_packages_only(
    tmp_path: Path,
) -> None:
    artifact = tmp_path / "artifact"
    make = shutil.which("make")
    assert make is not None, "make is needed to build the artifact"
    subprocess.run(  # noqa: S603 - make with a fixed target, our own interpreter's pip
        [
            make,
            "-C",
            str(ROOT / "src"),
            "build-LedgerFunction",
            f"ARTIFACTS_DIR={artifact}",
            f"PIP={sys.executable} -m pip",
        ],
        check=True,
        capture_output=True,
        timeout=240,
    )
    assert (artifact / "s3ledger" / "pipeline" / "handlers.py").is_file()
    # Only the core and the pipeline ship: no operator, workbench, proof, bench or CLI code.
    shipped = {path.name for path in (artifact / "s3ledger").iterdir() if path.is_dir()}
    assert shipped == {"core", "pipeline"}, shipped
    assert (artifact / "aws_lambda_powertools").is_dir()
    assert not (artifact / "botocore").exists()  # the runtime provides it

    runtime = tmp_path / "runtime"
    runtime.mkdir()
    site = Path(botocore.__file__).resolve().parents[1]
    for name in RUNTIME_PACKAGES:
        os.symlink(site / name, runtime / name)
    probe = PROBE.format(artifact=str(artifact), runtime=str(runtime))
    result = subprocess.run(  # noqa: S603 - our own interpreter, a fixed probe
        [sys.executable, "-I", "-S", "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"

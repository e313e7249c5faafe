"""The CLI as a user installs it: a wheel built from this checkout, ``pip install``-ed into a
fresh virtualenv and run from a folder outside the checkout.

pip resolves the wheel's own requirements, with the project's ``constraints.txt``, offline, from
wheels of the distributions this virtualenv already has (:mod:`tests.support.wheelhouse`), so the
installed CLI runs exactly the pinned versions. DynamoDB Local is fetched on first use into the
per-user cache (``$XDG_CACHE_HOME``, a fresh folder here), as for a new user: pinned and checksum
verified (npm's own cache answers the download).
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from s3ledger.workbench.fetch import JAR_NAME, user_cache_home
from s3ledger.workbench.moto_process import aws_client
from tests.e2e.test_cli import UpProcess, base_env, endpoints_only, one_error_line, up
from tests.support.waiting import wait_for
from tests.support.wheelhouse import ROOT, wheelhouse

__all__ = ["up"]  # the fixture, shared with test_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel and its dependencies' (workbench extra included), made offline."""
    return wheelhouse(tmp_path_factory.mktemp("wheelhouse"), ["workbench"])


def install(wheels: Path, into: Path, requirement: str) -> Path:
    """A fresh virtualenv at ``into`` with ``requirement`` pip-installed from ``wheels``; its
    ``bin`` folder."""
    subprocess.run([sys.executable, "-m", "venv", str(into)], check=True, timeout=120)  # noqa: S603 -- fixed argv
    pip = [str(into / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-compile"]
    offline = ["--no-index", "--find-links", str(wheels), "-c", str(ROOT / "constraints.txt")]
    subprocess.run(  # noqa: S603 - the new virtualenv's pip, fixed arguments
        [*pip, *offline, requirement],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return into / "bin"


def run(
    bin_dir: Path, *args: str, env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the installed console script, fixed arguments
        [str(bin_dir / "s3ledger"), *args],
        env=dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_installed_cli_runs_the_workbench_outside_the_checkout(
    wheels: Path, tmp_path: Path, up: Callable[..., UpProcess]
) -> None:
    """From a folder outside the checkout, the installed ``s3ledger up`` fetches DynamoDB Local
    into the user's cache and runs the pipeline from the template shipped in the wheel; an
    upload is applied, and ``status``, ``history``, ``check`` and ``reconcile`` find it with
    ``--stack`` alone."""
    bin_dir = install(wheels, tmp_path / "venv", "s3ledger[workbench]")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = subprocess.run(  # noqa: S603 - the new virtualenv's interpreter
        [str(bin_dir / "python"), "-c", "import s3ledger; print(s3ledger.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(tmp_path / "venv")), where
    env = {**base_env(), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    running = up(command=[str(bin_dir / "s3ledger")], cwd=elsewhere, env=env)
    exports = running.read_exports(timeout=180)
    fetched = tmp_path / "cache" / "s3ledger" / user_cache_home().name / JAR_NAME
    assert fetched.is_file(), running.stderr()

    s3 = aws_client("s3", exports["AWS_ENDPOINT_URL_S3"])
    s3.put_object(Bucket=exports["S3LEDGER_BUCKET"], Key="q3/report.csv", Body=b"a,b\n")
    operator_env = {**endpoints_only(exports), "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def status() -> subprocess.CompletedProcess[str]:
        args = ("status", "--stack", "s3ledger", "--json")
        return run(bin_dir, *args, env=operator_env, cwd=elsewhere)

    assert wait_for(lambda: '"applied": 1' in status().stdout, timeout=30, interval=1.0), (
        running.stderr()
    )
    assert status().returncode == 0
    history = run(
        bin_dir,
        "history",
        "q3/report.csv",
        "--stack",
        "s3ledger",
        "--json",
        env=operator_env,
        cwd=elsewhere,
    )
    assert history.returncode == 0, history.stderr
    events = json.loads(history.stdout)["events"]
    assert [(e["event_name"], e["outcome"]) for e in events] == [("ObjectCreated:Put", "applied")]
    check = run(bin_dir, "check", "--stack", "s3ledger", "--json", env=operator_env, cwd=elsewhere)
    assert check.returncode == 0, check.stderr
    assert '"anomalies_total": 0' in check.stdout
    assert '"ledger_items": 1' in check.stdout
    reconcile = run(
        bin_dir, "reconcile", "--stack", "s3ledger", "--json", env=operator_env, cwd=elsewhere
    )
    assert reconcile.returncode == 0, reconcile.stderr
    assert f'"bucket": "{exports["S3LEDGER_BUCKET"]}"' in reconcile.stdout

    running.process.send_signal(signal.SIGINT)
    assert running.process.wait(timeout=30) == 0, running.stderr()


def test_without_the_workbench_extra_a_command_names_the_extra_to_install(
    wheels: Path, tmp_path: Path
) -> None:
    """Installed without extras (the library and the handlers), ``s3ledger --help`` works and
    ``up`` or ``bench`` exits 2 with one line naming the extra to install, no traceback."""
    bin_dir = install(wheels, tmp_path / "venv", "s3ledger")
    env, cwd = base_env(), tmp_path

    assert run(bin_dir, "--help", env=env, cwd=cwd).returncode == 0
    for command in ("up", "bench"):
        result = run(bin_dir, command, env=env, cwd=cwd)
        assert result.returncode == 2, result.stderr
        line = one_error_line(result.stderr)
        assert f"`s3ledger {command}` needs the 'workbench' extra" in line
        assert "pip install 's3ledger[workbench]'" in line

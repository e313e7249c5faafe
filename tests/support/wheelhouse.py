"""A wheel of the project, and a wheelhouse of its dependencies made offline from this
virtualenv, so a test can ``pip install --no-index`` it into a fresh virtualenv as a user would.

Every dependency is already installed here, at the version ``constraints.txt`` pins; pip keeps
each installed distribution's files listed in its ``RECORD`` and its ``WHEEL`` tags, which is all
a wheel is. :func:`repack` zips them back into a wheel (files installed outside site-packages,
such as console scripts, are left out: pip makes them again from ``entry_points.txt``).
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import subprocess
import sys
import zipfile
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.tags import sys_tags
from packaging.utils import canonicalize_name

__all__ = ["build_project_wheel", "dependency_closure", "repack", "wheelhouse"]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "s3ledger"


def build_project_wheel(into: Path) -> Path:
    """``pip wheel`` the checkout, offline: the virtualenv has the build backend's pinned
    setuptools, so no isolated build environment needs fetching."""
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(  # noqa: S603 - this interpreter's pip, fixed arguments
        [*command, "--no-index", "--quiet", "--wheel-dir", str(into), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (wheel,) = into.glob(f"{PROJECT}-*.whl")
    return wheel


def dependency_closure(extras: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions ``s3ledger[extras]`` needs, transitively (not s3ledger)."""
    wanted: dict[str, metadata.Distribution] = {}
    pending = [(PROJECT, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, chosen = pending.pop()
        if (name, chosen) in seen:
            continue
        seen.add((name, chosen))
        distribution = metadata.distribution(name)
        if canonicalize_name(name) != PROJECT:
            wanted[canonicalize_name(name)] = distribution
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            applies = marker is None or any(
                marker.evaluate({**default_environment(), "extra": extra})
                for extra in (chosen or {""})
            )
            if applies:
                pending.append((requirement.name, frozenset(requirement.extras)))
    return list(wanted.values())


def _record_line(name: str, data: bytes) -> list[str]:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return [name, f"sha256={digest}", str(len(data))]


def repack(distribution: metadata.Distribution, into: Path) -> Path:
    """One installed distribution as a wheel in ``into``."""
    files = [f for f in distribution.files or [] if not str(f).startswith("..")]
    dist_info = next(str(f).split("/")[0] for f in files if str(f).endswith(".dist-info/WHEEL"))
    tags = [
        line.split(":", 1)[1].strip()
        for line in (distribution.read_text("WHEEL") or "").splitlines()
        if line.startswith("Tag:")
    ]
    name = dist_info.removesuffix(".dist-info")
    # A tag this interpreter installs (py2-none-any may come first in a py2.py3 wheel's list).
    supported = {str(tag) for tag in sys_tags()}
    tag = next(tag for tag in tags if tag in supported)
    wheel = into / f"{name}-{tag}.whl"
    skipped = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}
    rows: list[list[str]] = []
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_STORED) as archive:
        for path in files:
            text = str(path)
            if "__pycache__" in path.parts or (
                text.startswith(f"{dist_info}/") and path.name in skipped
            ):
                continue
            data = Path(str(distribution.locate_file(path))).read_bytes()
            archive.writestr(text, data)
            rows.append(_record_line(text, data))
        listing = io.StringIO()
        csv.writer(listing, lineterminator="\n").writerows([*rows, [f"{dist_info}/RECORD", "", ""]])
        archive.writestr(f"{dist_info}/RECORD", listing.getvalue())
    return wheel


def wheelhouse(into: Path, extras: Iterable[str]) -> Path:
    """A folder with the project's wheel and a wheel of each of its installed dependencies."""
    into.mkdir(parents=True, exist_ok=True)
    build_project_wheel(into)
    for distribution in dependency_closure(extras):
        repack(distribution, into)
    return into

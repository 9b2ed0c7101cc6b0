#!/usr/bin/env bash
# `make drill TARGET=twin`: the AWS path end to end on this machine. Starts
# the AWS twin (an AWS API endpoint on 127.0.0.1 over a lab), attaches the
# unchanged AWS target to it through AWS_ENDPOINT_URL and the twin's
# flat-outputs.json, runs the scenarios the twin models, and always stops
# the twin. Extra arguments go to `drdrill drill` (e.g. --reports DIR).
set -euo pipefail
BUILD=${BUILD:-build}
dir=$(mktemp -d "${TMPDIR:-/tmp}/drdrill-twin-XXXXXX")
trap '"$BUILD/drdrill" twin down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$dir"' EXIT
"$BUILD/drdrill" twin up --dir "$dir" --time-scale "${DRDRILL_TWIN_TIME_SCALE:-0.02}"
set -a
# shellcheck disable=SC1091
. "$dir/twin.env"
set +a
# The AWS scenarios (docs/twin.md); the lab-only ones would skip.
labels=${LABELS:-"steady-state || planned-switchover || failback || region-isolation || alarm-path || monitor-failure"}
"$BUILD/drdrill" drill --outputs "$dir/flat-outputs.json" --labels "$labels" "$@"

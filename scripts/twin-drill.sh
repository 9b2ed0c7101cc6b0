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
# The drill runs as a child that gets every stop signal this script gets
# (make passes SIGTERM to its recipe, a scheduler signals this process): a
# shell killed while it waits would run its EXIT trap — the twin down —
# under a drill that is still running, and the drill would never hear of
# the stop. drdrill turns the first signal into one orderly interrupt and
# absorbs the rest; the script waits until it has rolled back and exited.
"$BUILD/drdrill" drill --outputs "$dir/flat-outputs.json" --labels "$labels" "$@" &
drill=$!
for sig in INT TERM HUP QUIT; do
	# shellcheck disable=SC2064
	trap "kill -s $sig $drill 2>/dev/null || true" "$sig"
done
status=0
while :; do
	wait "$drill" && status=0 || status=$?
	kill -0 "$drill" 2>/dev/null || break # a trap interrupted wait; the drill runs on
done
exit "$status"

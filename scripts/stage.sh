#!/usr/bin/env bash
# Runs one stage of `make test`, then prints its wall time and appends it to
# the stage table (build/stages.tsv) that `make test` prints at its end.
#   scripts/stage.sh NAME COMMAND [ARGS...]
set -uo pipefail
name=${1:?usage: stage.sh NAME COMMAND...}; shift
table=${STAGE_TABLE:-build/stages.tsv}
mkdir -p "$(dirname "$table")"
start=$(date +%s.%N)
"$@"; rc=$?
secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
printf '%s\t%s\t%s\n' "$name" "$secs" "$([ $rc = 0 ] && echo ok || echo "FAILED ($rc)")" >>"$table"
echo "[stage] $name: ${secs} s$([ $rc = 0 ] || echo ", FAILED ($rc)")"
exit $rc

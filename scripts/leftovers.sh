#!/usr/bin/env bash
# Tests must leave nothing behind outside their own temporary directories.
#   scripts/leftovers.sh snapshot FILE   record what is there now
#   scripts/leftovers.sh check FILE      fail, naming each new entry, if the
#                                        tests left anything since the snapshot
# It looks at /dev/shm (where labs keep their datadirs) and drdrill's names in
# the temporary directory; the MariaDB template cache (drdrill-cache) is meant
# to stay.
set -euo pipefail
list() {
  { ls -1d /dev/shm/* 2>/dev/null || true
    ls -1d "${TMPDIR:-/tmp}"/drdrill* 2>/dev/null | grep -v '/drdrill-cache$' || true
  } | sort
}
case "${1:-}" in
  snapshot) list >"${2:?usage: leftovers.sh snapshot FILE}" ;;
  check)
    left=$(comm -13 "${2:?usage: leftovers.sh check FILE}" <(list))
    if [ -n "$left" ]; then
      echo "leftovers: the tests left these behind (each test must keep to its own temporary directory):" >&2
      sed 's/^/  /' <<<"$left" >&2
      exit 1
    fi
    echo "leftovers: none" ;;
  *) echo "usage: leftovers.sh snapshot|check FILE" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Makes sure mariadbd is installed. As root on Debian it installs
# mariadb-server with apt (about 20-30 s); otherwise it stops with one line
# saying what to install. The package's own service is never used: the lab
# runs its own servers, so service start-up is blocked during the install.
set -euo pipefail
for p in mariadbd /usr/sbin/mariadbd mysqld /usr/sbin/mysqld; do
  if command -v "$p" >/dev/null 2>&1; then exit 0; fi
done
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "drdrill: mariadbd not found: install MariaDB 10.11 (on Debian: sudo apt-get install -y mariadb-server)" >&2
  exit 1
fi
echo "drdrill: installing mariadb-server with apt-get (the lab needs mariadbd)" >&2
policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && own_policy=1
fi
trap '[ -n "$own_policy" ] && rm -f "$policy"' EXIT
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends mariadb-server mariadb-client >/dev/null
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || {
  echo "drdrill: apt-get installed mariadb-server but mariadbd is still missing" >&2; exit 1; }

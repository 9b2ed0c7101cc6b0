#!/usr/bin/env bash
# Makes sure an AWS CLI is there for the twin's non-Go client test
# (internal/twin TestTheAWSCLIDrivesTheTwin): an existing `aws` (any
# version: v1 via pip, v2, Debian's) is used as it is; as root on Debian it
# installs the awscli package with apt (about 30 s, once); otherwise it
# stops with one line saying what to install.
set -euo pipefail
if command -v aws >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "drdrill: aws not found: install the AWS CLI (on Debian: sudo apt-get install -y awscli; or pip install awscli)" >&2
  exit 1
fi
echo "drdrill: installing awscli with apt-get (the twin is tried with a client nobody here wrote)" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq --no-install-recommends awscli >/dev/null 2>&1 ||
  { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends awscli >/dev/null; }
command -v aws >/dev/null 2>&1 || { echo "drdrill: apt-get installed awscli but aws is still missing" >&2; exit 1; }

#!/usr/bin/env bash
# Quick start, command 2: set up the environments, then run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-envs.sh
# The SLURM tests stand up a real single-node cluster from Debian's packages, and the browser tests
# drive Debian's chromium (root only; without them those tests are skipped, saying why).
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  missing=()
  command -v slurmctld >/dev/null || missing+=(slurmctld slurmd slurm-client munge)
  command -v chromium >/dev/null || missing+=(chromium)
  if (( ${#missing[@]} )); then
    echo "run-tests: installing Debian's ${missing[*]} for the SLURM and browser tests"
    # Installed, not started: the tests start and stop the daemons themselves.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    rm -f /usr/sbin/policy-rc.d
  fi
fi
exec .venvs/main/bin/python -m pytest "$@"

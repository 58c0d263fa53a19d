#!/usr/bin/env bash
# Quick start, command 2: set up the environments, then run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-envs.sh
# The SLURM tests stand up a real single-node cluster from Debian's packages (root only; without
# them those tests are skipped, saying why).
if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null && ! command -v slurmctld >/dev/null; then
  echo "run-tests: installing Debian's SLURM and munge packages for the SLURM tests"
  # Installed, not started: the tests start and stop the daemons themselves.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
exec .venvs/main/bin/python -m pytest "$@"

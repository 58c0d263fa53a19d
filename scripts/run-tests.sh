#!/usr/bin/env bash
# Quick start, command 2: set up the environments, then run the whole test suite.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-envs.sh
exec .venvs/main/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Quick start, command 1: set up the environments, then run the whole workflow on the default
# config (the embedded data). Extra arguments go to snakemake, e.g. a target or --configfile.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-envs.sh
exec .venvs/main/bin/snakemake --cores "${CORES:-all}" --rerun-incomplete "$@"

#!/usr/bin/env bash
# Create (or bring up to date) the workflow's two virtual environments under .venvs/:
#   .venvs/main      snakemake, torch, zarr 3, numpy 2, pandas 2, rsatoolbox, seaborn (envs/main.txt)
#   .venvs/allensdk  allensdk 2.16.2 and its old numpy/pandas pins (envs/allensdk.txt)
# Each is rebuilt only when its pin file changed since it was made. Needs Python 3.11.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3.11}
command -v "$python" >/dev/null || { echo "setup-envs: $python not found (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

make_env() {
  local name=$1 pins=$2 stamp=.venvs/$1/.pins.sha256
  local want
  want=$(sha256sum "$pins" pyproject.toml | sha256sum | cut -d' ' -f1)
  if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
    return
  fi
  echo "setup-envs: building .venvs/$name from $pins"
  rm -rf ".venvs/$name"
  "$python" -m venv ".venvs/$name"
  ".venvs/$name/bin/python" -m pip install --quiet --disable-pip-version-check -r "$pins"
  # The workflow's own package, without dependencies: the pin file already holds them.
  ".venvs/$name/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -e .
  if [[ -n ${3:-} ]]; then
    ".venvs/$name/bin/python" -c "$3"
  fi
  echo "$want" > "$stamp"
}

# The two are built side by side (unpacking the main one's torch is mostly waiting on the disk). pynwb
# writes a cache of its type map into its own package on first import: once here, rather than by
# parallel jobs racing to write it.
make_env allensdk envs/allensdk.txt "import pynwb" &
allensdk=$!
trap 'kill "$allensdk" 2>/dev/null || true' EXIT
make_env main envs/main.txt
wait "$allensdk"

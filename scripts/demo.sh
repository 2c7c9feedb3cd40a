#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run the main job. Extra arguments go to the job.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
cd "$repo"
# The live loop on the simulated rig with the shipped default model (docs/demo.md).
exec "$repo/.venv/bin/vap-ros" demo --out "${OUT:-$repo/out/demo}" "$@"

#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run the main job. Extra arguments go to the job.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
cd "$repo"
# Until the live demo exists: the prompt overlays of the real teleoperated Panda episode.
exec "$repo/.venv/bin/vap-ros" prompts episode "${EPISODE:-$repo/../shared/data/real/panda_teleop_episode}" \
  --out "${OUT:-$repo/out/teleop_overlays}" "$@"

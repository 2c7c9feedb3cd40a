#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run the test suite. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
cd "$repo"
exec "$repo/.venv/bin/python" -m pytest -q "$@"

#!/usr/bin/env bash
# Set up everything (scripts/setup.sh) and run the test suite. Extra arguments go to pytest.
# The order is pytest's file order (-p no:randomly); TEST_ORDER=random shuffles it with
# pytest-randomly (the seed is printed; --randomly-seed=N repeats one); TEST_ORDER=custom adds
# nothing (the caller passes its own -p options, as scripts/stress_tests.sh does).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
cd "$repo"
case "${TEST_ORDER:-fixed}" in
  fixed) order=(-p no:randomly) ;;
  random) order=(-p randomly) ;;
  *) order=() ;;
esac
exec "$repo/.venv/bin/python" -m pytest -q "${order[@]}" "$@"

#!/usr/bin/env bash
# Stress harness: run the whole test suite N times from a fresh clone of this repository's HEAD
# while a CPU burner keeps every core busy the whole time. Run 1 keeps pytest's file order; the
# others use a random order (pytest-randomly, seed = the run number, printed by pytest).
#
# Usage: scripts/stress_tests.sh [N=5] [-- extra pytest args]
#   KEEP=1 keeps the clone; BURNERS=k runs k burner processes (default: one per core).
# Prints one line per run and "stress: P of N runs passed"; exits non-zero unless all passed.
# Logs: $WORK/run_<i>.log (WORK is printed at the start).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-5}
shift || true
[ "${1:-}" = "--" ] && shift
work=$(mktemp -d "${TMPDIR:-/tmp}/vap_ros_stress.XXXXXX")
echo "stress: $n runs of the suite from a fresh clone of $(git -C "$repo" rev-parse --short HEAD) in $work"

# The tests read ../shared (real recordings) beside the checkout, as CI's clone has it.
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
git clone -q "$repo" "$work/vap_ros" || { echo "stress: clone failed"; exit 2; }
clone=$work/vap_ros
# set up once (apt, venv, interfaces), outside the timed runs
"$clone/scripts/setup.sh" > "$work/setup.log" 2>&1 || { echo "stress: set-up failed (see $work/setup.log)"; exit 2; }

burners=()
stop_burners() {
  for pid in "${burners[@]}"; do kill "$pid" 2>/dev/null; done
  wait "${burners[@]}" 2>/dev/null
}
cleanup() {
  stop_burners
  [ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq "${BURNERS:-$(nproc)}"); do
  python3 -c 'while True: pass' &
  burners+=($!)
done
echo "stress: ${#burners[@]} CPU burners running"

passed=0
for i in $(seq "$n"); do
  if [ "$i" = 1 ]; then order=(-p no:randomly); label="file order"
  else order=(-p randomly "--randomly-seed=$i"); label="random order, seed $i"; fi
  t0=$(date +%s)
  (cd "$clone" && TEST_ORDER=custom bash scripts/test.sh "${order[@]}" --durations=15 "$@") \
    > "$work/run_$i.log" 2>&1
  rc=$?
  dt=$(( $(date +%s) - t0 ))
  summary=$(grep -E "^(=+ )?[0-9]+ (passed|failed)|[0-9]+ (passed|failed).* in " "$work/run_$i.log" | tail -1)
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1)); echo "stress: run $i ($label): PASS in ${dt} s: $summary"
  else
    echo "stress: run $i ($label): FAIL (exit $rc) in ${dt} s: $summary"
    grep -E "^(FAILED|ERROR) " "$work/run_$i.log" | sed 's/^/stress:     /'
    KEEP=1
  fi
done
echo "stress: $passed of $n runs passed"
[ "$passed" = "$n" ]

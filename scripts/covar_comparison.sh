#!/usr/bin/env bash
# Action head vs action images at an equal budget (docs/policy.md, "Action head vs action
# images"): the joint-state model (`small_joint_states`) trained as the action-image model
# (`small_joint`) was -- the 1,025-step cosine schedule that `--time-budget 22m` sized for it,
# stopped after step 875 (7,000 samples) -- on fixed cameras and, for both forms, on randomised
# cameras; then `experiment labelling` (fixed + randomised test cameras) and `policy eval`
# (3 tasks x 6 scenes of seed 3001, fixed and randomised cameras), the goal planner (3 tasks x
# 12 scenes), and the table.
#
# Usage: scripts/covar_comparison.sh DATA_DIR [WORK_DIR]     (default WORK_DIR: out/covar)
#   DATA_DIR holds sim_test_fixed, sim_test_rand, clips_train_fixed, clips_train_rand (docs/
#   policy.md, "Measured labelling error") and model_joint (the fixed-camera action-image model)
#   with its labelling report eval_label_s1/ and policy_<task>.json (fixed cameras).
# One thread per job, one job at a time.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
L=$(cd "$1" && pwd)
W=${2:-out/covar}
mkdir -p "$W"
export OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE PYTHONPATH=$repo
VAP=${VAP:-"python -m vap_ros.cli"}

train_equal() {  # CONFIG DATA RUN MODEL: the 1,025-step schedule, stopped after step 875
  $VAP train --config "$1" --data "$2" --out "$3" --set steps=1025 --set checkpoint.every=25 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    if [ -f "$3/checkpoints/000875/model/model_card.json" ]; then
      sleep 5; cp -r "$3/checkpoints/000875/model" "$4"; kill "$pid"; break
    fi
    sleep 5
  done
  wait "$pid" || true
}

labelling() {  # MODEL BASELINE_CACHE OUT VIDEOS
  $VAP experiment labelling --model "$1" --episodes "fixed=$L/sim_test_fixed" \
    --episodes "randomised=$L/sim_test_rand" --baseline-data "$2" --out "$3" --videos "$4" \
    --no-progress
}

policy() {  # MODEL PREFIX [--randomize-cameras]
  for t in reach push pick_place; do
    $VAP policy eval --model "$1" --task "$t" --episodes 6 --seed 3001 --chunks 8 ${3:-} \
      --json "$2$t.json" --no-progress
  done
}

train_equal small_joint_states "$L/clips_train_fixed" "$W/run_joint_states" "$W/model_joint_states"
labelling "$W/model_joint_states" "$L/clips_train_fixed" "$W/eval_label_js" 2
policy "$W/model_joint_states" "$W/policy_js_fixed_"
policy "$W/model_joint_states" "$W/policy_js_rand_" --randomize-cameras
policy "$L/model_joint" "$W/policy_ai_rand_" --randomize-cameras
train_equal small_joint "$L/clips_train_rand" "$W/run_joint_rand" "$W/model_joint_rand"
train_equal small_joint_states "$L/clips_train_rand" "$W/run_joint_states_rand" \
  "$W/model_joint_states_rand"
for m in joint_rand joint_states_rand; do
  labelling "$W/model_$m" "$L/clips_train_rand" "$W/eval_label_$m" 1
  policy "$W/model_$m" "$W/policy_${m}_rand_" --randomize-cameras
done
# the goal planner (docs/policy.md, "The goal planner"): 12 scenes per task
goal() {  # MODEL PREFIX [--randomize-cameras]
  for t in reach push pick_place; do
    $VAP policy eval --model "$1" --task "$t" --episodes 12 --seed 3001 --chunks 8 ${3:-} \
      --planner goal --json "$2$t.json" --no-progress
  done
}
goal "$L/model_joint" "$W/goal_ai_fixed_"
goal "$L/model_joint" "$W/goal_ai_rand_" --randomize-cameras
goal "$W/model_joint_rand" "$W/goal_ai_randtrained_rand_" --randomize-cameras
goal "$W/model_joint_states" "$W/goal_js_fixed_"
goal "$W/model_joint_states" "$W/goal_js_rand_" --randomize-cameras
goal "$W/model_joint_states_rand" "$W/goal_js_randtrained_rand_" --randomize-cameras
python "$repo/scripts/covar_table.py" \
  "action images=$L/eval_label_s1:$L/policy_:$W/policy_ai_rand_" \
  "action head=$W/eval_label_js:$W/policy_js_fixed_:$W/policy_js_rand_" \
  "action images, rand-trained=$W/eval_label_joint_rand::$W/policy_joint_rand_rand_" \
  "action head, rand-trained=$W/eval_label_joint_states_rand::$W/policy_joint_states_rand_rand_" \
  | tee "$W/table.md"

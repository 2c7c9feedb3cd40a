#!/usr/bin/env bash
# The VAP claims, measured on held-out simulated episodes (docs/experiments.md):
#  1. skeleton prompts vs raw-action conditioning vs no action vs copy-first-frame, with fixed
#     and with randomised camera viewpoints (train and test): same data, same budget;
#  2. commanded-plan vs logged-state prompts at training time, evaluated on commanded plans;
#  3. action following (same first frame, two plans), fixed cameras.
# Every configuration is trained with each seed in SEEDS; docs/experiments.md reports the mean
# and the spread (min..max) over seeds (scripts/experiments_table.py).
# Models: the `tiny` world model at 9 frames (32x32, 1.6 s at 5 fps), one training stage with
# the one-stage recipe (small_concat: prompt on the input channels, loss x4 on the pixels
# that change, lr 1e-3), STEPS steps at batch 8, each view its own sample.
# Usage: scripts/experiments.sh [WORK_DIR]
#   STEPS (3000), SEEDS ("0 1"), EPISODES (200 per camera setting), THREADS (1), JOBS (2
#   trainings in parallel), SETUP=0 / VAP as in train_default_model.sh.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "${SETUP:-1}" = 0 ] || "$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
work=${1:-$repo/out/experiments}
read -r -a vap <<< "${VAP:-$repo/.venv/bin/vap-ros}"
py=${PYTHON:-$repo/.venv/bin/python}
steps=${STEPS:-3000}
seeds=${SEEDS:-0 1}
episodes=${EPISODES:-200}
jobs=${JOBS:-2}
export OMP_NUM_THREADS=${THREADS:-1}
data_cfg="$repo/config/dataset_sim_tiny9.yaml"
mkdir -p "$work"

data() {  # name seed episodes [sim args]: record the episodes and build the clips once
  local name=$1 seed=$2 n=$3; shift 3
  [ -f "$work/clips_$name/manifest.json" ] && return 0
  [ -d "$work/sim_$name" ] || "${vap[@]}" sim record --episodes "$n" --seed "$seed" \
    --size 64 64 --camera-hz 10 --out "$work/sim_$name" "$@" > /dev/null
  "${vap[@]}" dataset build "$work/sim_$name" --config "$data_cfg" --out "$work/clips_$name" \
    --workers 2 --no-progress > /dev/null
}
data fixed 1 "$episodes"
data fixed_test 1001 8
data random 2 "$episodes" --randomize-cameras
data random_test 1002 8 --randomize-cameras
if [ ! -f "$work/clips_pairs/manifest.json" ]; then  # branching pairs: same scenes, 4 tasks
  for task in reach push pick_place poke; do
    [ -d "$work/sim_pairs/$task" ] || "${vap[@]}" sim record --episodes 12 --seed 2001 \
      --tasks "$task" --size 64 64 --camera-hz 10 --out "$work/sim_pairs/$task" > /dev/null
  done
  "${vap[@]}" dataset build "$work"/sim_pairs/{reach,push,pick_place,poke} --config "$data_cfg" \
    --out "$work/clips_pairs" --workers 2 --no-progress > /dev/null
fi

train() {  # name data source conditioning seed
  local out="$work/runs/$1_s$5"
  [ -e "$out/checkpoints/last" ] && return 0
  rm -rf "$out"
  "${vap[@]}" train --config small_concat --data "$work/$2" --out "$out" --source "$3" \
    --set model.preset=tiny --set model.overrides.conditioning="$4" \
    --set model.overrides.num_frames=9 --set "model.overrides.transformer={sample_frames: 9}" \
    --set steps="$steps" --set seed="$5" --set mixed_precision=no --set checkpoint.every="$steps" \
    --set log.progress=false --set log.tensorboard=false > "$out.log" 2>&1
}
mkdir -p "$work/runs"
runs=()
for seed in $seeds; do
  for cams in fixed random; do
    for cond in skeleton raw_action none; do runs+=("${cams}_${cond} clips_${cams} commanded $cond $seed"); done
  done
  runs+=("fixed_skeleton_logged clips_fixed logged skeleton $seed")
done
for r in "${runs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  # shellcheck disable=SC2086
  train $r &
done
wait

for seed in $seeds; do
  for cams in fixed random; do
    follow=(); [ "$cams" = fixed ] && follow=(--follow "$work/clips_pairs" --follow-pairs 62)
    [ -f "$work/eval_${cams}_s$seed/metrics.json" ] || "${vap[@]}" eval \
      --checkpoint "$work/runs/${cams}_skeleton_s$seed" \
      --baseline "$work/runs/${cams}_raw_action_s$seed" --baseline "$work/runs/${cams}_none_s$seed" \
      --data "$work/clips_${cams}_test" --source commanded --out "$work/eval_${cams}_s$seed" \
      --videos 2 "${follow[@]}" > "$work/eval_${cams}_s$seed.log" 2>&1
  done
  [ -f "$work/eval_logged_s$seed/metrics.json" ] || "${vap[@]}" eval \
    --checkpoint "$work/runs/fixed_skeleton_s$seed" \
    --baseline "$work/runs/fixed_skeleton_logged_s$seed" --data "$work/clips_fixed_test" \
    --source commanded --out "$work/eval_logged_s$seed" --videos 0 \
    --follow "$work/clips_pairs" --follow-pairs 62 > "$work/eval_logged_s$seed.log" 2>&1
done
"$py" "$repo/scripts/experiments_table.py" "$work" $seeds | tee "$work/tables.md"

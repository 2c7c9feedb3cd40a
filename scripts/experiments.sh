#!/usr/bin/env bash
# The VAP claims, measured on held-out simulated episodes (docs/experiments.md):
#  1. skeleton prompts vs raw-action conditioning vs no action vs copy-first-frame, with fixed
#     and with randomised camera viewpoints (train and test): same data, same budget;
#  2. commanded-plan vs logged-state prompts at training time, evaluated on commanded plans.
# Models: the `tiny` preset (32x32, 5 frames at 5 fps), one training stage, STEPS steps each.
# Usage: scripts/experiments.sh [WORK_DIR]   (STEPS, SEED, EPISODES, THREADS override)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
work=${1:-$repo/out/experiments}
vap="$repo/.venv/bin/vap-ros"
steps=${STEPS:-600}
seed=${SEED:-0}
episodes=${EPISODES:-48}
export OMP_NUM_THREADS=${THREADS:-1}
mkdir -p "$work"

record() {  # name seed [--randomize-cameras]
  [ -d "$work/sim_$1" ] || "$vap" sim record --episodes "$3" --seed "$2" --size 64 64 \
    --camera-hz 10 --out "$work/sim_$1" ${4:-}
  [ -f "$work/clips_$1/manifest.json" ] || "$vap" dataset build "$work/sim_$1" \
    --config "$repo/config/dataset_sim_tiny.yaml" --out "$work/clips_$1" --workers 2
}
record fixed 1 "$episodes"
record fixed_test 1001 8
record random 2 "$episodes" --randomize-cameras
record random_test 1002 8 --randomize-cameras

train() {  # out data source conditioning
  [ -e "$work/runs/$1/checkpoints/last" ] || "$vap" train --config tiny --data "$work/$2" \
    --out "$work/runs/$1" --source "$3" --set steps="$steps" --set seed="$seed" \
    --set batch_size=8 --set per_view=true --set model.overrides.conditioning="$4" \
    --set model.overrides.fps=5 --set model.overrides.residual=true \
    --set log.sample_every=100000 --set log.progress=false
}
for cams in fixed random; do
  for cond in skeleton raw_action none; do
    train "${cams}_${cond}" "clips_${cams}" commanded "$cond"
  done
  "$vap" eval --checkpoint "$work/runs/${cams}_skeleton" \
    --baseline "$work/runs/${cams}_raw_action" --baseline "$work/runs/${cams}_none" \
    --data "$work/clips_${cams}_test" --source commanded --out "$work/eval_${cams}" --videos 2
done
train fixed_skeleton_logged clips_fixed logged skeleton
"$vap" eval --checkpoint "$work/runs/fixed_skeleton" \
  --baseline "$work/runs/fixed_skeleton_logged" --data "$work/clips_fixed_test" \
  --source commanded --out "$work/eval_commanded_vs_logged" --videos 2
echo "experiments done: $work/eval_*/table.txt"

#!/usr/bin/env bash
# The VAP claims, measured on held-out simulated episodes (docs/experiments.md):
#  1. skeleton prompts vs raw-action conditioning vs no action vs copy-first-frame, with fixed
#     and with randomised camera viewpoints (train and test): same data, same budget;
#  2. commanded-plan vs logged-state prompts at training time, evaluated on commanded plans;
#  3. action following (same first frame, two plans), fixed cameras;
#  EXPERIMENT=prompt_types: skeleton vs depth vs silhouette vs skeleton+depth prompts (the same
#     episodes built into clips of each prompt type, `vap-ros dataset build --prompt-type`),
#     fixed cameras, evaluated on the same held-out clips and branching pairs.
# Every configuration is trained with each seed in SEEDS; docs/experiments.md reports the mean
# and the spread (min..max) over seeds (scripts/experiments_table.py).
# Models: the `tiny` world model at 9 frames (32x32, 1.6 s at 5 fps), one training stage with
# the one-stage recipe (small_concat: prompt on the input channels, loss x4 on the pixels
# that change, lr 1e-3), STEPS steps at batch 8, each view its own sample.
# Usage: scripts/experiments.sh [WORK_DIR]
#   EXPERIMENT (claims | prompt_types; default claims), STEPS (3000), SEEDS ("0 1"), EPISODES
#   (200 per camera setting), TEST_EPISODES (8), PAIR_SCENES (12 scenes x 4 tasks),
#   PROMPT_TYPES ("skeleton depth silhouette skeleton+depth"), THREADS (1), JOBS (2 trainings
#   in parallel), SETUP=0 / VAP as in train_default_model.sh. Both experiments share WORK_DIR's
#   recordings and skeleton runs (fixed_skeleton_s<seed> is the same run in both).
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
test_episodes=${TEST_EPISODES:-8}
pair_scenes=${PAIR_SCENES:-12}
experiment=${EXPERIMENT:-claims}
read -r -a prompt_types <<< "${PROMPT_TYPES:-skeleton depth silhouette skeleton+depth}"
jobs=${JOBS:-2}
case $experiment in
  claims|prompt_types) ;;
  *) echo "EXPERIMENT=$experiment: expected claims or prompt_types" >&2; exit 2 ;;
esac
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
clips_of() {  # name prompt_type: the clip cache of recordings sim_<name> with that prompt type
  if [ "$2" = skeleton ]; then echo "clips_$1"; else echo "clips_$1_$2"; fi
}
build_type() {  # name prompt_type: the same recordings as clips_<name>, another prompt type
  local out; out=$(clips_of "$1" "$2")
  [ -f "$work/$out/manifest.json" ] && return 0
  local bags=("$work/sim_$1")
  [ "$1" = pairs ] && bags=("$work"/sim_pairs/{reach,push,pick_place,poke})
  "${vap[@]}" dataset build "${bags[@]}" --config "$data_cfg" --prompt-type "$2" \
    --out "$work/$out" --workers 2 --no-progress > /dev/null
}
data fixed 1 "$episodes"
data fixed_test 1001 "$test_episodes"
if [ "$experiment" = claims ]; then
  data random 2 "$episodes" --randomize-cameras
  data random_test 1002 "$test_episodes" --randomize-cameras
fi
if [ ! -f "$work/clips_pairs/manifest.json" ]; then  # branching pairs: same scenes, 4 tasks
  for task in reach push pick_place poke; do
    [ -d "$work/sim_pairs/$task" ] || "${vap[@]}" sim record --episodes "$pair_scenes" \
      --seed 2001 --tasks "$task" --size 64 64 --camera-hz 10 --out "$work/sim_pairs/$task" \
      > /dev/null
  done
  "${vap[@]}" dataset build "$work"/sim_pairs/{reach,push,pick_place,poke} --config "$data_cfg" \
    --out "$work/clips_pairs" --workers 2 --no-progress > /dev/null
fi
if [ "$experiment" = prompt_types ]; then
  for t in "${prompt_types[@]}"; do
    for name in fixed fixed_test pairs; do build_type "$name" "$t"; done
  done
fi

train() {  # name data source conditioning seed [prompt_type]
  local out="$work/runs/$1_s$5"
  [ -e "$out/checkpoints/last" ] && return 0
  rm -rf "$out"
  local type=()
  [ -n "${6:-}" ] && [ "$6" != skeleton ] && type=(--set model.overrides.prompt_type="$6")
  "${vap[@]}" train --config small_concat --data "$work/$2" --out "$out" --source "$3" \
    --set model.preset=tiny --set model.overrides.conditioning="$4" "${type[@]}" \
    --set model.overrides.num_frames=9 --set "model.overrides.transformer={sample_frames: 9}" \
    --set steps="$steps" --set seed="$5" --set mixed_precision=no --set checkpoint.every="$steps" \
    --set log.progress=false --set log.tensorboard=false > "$out.log" 2>&1
}
mkdir -p "$work/runs"
runs=()
for seed in $seeds; do
  if [ "$experiment" = prompt_types ]; then
    for t in "${prompt_types[@]}"; do
      runs+=("fixed_$t $(clips_of fixed "$t") commanded skeleton $seed $t")
    done
    continue
  fi
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

if [ "$experiment" = prompt_types ]; then
  for seed in $seeds; do
    for t in "${prompt_types[@]}"; do  # each type on its own clips of the same episodes
      ev="$work/eval_pt_${t}_s$seed"
      [ -f "$ev/metrics.json" ] || "${vap[@]}" eval --checkpoint "$work/runs/fixed_${t}_s$seed" \
        --data "$work/$(clips_of fixed_test "$t")" --source commanded --out "$ev" --videos 2 \
        --follow "$work/$(clips_of pairs "$t")" --follow-pairs 62 > "$ev.log" 2>&1
    done
  done
  "$py" "$repo/scripts/experiments_table.py" --prompt-types "$work" $seeds \
    | tee "$work/tables_prompt_types.md"
  exit 0
fi
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

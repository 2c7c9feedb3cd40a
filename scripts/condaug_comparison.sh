#!/usr/bin/env bash
# Does conditioning-frame corruption (`augment.cond_noise`, docs/model.md "Training for long
# rollouts") make long autoregressive rollouts drift less? Two fine-tunings of the shipped
# model's recipe (scripts/train_default_model.sh with INIT: `small_finetune` from
# ../shared/models/vap_small_sim_v3), identical but for the augmentation, at an equal budget of
# STEPS optimizer steps (the same data order and diffusion noise: the corruption is drawn after
# them), then one `vap-ros experiment horizon --compare` (the horizon curve of both on the same
# >= 10 s plans) and one `vap-ros eval` of both on the held-out clips (one-clip quality: the
# augmentation must not cost the first chunk).
#
# Usage: scripts/condaug_comparison.sh [WORK_DIR]            (default: out/condaug)
#   STEPS      optimizer steps per arm (default 3000, as the shipped model)
#   AUG        the augmented arm's settings, KEY=VALUE under `augment.` (default
#              "cond_noise=0.2 cond_prob=0.5": noise std up to 0.2 of [-1, 1] on half the
#              samples; predict_long then uses 0.1)
#   INIT       the model both arms continue (default ../shared/models/vap_small_sim_v3)
#   PARALLEL=1 train both arms at once (one thread each; default: one after the other)
#   EPISODES   training episodes to record (default 400, as the recipe); CLIPS_TRAIN /
#              CLIPS_TEST: existing clip caches to use instead of recording
#   HORIZON    bag folders for the horizon curve (default: the 8 held-out episodes, seed
#              1001, + 8 pick_place episodes, seed 1003, recorded here; docs/model.md);
#              TEST_EPISODES / H_RECORD: how many of each to record (default 8 / 8)
#   H_EPISODES / H_STEPS / VIDEOS: horizon --max-episodes / --steps / --videos
#   EVAL_CLIPS evaluate only the first N held-out clips; EVAL=0 skips the eval
#   THREADS    torch threads per process (default 1); VAP / PYTHON as train_default_model.sh
# Outputs: WORK/off/run, WORK/on/run (runs), WORK/off/model, WORK/on/model (their final models
# with the shipped sampling settings), WORK/horizon/comparison.{txt,json,png} (A = off, B = on)
# with each arm's own horizon.json, WORK/eval (both arms + copy-first-frame).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/scripts/env.sh"
# this checkout's vap_ros, even where the venv's editable install points at another worktree
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
work=${1:-$repo/out/condaug}
read -r -a vap <<< "${VAP:-$repo/.venv/bin/vap-ros}"
py=${PYTHON:-$repo/.venv/bin/python}
steps=${STEPS:-3000}
init=${INIT:-$repo/../shared/models/vap_small_sim_v3}
export OMP_NUM_THREADS=${THREADS:-1}
mkdir -p "$work"
t_start=$(date +%s)
stamp() { echo "[condaug $(( $(date +%s) - t_start )) s] $*"; }

record() {  # name seed episodes [extra sim args]
  local name=$1 seed=$2 n=$3; shift 3
  [ -d "$work/sim_$name" ] || "${vap[@]}" sim record --episodes "$n" --seed "$seed" --size 64 64 \
    --camera-hz 10 --out "$work/sim_$name" "$@"
}
build() {  # name bag_folder...
  local name=$1; shift
  [ -f "$work/clips_$name/manifest.json" ] || "${vap[@]}" dataset build "$@" \
    --config "$repo/config/dataset_sim_small.yaml" --out "$work/clips_$name" --workers 2 \
    --no-progress
}
clips_train=${CLIPS_TRAIN:-$work/clips_train}
clips_test=${CLIPS_TEST:-$work/clips_test}
if [ -z "${CLIPS_TRAIN:-}" ]; then record train 1 "${EPISODES:-400}"; build train "$work/sim_train"; fi
if [ -z "${CLIPS_TEST:-}" ] || [ -z "${HORIZON:-}" ]; then
  record test 1001 "${TEST_EPISODES:-8}"
fi
[ -n "${CLIPS_TEST:-}" ] || build test "$work/sim_test"
if [ -z "${HORIZON:-}" ]; then
  record 1003 1003 "${H_RECORD:-8}" --tasks pick_place
  horizon=("$work/sim_test" "$work/sim_1003")
else
  read -r -a horizon <<< "$HORIZON"
fi
stamp "data ready: $clips_train, $clips_test, horizon ${horizon[*]}"

prec=no; grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null && prec=bf16
common=(--config small_finetune --data "$clips_train" --source commanded
        --set batch_size=8 --set num_workers=0 --set mixed_precision=$prec
        --set log.progress=false --set model.pretrained="$init" --set steps="$steps")
aug=()
for kv in ${AUG:-cond_noise=0.2 cond_prob=0.5}; do aug+=(--set "augment.$kv"); done
train_arm() {  # name [extra args]
  local name=$1; shift
  [ -e "$work/$name/run/checkpoints/last" ] && [ "$(readlink "$work/$name/run/checkpoints/last")" \
    = "$(printf %06d "$steps")" ] && return 0
  local resume=()
  [ -e "$work/$name/run/checkpoints/last" ] && resume=(--resume)
  mkdir -p "$work/$name"
  "${vap[@]}" train "${common[@]}" "$@" --out "$work/$name/run" "${resume[@]}" \
    > "$work/$name/train.log" 2>&1
}
stamp "training off and on (${aug[*]}), $steps steps each"
if [ "${PARALLEL:-0}" = 1 ]; then
  train_arm off & p_off=$!
  train_arm on "${aug[@]}" & p_on=$!
  wait "$p_off"; wait "$p_on"
else
  train_arm off
  train_arm on "${aug[@]}"
fi
stamp "trained"

# Each arm's final model, copied out of its (checksummed) checkpoint and given the shipped
# sampling settings (scripts/train_default_model.sh) in its vap_config.json.
for name in off on; do
  rm -rf "$work/$name/model"
  cp -rL "$work/$name/run/checkpoints/last/model" "$work/$name/model"
  "$py" - "$work/$name/model/vap_config.json" <<'PY'
import json, sys
from vap_ros.model.config import WorldModelConfig
path = sys.argv[1]
cfg = WorldModelConfig.from_dict(json.load(open(path)), source=path)
cfg = cfg.replace(residual_deadband=0.03, residual_gate_px=3)
open(path, "w").write(json.dumps(cfg.to_dict(), indent=2))
print(f"{path}: cond_noise {cfg.cond_noise}")
PY
done

"${vap[@]}" experiment horizon "${horizon[@]/#/--episodes=}" --model "$work/off/model" \
  --compare "$work/on/model" --out "$work/horizon" --videos "${VIDEOS:-2}" --force --no-progress \
  ${H_EPISODES:+--max-episodes "$H_EPISODES"} ${H_STEPS:+--steps "$H_STEPS"} \
  | tee "$work/horizon.log"
stamp "horizon curves written to $work/horizon"
if [ "${EVAL:-1}" = 1 ]; then
  "${vap[@]}" eval --checkpoint "$work/on/model" --baseline "$work/off/model" --data "$clips_test" \
    --source commanded --out "$work/eval" --videos 0 --force \
    ${EVAL_CLIPS:+--clips "$EVAL_CLIPS"} | tee "$work/eval.log"
  stamp "held-out eval written to $work/eval"
fi
stamp "done"

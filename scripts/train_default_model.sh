#!/usr/bin/env bash
# Reproduce the shipped default model (models/vap_small_sim) in one command, with vap_ros's own
# tools: record simulated-rig episodes (training, held-out, and branching pairs for the
# action-following check), build 64x64 clip caches, train for a wall-clock budget sized by a
# throughput probe (`vap-ros train --time-budget`), evaluate on the held-out episodes against
# copy-first-frame (and the v3 reference checkpoint when present) in ONE `vap-ros eval` run, with
# the action-following check, and ship the model with its card.
#
# The recipe (docs/model.md, "What makes it follow the prompt"):
#   * from scratch (default): stage 1, the video prior (`small_prior`), for 1/3 of the budget;
#     stage 2, ControlNet on all 4 blocks + LoRA on the frozen prior at lr 4e-4 with the
#     motion-region loss x4 (`small_control` + overrides), for 2/3 of it;
#   * INIT=DIR: continue a trained skeleton-prompt model (`small_finetune`: its own trainable
#     parameters, motion-region loss x4, lr 2e-4) for the whole budget. The shipped model is
#     INIT=../shared/models/vap_small_sim_v3 BUDGET=55m on 2 CPU cores (its model_card.json).
#
# Usage: scripts/train_default_model.sh [WORK_DIR]        (default: out/default_model)
#   BUDGET     training time in all (`vap-ros train --time-budget`): default 6m on CUDA, 60m on
#              CPU
#   INIT       a trained model folder to continue instead of training from scratch
#   EPISODES   training episodes to record (default 400; the sim records ~1.5 episode/s)
#   THREADS    CPU threads for torch (default 1 on CPU: the machine is shared)
#   SHIP=0     do not copy the model into models/vap_small_sim
#   SETUP=0    skip scripts/setup.sh (machines without apt/pip access: GPU image)
#   VAP        how to run vap-ros (default: the venv's console script; on the GPU image:
#              VAP="python3 -m vap_ros.cli" with diffusers on PYTHONPATH, see docs/train.md)
#   V3         reference checkpoint to evaluate alongside (default ../shared/models/vap_small_sim_v3)
#   EVAL_CLIPS evaluate only the first N held-out clips (default: all); FOLLOW_PAIRS (24)
#   DEVICE     cuda|cpu: the settings to use (default: what torch finds; DEVICE=cuda on a CPU
#              machine rehearses the GPU settings there)
# Hardware: on CUDA the run uses bf16, batch 48 and 6 data-loader workers; on CPU batch 8, no
# workers, bf16 where the CPU has bf16 instructions (avx512_bf16/AMX: ~1.8x faster here).
# Recording and `dataset build` need MuJoCo/rosbags: on a machine without them, carry the
# clip caches (xz compresses them ~80x) into WORK_DIR and the script skips those steps.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
[ "${SETUP:-1}" = 0 ] || "$repo/scripts/setup.sh"
. "$repo/scripts/env.sh"
work=${1:-$repo/out/default_model}
read -r -a vap <<< "${VAP:-$repo/.venv/bin/vap-ros}"
py=${PYTHON:-$repo/.venv/bin/python}
[ -x "$py" ] || py=python3
episodes=${EPISODES:-400}
v3=${V3:-$repo/../shared/models/vap_small_sim_v3}
mkdir -p "$work"
t_start=$(date +%s)

device=${DEVICE:-$("$py" -c "import torch; print('cuda' if torch.cuda.is_available() else 'cpu')")}
if [ "$device" = cuda ]; then
  budget=${BUDGET:-6m}; hw=(--set batch_size=48 --set num_workers=6 --set mixed_precision=bf16)
  export OMP_NUM_THREADS=${THREADS:-4}
else
  budget=${BUDGET:-60m}; export OMP_NUM_THREADS=${THREADS:-1}
  prec=no; grep -qE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null && prec=bf16
  hw=(--set batch_size=8 --set num_workers=0 --set mixed_precision=$prec)
fi
echo "[default model] device $device, training budget $budget, settings ${hw[*]}"

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
if [ ! -f "$work/clips_train/manifest.json" ]; then
  record train 1 "$episodes"; build train "$work/sim_train"
fi
if [ ! -f "$work/clips_test/manifest.json" ]; then
  record test 1001 8; build test "$work/sim_test"
fi
# Branching pairs: the same 12 scenes and start poses (seed 2001), four different tasks each.
if [ ! -f "$work/clips_pairs/manifest.json" ]; then
  for task in reach push pick_place poke; do
    record "pairs_$task" 2001 12 --tasks "$task"
  done
  build pairs "$work"/sim_pairs_reach "$work"/sim_pairs_push "$work"/sim_pairs_pick_place \
    "$work"/sim_pairs_poke
fi

# Commanded-plan prompts, each view its own sample, steps sized to the budget.
budget_s=$("$py" -c "from vap_ros.train.budget import parse_duration as p; print(int(p('$budget')))")
common=(--data "$work/clips_train" --source commanded "${hw[@]}" --set log.progress=false)
if [ -n "${INIT:-}" ]; then
  [ -e "$work/run/checkpoints/last" ] || "${vap[@]}" train --config small_finetune "${common[@]}" \
    --set model.pretrained="$INIT" --out "$work/run" --time-budget "${budget_s}s"
else
  [ -e "$work/prior/checkpoints/last" ] || "${vap[@]}" train --config small_prior "${common[@]}" \
    --set per_view=true --set model.overrides.residual=true --set model.overrides.fps=5 \
    --set log.sample_every=-1 --out "$work/prior" --time-budget "$((budget_s / 3))s"
  [ -e "$work/run/checkpoints/last" ] || "${vap[@]}" train --config small_control "${common[@]}" \
    --set per_view=true --set log.sample_every=-1 \
    --set model.pretrained="$work/prior/checkpoints/last/model" \
    --set model.overrides.controlnet_blocks=4 --set optim.lr=4.0e-4 --set loss.motion_factor=4 \
    --out "$work/run" --time-budget "$((budget_s - budget_s / 3))s"
fi

# Sampling settings (docs/model.md, "What makes it follow the prompt"): changes of at most 3 %
# of the range snap back to the first frame, and change is kept only within 3 px of where the
# prompted arm has been. Written into the vap_config.json of a copy of the final model (the
# checkpoint's own copy is covered by its sha256 manifest: edited in place, `eval --checkpoint
# RUN` would call it corrupt and fall back to the previous checkpoint), so eval and nodes use them.
rm -rf "$work/model"
cp -rL "$work/run/checkpoints/last/model" "$work/model"
"$py" - "$work/model/vap_config.json" <<'PY'
import json, sys
from vap_ros.model.config import WorldModelConfig
path = sys.argv[1]
cfg = WorldModelConfig.from_dict(json.load(open(path)), source=path)
cfg = cfg.replace(residual_deadband=0.03, residual_gate_px=3)
open(path, "w").write(json.dumps(cfg.to_dict(), indent=2))
PY

baselines=()
[ -f "$v3/vap_config.json" ] && baselines=(--baseline "$v3")
videos=4  # side-by-side MP4s need imageio-ffmpeg (absent on the GPU image)
"$py" -c "import imageio_ffmpeg" 2>/dev/null || videos=0
"${vap[@]}" eval --checkpoint "$work/model" "${baselines[@]}" --data "$work/clips_test" \
  --source commanded --out "$work/eval" --videos "$videos" --follow "$work/clips_pairs" \
  --follow-pairs "${FOLLOW_PAIRS:-24}" \
  ${EVAL_CLIPS:+--clips "$EVAL_CLIPS"}

[ "${SHIP:-1}" = 0 ] && { echo "done in $(( $(date +%s) - t_start )) s (not shipped)"; exit 0; }
rm -rf "$repo/models/vap_small_sim"
mkdir -p "$repo/models"
cp -r "$work/model" "$repo/models/vap_small_sim"
hardware=$("$py" -c "
import os, platform, torch
cpu = f'{os.cpu_count()} CPU cores ({platform.machine()})'
print(f'{torch.cuda.get_device_name(0)}, {cpu}' if torch.cuda.is_available() else cpu)")
"$py" "$repo/scripts/model_card.py" "$repo/models/vap_small_sim/model_card.json" "$work" \
  "$device: $hardware" "$episodes" "${INIT:-}"
echo "default model written to $repo/models/vap_small_sim in $(( $(date +%s) - t_start )) s" \
  "(evaluation: $work/eval)"

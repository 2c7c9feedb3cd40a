#!/usr/bin/env bash
# Equal-budget ablations of the small world model (docs/model.md, "What makes it follow the
# prompt"). Every variant trains in one stage from the same random init (seed), on the same
# clips, for the same number of samples (STEPS x BATCH), then `vap-ros eval` scores it on the
# same held-out clips with commanded-plan prompts.
# Usage: scripts/ablations.sh TRAIN_CACHE TEST_CACHE WORK_DIR VARIANT...
#   STEPS (default 800), BATCH (8), THREADS (1), SEED (0), CLIPS (all) override.
# Variants (name: what differs from `base`):
#   base        concat prompt injection, lr 3e-4, gripper loss x3, residual, repeat image cond.
#   controlnet  VAP ControlNet (2 blocks, LoRA 8) instead of concat, everything trained
#   cn4         ControlNet on all 4 blocks (v3's branch), everything trained
#   lr1e3       lr 1e-3            motion4     + loss x4 on changing pixels (arm old + new place)
#   first       image_condition first          nores       residual off
#   nogrip      gripper loss weight off        patch4      patch 4 (4x the tokens)
#   data48      only the first 48 training episodes' clips (CLIPS48 cache, set DATA48)
#   m10         + loss x10 on changing pixels      m4lr     motion4 at lr 1e-3
#   m4snr3      motion4 with the noise schedule's snr_shift_scale 3 (more high-noise steps)
#   cn_m4       controlnet (as `controlnet`) with motion4's loss
#   m4rs4       motion4 with residual_scale 4 (the residual target 8x larger vs the noise)
#   cn_m4lr     controlnet with m4lr's loss and lr (isolates the injection)
#   twostage    v3's recipe: prior for STEPS/2, then ControlNet on 4 blocks at lr 4e-4 (+ LoRA)
#               on the frozen prior for STEPS/2
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
train_cache=$1; test_cache=$2; work=$3; shift 3
vap=${VAP:-"$repo/.venv/bin/vap-ros"}
export OMP_NUM_THREADS=${THREADS:-1}
steps=${STEPS:-800}; batch=${BATCH:-8}; seed=${SEED:-0}
common=(--config small --source commanded --set per_view=true --set batch_size="$batch"
        --set steps="$steps" --set seed="$seed" --set mixed_precision=bf16 --set num_workers=0
        --set model.overrides.fps=5 --set model.overrides.residual=true
        --set optim.warmup_steps=50 --set log.sample_every=-1 --set log.progress=false
        --set checkpoint.every="$steps")
concat=(--set model.overrides.prompt_injection=concat --set model.overrides.lora_rank=0)
for v in "$@"; do
  data=$train_cache
  case $v in
    base) extra=("${concat[@]}") ;;
    controlnet) extra=() ;;
    cn4) extra=(--set model.overrides.controlnet_blocks=4) ;;
    lr1e3) extra=("${concat[@]}" --set optim.lr=1.0e-3) ;;
    motion4) extra=("${concat[@]}" --set loss.motion_factor=4) ;;
    first) extra=("${concat[@]}" --set model.overrides.image_condition=first) ;;
    nores) extra=("${concat[@]}" --set model.overrides.residual=false) ;;
    nogrip) extra=("${concat[@]}" --set loss.interaction_factor=1) ;;
    patch4) extra=("${concat[@]}" --set "model.overrides.transformer={patch_size: 4}") ;;
    data48) extra=("${concat[@]}"); data=${DATA48:?set DATA48 to a 48-episode clip cache} ;;
    m10) extra=("${concat[@]}" --set loss.motion_factor=10) ;;
    m4lr) extra=("${concat[@]}" --set loss.motion_factor=4 --set optim.lr=1.0e-3) ;;
    m4snr3) extra=("${concat[@]}" --set loss.motion_factor=4
                   --set "model.overrides.scheduler_config={snr_shift_scale: 3.0}") ;;
    cn_m4) extra=(--set loss.motion_factor=4) ;;
    m4rs4) extra=("${concat[@]}" --set loss.motion_factor=4 --set model.overrides.residual_scale=4.0) ;;
    cn_m4lr) extra=(--set loss.motion_factor=4 --set optim.lr=1.0e-3) ;;
    twostage)  # v3's recipe at this budget: half the samples for the prior, half for stage 2
      half=$((steps / 2))
      [ -e "$work/twostage_prior/checkpoints/last" ] || "$vap" train "${common[@]}" \
        --config small_prior --set steps="$half" --set checkpoint.every="$half" \
        --data "$data" --out "$work/twostage_prior"
      extra=(--config small_control --set steps="$half" --set checkpoint.every="$half"
             --set model.pretrained="$work/twostage_prior/checkpoints/last/model"
             --set model.overrides.controlnet_blocks=4 --set optim.lr=4.0e-4) ;;
    *) extra=("${concat[@]}" ${EXTRA:-}) ;;  # any other name: base + $EXTRA
  esac
  run="$work/$v"
  [ -e "$run/checkpoints/last" ] || "$vap" train "${common[@]}" "${extra[@]}" --data "$data" \
    --out "$run"
  [ -f "$run/eval/metrics.json" ] || "$vap" eval --checkpoint "$run" --data "$test_cache" \
    --source commanded --out "$run/eval" --videos 0 ${CLIPS:+--clips "$CLIPS"}
done

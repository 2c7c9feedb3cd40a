"""Fit a training run into a wall-clock budget: ``vap-ros train --time-budget 8m``.

The number of optimizer steps is sized from a short throughput probe on the real trainer
(the real model, optimizer, data loader, batch size, precision and device). The probe runs
``warmup`` untimed steps (kernel selection, allocator warm-up, data-loader start-up: counting
them under-estimated the GPU's speed by about 2x, shared/notes/gpu-runs.md) and then ``steps``
timed ones, and finally restores every weight, the optimizer, lr schedule and RNG state, so the
training that follows is exactly the one it would have been without a probe.

    steps = floor((budget - time already spent - reserve) / median probe step time)

The reserve covers what is not a training step: the checkpoints (3x one measured
``save_pretrained`` each: model, trainable weights, optimizer moments), and a margin (5 % of the
budget) for a machine whose load changes.
"""

from __future__ import annotations

import copy
import math
import re
import statistics
import time
from typing import Any

import torch

from vap_ros.errors import ConfigError

__all__ = ["parse_duration", "probe_step_time", "size_steps"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
CHECKPOINT_FACTOR = 3.0


def parse_duration(text: str | float | int) -> float:
    """``"8m"``, ``"90s"``, ``"1h30m"``, ``"2.5m"`` or a number of seconds -> seconds.

    Raises:
        ConfigError: not a positive duration.
    """
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        t = str(text).strip().lower()
        parts = re.findall(r"(\d+(?:\.\d+)?)\s*([smh]?)", t)
        if not parts or re.sub(r"(\d+(?:\.\d+)?)\s*([smh]?)", "", t).strip():
            raise ConfigError(f"time budget {text!r}: expected a duration like 8m, 90s, 1h30m "
                              "or a number of seconds")
        seconds = sum(float(n) * _UNITS[u or "s"] for n, u in parts)
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"time budget {text!r}: expected a positive duration")
    return seconds


def _snapshot(trainer) -> dict[str, Any]:
    acc = trainer.accelerator
    return {
        "params": [p.detach().clone() for p in trainer.model.trainable_parameters()],
        "optimizer": copy.deepcopy(trainer.optimizer.state_dict()),
        "lr_scheduler": copy.deepcopy(trainer.lr_scheduler.state_dict()),
        "scaler": copy.deepcopy(acc.scaler.state_dict()) if acc.scaler is not None else None,
        "rng": torch.random.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None,
    }


def _restore(trainer, snap: dict[str, Any]) -> None:
    acc = trainer.accelerator
    with torch.no_grad():
        for p, saved in zip(trainer.model.trainable_parameters(), snap["params"]):
            p.copy_(saved)
            p.grad = None
    trainer.optimizer.load_state_dict(snap["optimizer"])
    trainer.lr_scheduler.load_state_dict(snap["lr_scheduler"])
    if snap["scaler"] is not None:
        acc.scaler.load_state_dict(snap["scaler"])
    torch.random.set_rng_state(snap["rng"])
    if snap["cuda_rng"] is not None:
        torch.cuda.set_rng_state_all(snap["cuda_rng"])


def probe_step_time(trainer, *, warmup: int = 3, steps: int = 5) -> dict[str, float]:
    """Median seconds per optimizer step of ``trainer`` after ``warmup`` untimed steps.

    Leaves the trainer exactly as it was (weights, optimizer, schedule, RNG states).

    Returns:
        ``{"step_s", "clips_per_s", "warmup", "steps", "probe_s"}``.
    """
    from vap_ros.train.data import StepBatches

    if steps < 1 or warmup < 0:
        raise ConfigError(f"probe: steps={steps} must be >= 1 and warmup={warmup} >= 0")
    cfg, acc = trainer.config, trainer.accelerator
    t_start = time.perf_counter()
    snap = _snapshot(trainer)
    n = warmup + steps
    sampler = StepBatches(len(trainer.dataset), seed=cfg.seed, batch_size=cfg.batch_size,
                          grad_accum=cfg.grad_accum, world_size=trainer.world,
                          rank=trainer.rank, start_step=0, steps=n)
    batches = iter(trainer._loader(sampler))
    micro_ids = sampler.micro_ids()
    trainer.loss_module.train()
    times = []
    try:
        for step in range(n):
            if acc.device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            trainer.optimizer_step(batches, micro_ids, step)
            if acc.device.type == "cuda":
                torch.cuda.synchronize()
            if step >= warmup:
                times.append(time.perf_counter() - t0)
    finally:
        del batches
        _restore(trainer, snap)
    # every process must agree on the step count: take the slowest process's median
    step_s = float(acc.reduce(torch.tensor(statistics.median(times), device=acc.device),
                              reduction="max") if trainer.world > 1
                   else statistics.median(times))
    return {"step_s": step_s, "clips_per_s": trainer.global_batch / step_s,
            "warmup": warmup, "steps": steps, "probe_s": time.perf_counter() - t_start}


def size_steps(trainer, budget_s: float, *, started: float, warmup: int = 3, steps: int = 5,
               margin: float = 0.05, min_steps: int = 1) -> dict[str, Any]:
    """Probe, then set the trainer's run length so the run ends within ``budget_s`` seconds of
    ``started`` (a ``time.perf_counter()`` taken when the command began).

    The reserve is ``margin`` x the budget plus the measured time of one checkpoint save for
    every checkpoint the run will write. Returns what was measured and decided (recorded in the
    run folder as ``budget.json`` by the CLI).

    Raises:
        ConfigError: the budget leaves no time for ``min_steps`` steps.
    """
    from accelerate.utils import broadcast_object_list

    probe = probe_step_time(trainer, warmup=warmup, steps=steps)
    # A checkpoint writes the model, the trainable weights again and AdamW's two moments:
    # about 3x one save_pretrained of the model.
    save_s = CHECKPOINT_FACTOR * _measure_save(trainer)
    left = budget_s - (time.perf_counter() - started) - margin * budget_s
    every = trainer.config.checkpoint.every
    # n steps cost n * step_s + (n // every + 1) * save_s
    n = int(max(0.0, left - save_s) / (probe["step_s"] + save_s / every))
    n = int(broadcast_object_list([n])[0])  # the main process decides for all
    if n < min_steps:
        raise ConfigError(
            f"time budget {budget_s:.0f} s leaves {max(left, 0):.0f} s after start-up and the "
            f"throughput probe ({probe['step_s']:.2f} s per step, {save_s:.1f} s per "
            f"checkpoint): not enough for {min_steps} step(s); give a larger --time-budget")
    trainer.set_steps(n)
    return {"budget_s": budget_s, "probe": probe, "checkpoint_s": save_s,
            "reserve_s": margin * budget_s, "steps": n,
            "expected_train_s": n * probe["step_s"] + (n // every + 1) * save_s,
            "global_batch": trainer.global_batch,
            "samples": n * trainer.global_batch}


def _measure_save(trainer) -> float:
    """Seconds to write the model as a checkpoint does (to a scratch folder, then removed)."""
    import shutil
    import tempfile

    if not trainer.is_main:
        return 0.0
    tmp = tempfile.mkdtemp(prefix="vap_probe_")
    try:
        t0 = time.perf_counter()
        trainer.model.save_pretrained(tmp)
        return time.perf_counter() - t0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

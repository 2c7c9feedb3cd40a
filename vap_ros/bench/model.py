"""World-model speed and memory: one denoising step, one rollout, one training step.

Builds a preset (random weights unless --base is given; --random-base lets the cogvideox-*
presets run without their weights), predicts R rollouts of V views from random first frames and
prompts, and reports the median per-step and per-rollout latency, a training step (forward +
backward + AdamW on the trainable parameters) and peak memory (process RSS; CUDA allocator
peak when on a GPU). A benchmark only: nothing is asserted.

CPU threads: OpenMP's default lets idle worker threads spin; on cores shared with other
processes that made a 2-thread small-preset rollout ~5x slower (37.7 s vs 6.7 s at load ~13).
The lookahead node's model process runs with ``OMP_WAIT_POLICY=PASSIVE``, so this benchmark
does too (``--omp-wait-policy``); it takes effect only if torch is not loaded yet.
"""

from __future__ import annotations

import os
import resource
import sys
import time

import numpy as np

HELP = "world model: per-step / per-rollout latency, training step, peak memory"


def add_arguments(p) -> None:
    p.add_argument("--preset", default="tiny")
    p.add_argument("--base", default=None, help="local diffusers directory (cogvideox-* presets)")
    p.add_argument("--random-base", action="store_true",
                   help="random weights for a preset that normally needs --base")
    p.add_argument("--conditioning", default=None, help="skeleton | raw_action | none")
    p.add_argument("--views", type=int, default=1)
    p.add_argument("--steps", type=int, default=None, help="sampling steps (preset default)")
    p.add_argument("--guidance", type=float, default=1.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--width", type=int, default=None)
    p.add_argument("--frames", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu | cuda (default: cuda when available)")
    p.add_argument("--dtype", default=None, help="float32 | bfloat16 (default: bf16 on cuda)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads (torch)")
    p.add_argument("--no-train", action="store_true", help="skip the training-step timing")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--omp-wait-policy", default="PASSIVE",
                   help="OMP_WAIT_POLICY for the CPU threads (PASSIVE: as the lookahead node's "
                        "model process; ACTIVE: OpenMP's spinning; env: leave it as set)")


def _sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _omp_wait_policy(choice: str) -> str:
    """Set OMP_WAIT_POLICY before OpenMP starts (torch's import); what is in effect."""
    if choice.lower() != "env" and "torch" not in sys.modules:
        os.environ["OMP_WAIT_POLICY"] = choice.upper()
    policy = os.environ.get("OMP_WAIT_POLICY", "unset (OpenMP default)")
    return policy if "torch" not in sys.modules else f"{policy} (torch was loaded before)"


def run(args) -> dict:
    policy = _omp_wait_policy(args.omp_wait_policy)
    import psutil
    import torch

    from vap_ros.model import WorldModel  # imports diffusers/peft: outside build_s

    torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = getattr(torch, args.dtype or ("bfloat16" if device.type == "cuda" else "float32"))
    overrides = {k: v for k, v in (("height", args.height), ("width", args.width),
                                   ("num_frames", args.frames),
                                   ("conditioning", args.conditioning)) if v is not None}
    # import costs outside build_s (diffusers imports its classes lazily)
    import diffusers
    import peft

    _ = (diffusers.CogVideoXTransformer3DModel, diffusers.AutoencoderKLCogVideoX, peft.LoraConfig)
    t0 = time.perf_counter()
    with torch.device(device):
        wm = WorldModel.from_preset(args.preset, base=args.base, seed=0,
                                    random_base=args.random_base, **overrides)
    wm.to(device=device, dtype=dtype).eval()
    if wm.codec.vae is not None:
        wm.codec.vae.enable_tiling()
    build_s = time.perf_counter() - t0
    cfg = wm.config
    steps = args.steps or cfg.steps
    rng = np.random.default_rng(0)
    v, t, h, w = args.views, cfg.num_frames, cfg.height, cfg.width
    first = rng.integers(0, 255, (v, h, w, 3), dtype=np.uint8)
    prompts = rng.integers(0, 255, (v, t, h, w, 3), dtype=np.uint8)
    actions = rng.normal(size=(t, cfg.action_dim)).astype(np.float32)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    stamps: list[float] = []

    def tick(_i: int) -> None:
        _sync(torch, device)
        stamps.append(time.perf_counter())

    wm.predict(first, prompts, actions=actions, steps=min(steps, 2),
               guidance_scale=args.guidance)  # warm-up
    rollouts, per_step = [], []
    for r in range(args.repeats):
        stamps.clear()
        _sync(torch, device)
        start = time.perf_counter()
        wm.predict(first, prompts, actions=actions, steps=steps, seed=r,
                   guidance_scale=args.guidance, callback=tick)
        _sync(torch, device)
        rollouts.append(time.perf_counter() - start)
        per_step += list(np.diff(stamps))
    infer_peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else None
    report = {
        "preset": cfg.preset, "conditioning": cfg.conditioning,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "dtype": str(dtype).replace("torch.", ""), "threads": args.threads,
        "omp_wait_policy": policy,
        "clip": f"{v} view(s) x {t} frames @ {h}x{w} ({cfg.space} space)",
        "tokens_per_view": cfg.latent_frames * (h // (cfg.spatial_ratio * cfg.patch_size))
        * (w // (cfg.spatial_ratio * cfg.patch_size)),
        "params_total_M": wm.num_parameters()["total"] / 1e6,
        "params_trainable_M": wm.num_parameters()["trainable"] / 1e6,
        "build_s": build_s, "sampling_steps": steps, "guidance_scale": args.guidance,
        "step_ms_median": float(np.median(per_step)) * 1e3 if per_step else float("nan"),
        "rollout_s_median": float(np.median(rollouts)),
        "predicted_frames_per_s": v * t / float(np.median(rollouts)),
    }
    if infer_peak is not None:
        report["cuda_peak_inference_GiB"] = infer_peak
    if not args.no_train:
        wm.train()
        wm.enable_gradient_checkpointing(args.gradient_checkpointing)
        opt = torch.optim.AdamW(wm.parameter_groups(1e-4))
        gen = torch.Generator(device).manual_seed(0)
        batch = {"video": torch.rand(1, v, 3, t, h, w, device=device) * 2 - 1,
                 "prompts": torch.rand(1, v, 3, t, h, w, device=device) * 2 - 1,
                 "actions": torch.randn(1, t, cfg.action_dim, device=device)}
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(args.repeats + 1):
            _sync(torch, device)
            start = time.perf_counter()
            loss = wm.training_loss(batch, gen)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            _sync(torch, device)
            times.append(time.perf_counter() - start)
        report["train_step_ms_median"] = float(np.median(times[1:])) * 1e3
        report["gradient_checkpointing"] = args.gradient_checkpointing
        if device.type == "cuda":
            report["cuda_peak_train_GiB"] = torch.cuda.max_memory_allocated() / 2**30
    report["rss_now_MiB"] = psutil.Process().memory_info().rss / 2**20
    report["rss_peak_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return report

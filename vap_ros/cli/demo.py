"""``vap-ros demo``: the live loop on the simulated rig with the shipped default model."""

from __future__ import annotations

from pathlib import Path

from vap_ros.cli.eval import DTYPES


def register(sub) -> None:
    p = sub.add_parser("demo", help="live lookahead on the simulated rig, end to end",
                       description="Start the simulated rig, send a scripted task's plan, "
                                   "predict each camera's video with the world model while the "
                                   "rig executes it, and write per camera a side-by-side video "
                                   "(predicted | real | prompt) as MP4 and GIF plus metrics.json.")
    p.add_argument("--out", default="out/demo", help="output folder (default out/demo)")
    p.add_argument("--model", default="", help="checkpoint folder (default: the shipped model)")
    p.add_argument("--task", default="pick_place",
                   choices=["reach", "push", "pick_place", "poke"])
    p.add_argument("--seed", type=int, default=7, help="scene seed (layout, objects, cameras)")
    p.add_argument("--cameras", default="front,left,right", help="comma-separated cameras")
    p.add_argument("--steps", type=int, default=0, help="denoising steps (0 = model default)")
    p.add_argument("--device", default="cpu", help="torch device of the model: cpu, cuda")
    p.add_argument("--dtype", choices=DTYPES, default="float32",
                   help="model weights and activations (default float32)")
    p.set_defaults(func=run)


def run(args) -> int:
    from vap_ros.ros.demo import DemoSettings, run_demo

    s = DemoSettings(out=Path(args.out), model=args.model, task=args.task, seed=args.seed,
                     cameras=tuple(c for c in args.cameras.split(",") if c), steps=args.steps,
                     device=args.device, dtype=args.dtype)
    r = run_demo(s)
    m, c = r["mean"]["model"], r["mean"]["copy_first_frame"]
    print(f"\nvap-ros demo: task {r['task']!r}, {len(r['cameras'])} cameras, "
          f"{sum(v['rollouts'] for v in r['per_camera'].values())} rollouts")
    print(f"  model             PSNR {m['psnr']:.2f} dB  SSIM {m['ssim']:.3f}  "
          f"gripper PSNR {m['gripper_psnr']:.2f} dB")
    print(f"  copy-first-frame  PSNR {c['psnr']:.2f} dB  SSIM {c['ssim']:.3f}  "
          f"gripper PSNR {c['gripper_psnr']:.2f} dB")
    d = r["during_plan"]
    print(f"  gain over copy-first-frame: {r['gain_psnr_db']:+.2f} dB over all rollouts, "
          f"{d['gain_psnr_db']:+.2f} dB over those started while the plan runs")
    print(f"  latency: {r['latency']['inference_s_mean']:.2f} s per rollout (model); first "
          f"rollout {r['latency']['plan_to_first_rollout_s']:.2f} s after the plan")
    for cam, why in r.get("unscored", {}).items():
        print(f"  camera {cam!r} has no scored rollout: {why}")
    print(f"  outputs in {s.out}: {', '.join(r['files'])}, metrics.json")
    return 0 if not r.get("unscored") else 1

"""``vap-ros eval``: score a trained model against baselines on a clip cache."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")  # vap_ros.serve.DTYPES (not imported: fast --help)


def register(sub) -> None:
    p = sub.add_parser(
        "eval", help="evaluate a checkpoint against baselines (PSNR, SSIM, ST-IoU, ...)",
        description="Predict every clip from its first frame(s) and prompts with the "
                    "checkpoint, copy-first-frame and every --baseline; write OUT/metrics.json "
                    "(per clip and aggregated), OUT/table.txt and side-by-side videos "
                    "OUT/videos/<model>/clipNNNN_viewV.{mp4,gif} (real | predicted | prompt). "
                    "See docs/train.md for metric definitions.")
    p.add_argument("--checkpoint", required=True,
                   help="run folder (its newest valid checkpoint), checkpoint folder or "
                        "save_pretrained folder")
    p.add_argument("--data", required=True, help="clip cache folder")
    p.add_argument("--baseline", action="append", default=[], metavar="PATH",
                   help="another trained model to compare (raw-action, no-action, older run); "
                        "repeatable")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true",
                   help="overwrite the results of an earlier evaluation in --out")
    p.add_argument("--source", choices=("logged", "commanded"), default=None,
                   help="prompt/action variant of the clips (default: the cache's)")
    p.add_argument("--clips", type=int, default=None, help="evaluate only the first N clips")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (default: model's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--videos", type=int, default=2,
                   help="write side-by-side MP4 + GIF for the first N clips (default 2)")
    p.add_argument("--region-radius", type=float, default=0.08,
                   help="gripper region radius, fraction of min(H, W) (default 0.08)")
    p.add_argument("--motion-threshold", type=float, default=0.1,
                   help="ST-IoU motion threshold, fraction of the range (default 0.1)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    p.add_argument("--dtype", choices=DTYPES, default="float32",
                   help="model weights and activations (default float32; bfloat16 for "
                        "CogVideoX presets on a GPU)")
    p.add_argument("--follow", default=None, metavar="CACHE",
                   help="also run the action-following check on this clip cache of branching "
                        "recordings (same first frame, different plans; docs/train.md)")
    p.add_argument("--follow-pairs", type=int, default=24,
                   help="score at most N branching pairs (default 24)")
    p.add_argument("--guidance", type=float, default=1.0,
                   help="classifier-free guidance scale on the action prompt (default 1: none)")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from vap_ros.data import ClipDataset
    from vap_ros.outputs import check_out_dir, refuse_overwrite
    from vap_ros.train.evaluate import EvalSettings, evaluate, format_table, load_models

    out = check_out_dir(args.out)  # before any inference: results are written at the end
    refuse_overwrite([Path(out) / "metrics.json", Path(out) / "table.txt"], force=args.force)
    dataset = ClipDataset(args.data, source=args.source)
    models = load_models(args.checkpoint, args.baseline, device=args.device, dtype=args.dtype)
    settings = EvalSettings(max_clips=args.clips, steps=args.steps, seed=args.seed,
                            videos=args.videos, region_radius=args.region_radius,
                            motion_threshold=args.motion_threshold,
                            guidance_scale=args.guidance)
    report = evaluate(models, dataset, args.out, settings)
    print(format_table(report))
    if args.follow:
        import json

        from vap_ros.train.evaluate import _jsonable
        from vap_ros.train.following import FollowSettings, evaluate_following, format_following

        follow = evaluate_following(models, ClipDataset(args.follow, source=args.source),
                                    FollowSettings(steps=args.steps, seed=args.seed,
                                                   threshold=args.motion_threshold,
                                                   max_pairs=args.follow_pairs,
                                                   guidance_scale=args.guidance))
        report["following"] = follow
        out = Path(args.out)
        (out / "metrics.json").write_text(json.dumps(_jsonable(report), indent=2))
        with open(out / "table.txt", "a") as f:
            f.write("\n" + format_following(follow) + "\n")
        print(format_following(follow))
    print(f"wrote {args.out}/metrics.json, table.txt and videos/")
    return 0

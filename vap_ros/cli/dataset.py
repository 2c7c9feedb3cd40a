"""``vap-ros dataset …``: turn rosbags into a clip cache for training."""

from __future__ import annotations

from vap_ros.prompts.encoding import PROMPT_TYPES


def register(sub) -> None:
    p = sub.add_parser("dataset", help="build training clips from rosbags")
    dsub = p.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND")
    dsub.required = True
    b = dsub.add_parser(
        "build", help="bags → clip cache (shards + manifest.json)",
        description="Read bags (rosbag2 MCAP/sqlite3 folders or files, ROS 1 .bag, or folders "
                    "of bags), synchronise joint states to every image, calibrate the cameras "
                    "from camera_info + /tf_static (or --calibration), cut clips, render their "
                    "prompts (skeleton, or --prompt-type) and write a shard cache with a build "
                    "report.")
    b.add_argument("bags", nargs="+", metavar="BAG", help="bag folders/files or folders of bags")
    b.add_argument("--config", default="sim",
                   help="rig config: a preset (sim, franka_lab) or a YAML path (default sim)")
    b.add_argument("--out", required=True, help="output folder of the cache")
    b.add_argument("--workers", type=int, default=1, help="processes (bags run in parallel)")
    b.add_argument("--calibration", default=None,
                   help="calibration YAML overriding the bags' camera_info/TF")
    b.add_argument("--prompt-source", choices=("commanded", "logged"), default=None,
                   help="prompts/actions served by default (overrides the config)")
    b.add_argument("--prompt-type", choices=PROMPT_TYPES, default=None,
                   help="prompt video the clips get (overrides the config's prompt_type; "
                        "default skeleton); a model trained on them takes only this type")
    b.add_argument("--overwrite", action="store_true",
                   help="replace an existing cache in OUT (once the new one is complete; other "
                        "files in OUT are kept)")
    b.add_argument("--no-progress", action="store_true", help="no progress bar")
    b.set_defaults(func=run_build)


def run_build(args) -> int:
    from vap_ros.data import build_dataset, format_report, load_rig_config

    overrides = {"prompt_source": args.prompt_source} if args.prompt_source else {}
    if args.prompt_type:
        overrides["prompt_type"] = args.prompt_type
    cfg = load_rig_config(args.config, **overrides)
    manifest = build_dataset(args.bags, args.out, cfg, workers=args.workers,
                             calibration=args.calibration, overwrite=args.overwrite,
                             progress=not args.no_progress)
    print(format_report(manifest))
    totals = manifest["report"]["totals"]
    if not totals["clips_written"]:
        print(f"no clip was written: {args.out} was left as it was")
        return 1
    print(f"cache: {args.out}/manifest.json")
    return 1 if totals["bags_failed"] else 0

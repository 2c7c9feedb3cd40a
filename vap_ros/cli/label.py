"""``vap-ros label``: end-effector trajectory + gripper of a bag from its images alone (the
joint model's labelling mode, docs/policy.md); ``vap-ros experiment labelling`` scores it on
held-out episodes (registered by ``vap_ros.cli.experiment``)."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")


def register(sub) -> None:
    p = sub.add_parser(
        "label", help="label a bag's end-effector trajectory from its images (no joint states)",
        description="Read the chosen cameras' images and calibration (camera_info + TF, or "
                    "--calibration) of BAG at the model's frame rate and size, generate action "
                    "images with a model trained with generate_actions: action_images (its "
                    "labelling mode: the video given, no joint state), decode them across the "
                    "views (triangulation) and write OUT as JSON: stamps_ns, ee_xyz_m, "
                    "ee_quat_xyzw, gripper_width_m (binary: open = full width, closed = 0), "
                    "gripper_open, valid (false: filled from the neighbouring frames).")
    p.add_argument("bag", help="a rosbag2 folder (or file)")
    p.add_argument("--camera", action="append", default=None, metavar="NAME",
                   help="a camera to use (>= 2; repeatable; default: every camera of the bag)")
    p.add_argument("--model", required=True, help="model folder, run or checkpoint folder")
    p.add_argument("--out", required=True, help="the JSON file to write")
    p.add_argument("--config", default="sim", help="rig config: preset or YAML (default sim)")
    p.add_argument("--calibration", default=None, help="calibration YAML overriding the bag's")
    _decode_args(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run_label)


def _decode_args(p) -> None:
    p.add_argument("--steps", type=int, default=1,
                   help="sampler steps (default 1: labelling is a deterministic mapping, and "
                        "the model's one-step prediction gave the lowest error on validation "
                        "episodes, docs/policy.md)")
    p.add_argument("--decoder", choices=("robust", "codec"), default="robust",
                   help="robust (default): matched filter + local fit, outlier views dropped; "
                        "codec: ActionImageCodec.decode as is")
    p.add_argument("--smooth", type=int, default=3, metavar="FRAMES",
                   help="median-filter positions over this many frames (default 3; 1 = off)")


def add_labelling_experiment(esub) -> None:
    """``vap-ros experiment labelling`` (called from ``vap_ros.cli.experiment.register``)."""
    e = esub.add_parser(
        "labelling", help="labelling error on held-out episodes vs the mean-pose baseline",
        description="Label every episode bag of each --episodes folder from its images (as "
                    "vap-ros label does) and score it against the logged end-effector pose "
                    "(FK of the logged joint states at the image stamps): position error "
                    "median/p90 (mm), rotation error (deg), gripper state accuracy; beside it "
                    "the mean training pose (--baseline-data, the trivial baseline) and the "
                    "codec floor (true action images decoded). Writes OUT/labelling.json, "
                    "OUT/table.txt, OUT/labels/*.json and, for the first --videos episodes of "
                    "each group, OUT/videos/*.mp4, *_frames.png (side-by-sides) and *_xyz.png.")
    e.add_argument("--model", required=True, help="model folder, run or checkpoint folder")
    e.add_argument("--episodes", action="append", required=True, metavar="[NAME=]DIR",
                   help="a group of episode bags (a folder of bags); repeatable; NAME labels "
                        "the group in the table (default: the folder name)")
    e.add_argument("--baseline-data", required=True, metavar="CACHE",
                   help="the training clip cache (its mean pose is the trivial baseline)")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--config", default="sim", help="rig config: preset or YAML (default sim)")
    _decode_args(e)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--videos", type=int, default=1,
                   help="side-by-side videos of the first N episodes per group (default 1)")
    e.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    e.add_argument("--dtype", choices=DTYPES, default="float32")
    e.add_argument("--force", action="store_true", help="overwrite earlier results in --out")
    e.add_argument("--json", action="store_true", dest="print_json",
                   help="print the summary as JSON instead of the table")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")
    e.set_defaults(func=run_labelling)


def _model(args):
    from pathlib import Path

    from vap_ros.serve import load_world_model
    from vap_ros.train.checkpoint import resolve_model_dir

    path = str(resolve_model_dir(args.model)) if Path(args.model).exists() else args.model
    return load_world_model(path, device=args.device, dtype=args.dtype)


def run_label(args) -> int:
    from vap_ros.label.labeller import label_bag

    model, model_id = _model(args)
    doc, labels, _ = label_bag(model, args.bag, args.camera, out=args.out, config=args.config,
                               calibration=args.calibration, steps=args.steps, seed=args.seed,
                               progress=not args.no_progress, model_id=model_id,
                               decoder=args.decoder, smooth_frames=args.smooth)
    print(f"labelled {len(doc['stamps_ns'])} frames of {args.bag} from cameras "
          f"{doc['cameras']} ({int(labels.valid.sum())} triangulated, the rest filled): "
          f"{args.out}")
    return 0


def run_labelling(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.label.evaluate import evaluate_labelling, format_table, mean_pose
    from vap_ros.outputs import check_out_dir, refuse_overwrite

    out = Path(check_out_dir(args.out))
    refuse_overwrite([out / "labelling.json", out / "table.txt"], force=args.force)
    groups: dict[str, list[str]] = {}
    for item in args.episodes:
        name, sep, folder = item.partition("=")
        if not sep:
            name, folder = Path(item).name, item
        groups.setdefault(name, []).append(folder)
    baseline = mean_pose(args.baseline_data)
    model, model_id = _model(args)
    report = evaluate_labelling(model, groups, baseline, out=out, steps=args.steps,
                                seed=args.seed, videos=args.videos, config=args.config,
                                progress=not args.no_progress, model_id=model_id,
                                decoder=args.decoder, smooth_frames=args.smooth)
    if args.print_json:
        print(json.dumps({name: {k: g.get(k) for k in ("episodes", "model", "mean_pose",
                                                        "codec_floor", "seconds_per_episode")}
                          for name, g in report["groups"].items()}, indent=1))
    else:
        print(format_table(report))
        print(f"wrote {out}/labelling.json, table.txt, labels/ and videos/")
    return 0

"""``vap-ros rank``: rank candidate plans of a simulated scene (``--sim-seed``) or of a bag's
scene (``--bag``, plans from JSON, a goal image per camera) with the world model."""

from __future__ import annotations

TASKS = ("reach", "push", "pick_place", "poke")  # vap_ros.sim.TASKS (not imported: fast --help)
DTYPES = ("float32", "bfloat16", "float16")  # vap_ros.serve.DTYPES


def add_model_args(p) -> None:
    """--model, --steps, --seed, --device, --dtype (shared with ``experiment ranking``)."""
    p.add_argument("--model", default="",
                   help="model folder, run or checkpoint folder (default: the shipped model)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (default: model's)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed of every plan")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    p.add_argument("--dtype", choices=DTYPES, default="float32")


def add_ranking_args(p, task_required: bool = True) -> None:
    """--task, --candidates, --metric, --tolerance-m."""
    p.add_argument("--task", choices=TASKS, required=task_required,
                   help="the scripted task" + ("" if task_required else " (with --sim-seed)"))
    p.add_argument("--candidates", type=int, default=None,
                   help="K plans: the task's scripted plan + K-1 perturbed variants (default 6)")
    p.add_argument("--metric", choices=("region", "psnr"), default="region",
                   help="rank by PSNR over the goal's changed region (default) or the whole "
                        "frame")
    p.add_argument("--tolerance-m", type=float, default=None,
                   help="success: the object (reach: the tool) ends this close to the goal's "
                        "(default 0.03)")


def add_output_args(p, json_help: str) -> None:
    """--out, --force, --json (print) and --no-progress, as rank and experiment ranking take
    them."""
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite an earlier result in --out")
    p.add_argument("--json", action="store_true", dest="print_json", help=json_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub) -> None:
    p = sub.add_parser(
        "rank", help="rank candidate plans of a scene (simulated or a bag's) with the world model",
        description="Predict every candidate plan's whole video from the cameras' current "
                    "images and rank the plans by their predicted final frames against a goal "
                    "image per camera. --sim-seed: build the simulated scene of the seed (the "
                    "first episode `vap-ros sim record --seed S` would record), plan --task's "
                    "scripted plan and --candidates - 1 perturbed variants (targets "
                    "rotated/shifted); the goal is the nominal plan's real final frame per "
                    "camera, and every plan is also run in the physics (true score and success "
                    "beside the prediction). --bag: the scene is each camera's image at (or "
                    "just before) --at in the bag, its calibration (camera_info + /tf_static, "
                    "or --calibration) and the logged joint state; the plans come from --plans "
                    "(JSON, see docs/model.md) and the goal from --goal CAM=IMAGE.png per "
                    "camera. Writes OUT/ranking.json and OUT/candidates.png.")
    scene = p.add_mutually_exclusive_group(required=True)
    scene.add_argument("--sim-seed", type=int, help="the simulated scene's seed (with --task)")
    scene.add_argument("--bag", help="a bag (folder or file): rank plans on its scene")
    b = p.add_argument_group("bag scenes (--bag)")
    b.add_argument("--at", type=float, default=None, metavar="SECONDS",
                   help="the scene's moment, seconds from the bag's first image (default: the "
                        "newest moment every camera has an image)")
    b.add_argument("--plans", help="candidate plans, JSON: {\"joint_names\": [...], "
                                   "\"plans\": [{\"name\": ..., \"points\": [{\"t\": s, "
                                   "\"positions\": [...]}, ...]}, ...]}")
    b.add_argument("--goal", action="append", default=[], metavar="CAM=IMAGE.png",
                   help="the goal image of a camera, its images' size (repeat per camera)")
    b.add_argument("--camera", action="append", default=[], metavar="NAME",
                   help="rank with this camera (repeatable; default every camera of the bag)")
    b.add_argument("--calibration", default=None,
                   help="calibration YAML overriding the bag's camera_info/TF")
    b.add_argument("--config", default=None,
                   help="rig config: preset (sim, franka_lab) or YAML path (default sim)")
    add_ranking_args(p, task_required=False)
    add_model_args(p)
    add_output_args(p, "print {plans, ranking, ...} as JSON instead of the table")
    p.set_defaults(func=run_rank)


def load(args):
    """(model, label, scene config at the model's size, robot)."""
    from pathlib import Path

    from vap_ros.robot import RobotModel
    from vap_ros.serve import load_world_model
    from vap_ros.sim import SceneConfig
    from vap_ros.train.checkpoint import resolve_model_dir

    path = str(resolve_model_dir(args.model)) if Path(args.model or "-").exists() else args.model
    model, model_id = load_world_model(path, device=args.device, dtype=args.dtype)
    cfg = SceneConfig(width=int(model.config.width), height=int(model.config.height))
    return model, model_id, cfg, RobotModel.from_preset(cfg.robot)


def settings(args):
    from vap_ros.train.ranking import RankingSettings

    s = RankingSettings(candidates=6 if args.candidates is None else args.candidates,
                        steps=args.steps, seed=args.seed,
                        tolerance_m=0.03 if args.tolerance_m is None else args.tolerance_m,
                        metric=args.metric)
    s.check()  # before the model loads
    return s


def check_args(args) -> None:
    """The options of one scene kind only (argparse checks that exactly one is given).

    Raises:
        ConfigError: naming the option.
    """
    from vap_ros.errors import ConfigError

    if args.bag is None:
        if args.task is None:
            raise ConfigError("--sim-seed needs --task")
        given = [o for o, v in (("--plans", args.plans), ("--goal", args.goal),
                                ("--camera", args.camera), ("--at", args.at),
                                ("--calibration", args.calibration),
                                ("--config", args.config)) if v]
        if given:
            raise ConfigError(f"{given[0]} is for --bag scenes, not --sim-seed")
        return
    if args.task is not None:
        raise ConfigError("--task is for --sim-seed scenes; with --bag give --plans")
    sim_only = [o for o, v in (("--candidates", args.candidates),
                               ("--tolerance-m", args.tolerance_m)) if v is not None]
    if sim_only:
        raise ConfigError(f"{sim_only[0]} is for --sim-seed scenes (generated candidates, "
                          "executed outcomes), not --bag: the plans come from --plans")
    if not args.plans:
        raise ConfigError("--bag needs --plans PLANS.json")
    if not args.goal:
        raise ConfigError("--bag needs a goal image per camera: --goal CAM=IMAGE.png")


def run_rank(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.outputs import check_out_dir, refuse_overwrite

    check_args(args)
    if args.bag is not None:
        return run_rank_bag(args)
    from vap_ros.train.ranking import format_ranking, rank_sim_scene, write_candidates_png

    s = settings(args)
    out = Path(check_out_dir(args.out))
    refuse_overwrite([out / "ranking.json", out / "candidates.png"], force=args.force)
    model, model_id, cfg, robot = load(args)
    sr = rank_sim_scene(model, cfg, robot, args.sim_seed, args.task, s,
                        progress=not args.no_progress)
    sr.entry["model"] = model_id
    out.mkdir(parents=True, exist_ok=True)
    (out / "ranking.json").write_text(json.dumps(sr.entry, indent=1))
    write_candidates_png(sr, out / "candidates.png")
    if args.print_json:
        print(json.dumps(sr.entry, indent=1))
    else:
        print(format_ranking(sr.entry))
        print(f"wrote {out}/ranking.json and candidates.png")
    return 0


def run_rank_bag(args) -> int:
    """``rank --bag``: everything is checked (scene, plans, goals) before the model loads."""
    import json
    from pathlib import Path

    from vap_ros.data.config import load_rig_config
    from vap_ros.errors import ConfigError
    from vap_ros.outputs import check_out_dir, refuse_overwrite
    from vap_ros.robot import RobotModel
    from vap_ros.serve.ranking import METRICS
    from vap_ros.train import bag_ranking as rb

    if args.metric not in METRICS:
        raise ConfigError(f"metric {args.metric!r}: expected one of {list(METRICS)}")
    out = Path(check_out_dir(args.out))
    refuse_overwrite([out / "ranking.json", out / "candidates.png"], force=args.force)
    goals = rb.parse_goal_args(args.goal)
    scene = rb.read_bag_scene(args.bag, at_s=args.at, cameras=args.camera or None,
                              config=args.config, calibration=args.calibration)
    robot = RobotModel.from_preset(load_rig_config(args.config).robot)
    names, plans = rb.load_plans(args.plans, robot, start_q=scene.q, start_width_m=scene.width_m)
    goal = rb.load_goal_images(goals, scene)
    model, model_id, _cfg, _robot = load(args)
    ranked = rb.rank_bag_scene(model, scene, names, plans, goal, steps=args.steps,
                               seed=args.seed, metric=args.metric,
                               progress=not args.no_progress)
    ranked.entry["model"] = model_id
    ranked.entry["plans_file"] = str(args.plans)
    ranked.entry["goals"] = {c: str(goals[c]) for c in scene.names}
    out.mkdir(parents=True, exist_ok=True)
    (out / "ranking.json").write_text(json.dumps(ranked.entry, indent=1))
    rb.write_bag_candidates_png(ranked, out / "candidates.png")
    if args.print_json:
        print(json.dumps(ranked.entry, indent=1))
    else:
        print(rb.format_bag_ranking(ranked.entry))
        print(f"wrote {out}/ranking.json and candidates.png")
    return 0

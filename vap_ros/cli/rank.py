"""``vap-ros rank``: rank candidate plans of a simulated scene with the world model."""

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


def add_ranking_args(p) -> None:
    """--task, --candidates, --metric, --tolerance-m."""
    p.add_argument("--task", choices=TASKS, required=True, help="the scripted task")
    p.add_argument("--candidates", type=int, default=6,
                   help="K plans: the task's scripted plan + K-1 perturbed variants (default 6)")
    p.add_argument("--metric", choices=("region", "psnr"), default="region",
                   help="rank by PSNR over the goal's changed region (default) or the whole "
                        "frame")
    p.add_argument("--tolerance-m", type=float, default=0.03,
                   help="success: the object (reach: the tool) ends this close to the goal's")


def add_output_args(p, json_help: str) -> None:
    """--out, --force, --json (print) and --no-progress, as rank and experiment ranking take
    them."""
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite an earlier result in --out")
    p.add_argument("--json", action="store_true", dest="print_json", help=json_help)
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub) -> None:
    p = sub.add_parser(
        "rank", help="rank candidate plans of a simulated scene with the world model",
        description="Build the simulated scene of --sim-seed (the first episode `vap-ros sim "
                    "record --seed S` would record), plan --task's scripted plan and "
                    "--candidates - 1 perturbed variants (targets rotated/shifted), predict "
                    "every plan's whole video from the cameras' current images, and rank the "
                    "plans by their predicted final frames against the goal: the nominal plan's "
                    "real final frame per camera. Every plan is also run in the physics: the "
                    "true score and success are reported beside the prediction. Writes "
                    "OUT/ranking.json and OUT/candidates.png (predicted | real final frames).")
    p.add_argument("--sim-seed", type=int, required=True, help="the scene's seed")
    add_ranking_args(p)
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

    s = RankingSettings(candidates=args.candidates, steps=args.steps, seed=args.seed,
                        tolerance_m=args.tolerance_m, metric=args.metric)
    s.check()  # before the model loads
    return s


def run_rank(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.outputs import check_out_dir, refuse_overwrite
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

"""``vap-ros experiment …``: measurements behind the docs (``horizon``, ``ranking``:
docs/model.md)."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")  # vap_ros.serve.DTYPES (not imported: fast --help)


def register(sub) -> None:
    p = sub.add_parser("experiment",
                       help="measurements behind the docs (horizon curve, plan ranking)")
    esub = p.add_subparsers(dest="experiment_command", metavar="SUBCOMMAND")
    esub.required = True

    h = esub.add_parser(
        "horizon", help="the horizon curve of long autoregressive rollouts",
        description="For every episode whose longest plan lasts at least --min-plan-s: give "
                    "the model the real first frame of every view at the plan's start and the "
                    "whole plan's prompt video (the dataset builder's, at the model's fps and "
                    "size), predict the plan autoregressively, re-anchored on the real frame "
                    "every chunk, and as copy-first-frame, and score each per frame (PSNR) and "
                    "per chunk-long time bin (PSNR, SSIM, ST-IoU, gripper PSNR). Writes "
                    "OUT/horizon.json (per-bin means, per-episode values), OUT/table.txt, "
                    "OUT/horizon.png (the curve) and OUT/videos/ (real | autoregressive | "
                    "re-anchored | prompt, MP4 + GIF + frame grid PNG per view). Episodes that "
                    "are too short or fail to load are skipped and counted.")
    h.add_argument("--episodes", action="append", required=True, metavar="DIR",
                   help="a bag, or a folder of bags (vap-ros sim record's OUT); repeatable")
    h.add_argument("--model", default="",
                   help="model folder, run or checkpoint folder (default: the shipped model)")
    h.add_argument("--out", required=True, help="output folder")
    h.add_argument("--min-plan-s", type=float, default=10.0,
                   help="skip episodes whose longest plan is shorter (default 10)")
    h.add_argument("--max-episodes", type=int, default=None,
                   help="score at most N episodes (default all)")
    h.add_argument("--config", default="sim",
                   help="rig config for reading the bags: preset or YAML (default sim; its clip "
                        "settings are replaced by the model's fps and size)")
    h.add_argument("--source", choices=("commanded", "logged"), default="commanded",
                   help="prompts from the plan (default, as the training clips) or the logged "
                        "joint states")
    h.add_argument("--steps", type=int, default=None, help="sampler steps (default: model's)")
    h.add_argument("--seed", type=int, default=0)
    h.add_argument("--videos", type=int, default=1,
                   help="write side-by-side videos of the first N scored episodes (default 1)")
    h.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    h.add_argument("--dtype", choices=DTYPES, default="float32")
    h.add_argument("--compare", action="append", default=[], metavar="MODEL",
                   help="another model (folder, run or checkpoint) to score on the same "
                        "episodes with the same settings, for a side-by-side comparison "
                        "(repeatable): its own report goes to OUT/compare_N/, and "
                        "OUT/comparison.{json,txt,png} hold every model's autoregressive "
                        "curve (--model first, as A; the table is printed)")
    h.add_argument("--force", action="store_true",
                   help="overwrite the results of an earlier run in --out")
    h.add_argument("--json", action="store_true", dest="print_json",
                   help="print the per-bin means and counts as JSON instead of the table")
    h.add_argument("--no-progress", action="store_true", help="no progress bars")
    h.set_defaults(func=run_horizon)

    from vap_ros.cli.rank import add_model_args, add_output_args, add_ranking_args

    r = esub.add_parser(
        "ranking", help="how well the world model ranks candidate plans (sim scenes)",
        description="Over --scenes simulated scenes (seed --sim-seed, episodes 0, 1, ...): "
                    "rank --candidates plans (the task's scripted plan + perturbed variants) "
                    "by their predicted final frames against the goal (the nominal plan's real "
                    "final frame), run every plan in the physics, and compare: Spearman's rho "
                    "between predicted and true scores per scene, and the real success of the "
                    "top-ranked plan vs a random plan vs the best (oracle) plan. Writes "
                    "OUT/ranking.json, OUT/scatter.png (predicted vs true score) and "
                    "OUT/candidates.png (the first scene's predicted | real final frames). A "
                    "scene whose task cannot be planned is skipped and counted.")
    r.add_argument("--scenes", type=int, required=True, help="number of scenes")
    r.add_argument("--sim-seed", type=int, default=3001,
                   help="seed of the scenes (default 3001: not a training seed)")
    add_ranking_args(r)
    add_model_args(r)
    add_output_args(r, "print the summary as JSON instead of a table")
    r.set_defaults(func=run_ranking)

    from vap_ros.cli.label import add_labelling_experiment

    add_labelling_experiment(esub)


def run_horizon(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.errors import ConfigError
    from vap_ros.outputs import check_out_dir, refuse_overwrite
    from vap_ros.serve import load_world_model
    from vap_ros.train.checkpoint import resolve_model_dir
    from vap_ros.train.horizon import (
        HorizonSettings,
        _jsonable,
        compare_reports,
        format_comparison,
        format_table,
        horizon,
        plot_comparison,
    )

    out = Path(check_out_dir(args.out))
    names = [args.model] + list(args.compare)
    outs = [out] + [out / f"compare_{k}" for k in range(1, len(names))]
    written = [o / f for o in outs for f in ("horizon.json", "horizon.png")]
    if args.compare:
        written += [out / "comparison.json", out / "comparison.png"]
    refuse_overwrite(written, force=args.force)

    def load(name):  # a folder (run, checkpoint, save_pretrained), "" (shipped) or a preset
        path = str(resolve_model_dir(name)) if Path(name or "-").exists() else name
        return load_world_model(path, device=args.device, dtype=args.dtype)

    models = [load(n) for n in names]  # all first: a misfit fails before any rollout
    geometry = ("fps", "num_frames", "height", "width")
    for (m, mid), name in zip(models[1:], names[1:]):
        a, b = models[0][0].config, m.config
        if any(getattr(a, g) != getattr(b, g) for g in geometry):
            raise ConfigError(f"--compare {name} ({mid}): its " + ", ".join(
                f"{g} {getattr(b, g)}" for g in geometry) + " differ from --model's (" +
                ", ".join(f"{g} {getattr(a, g)}" for g in geometry) + "): the plan videos "
                "and bins would differ")
    settings = HorizonSettings(min_plan_s=args.min_plan_s, max_episodes=args.max_episodes,
                               steps=args.steps, seed=args.seed, videos=args.videos,
                               source=args.source)
    reports = []
    for k, ((model, model_id), o) in enumerate(zip(models, outs)):
        reports.append(horizon(model, args.episodes, o, settings, config=args.config,
                               label=model_id, progress=not args.no_progress))
        models[k] = (None, model_id)  # free it before the next one runs
    report = reports[0]
    comp = None
    if args.compare:
        labels = [n or models[0][1] for n in names]
        comp = compare_reports(reports, labels)
        (out / "comparison.json").write_text(json.dumps(_jsonable(comp), indent=1))
        (out / "comparison.txt").write_text(format_comparison(comp) + "\n")
        plot_comparison(comp, out / "comparison.png")
    if args.print_json:
        keys = ("model", "fps", "bin_s", "counts", "skipped", "bins")
        doc = {k: report[k] for k in keys}
        if comp is not None:
            doc["comparison"] = {k: comp[k] for k in ("models", "summary", "paired")}
        print(json.dumps(_jsonable(doc), indent=1))
    else:
        print(format_table(report))
        print(f"wrote {out}/horizon.json, table.txt, horizon.png and videos/")
        if comp is not None:
            print()
            print(format_comparison(comp))
            print(f"wrote {out}/comparison.json, comparison.txt, comparison.png and "
                  f"compare_1..{len(names) - 1}/")
    return 0


def run_ranking(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.cli.rank import load, settings
    from vap_ros.outputs import check_out_dir, refuse_overwrite
    from vap_ros.train.ranking import ranking_experiment

    s = settings(args)
    out = Path(check_out_dir(args.out))
    refuse_overwrite([out / "ranking.json", out / "scatter.png", out / "candidates.png"],
                     force=args.force)
    model, model_id, cfg, robot = load(args)
    report = ranking_experiment(model, cfg, robot, scenes=args.scenes, task=args.task,
                                seed=args.sim_seed, settings=s, out=out, label=model_id,
                                progress=not args.no_progress)
    summary = report["summary"]
    if args.print_json:
        print(json.dumps(summary, indent=1))
    else:
        for e in report["scenes"]:
            print(f"scene {e['index']}: spearman {e['spearman']}, top-1 success "
                  f"{e['top1_success']:.2f}, random {e['random_success']:.2f}")
        print(json.dumps(summary))
        print(f"wrote {out}/ranking.json, scatter.png and candidates.png "
              f"({len(report['skipped'])} scenes skipped)")
    return 0

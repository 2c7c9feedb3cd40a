"""``vap-ros policy``: the joint video + action-image model as a closed-loop policy on the
simulated rig (docs/policy.md)."""

from __future__ import annotations

DTYPES = ("float32", "bfloat16", "float16")
TASKS = ("reach", "push", "pick_place")


def _common(p) -> None:
    p.add_argument("--model", required=True, help="model folder, run or checkpoint folder "
                                                  "(generate_actions: action_images)")
    p.add_argument("--task", choices=TASKS, required=True)
    p.add_argument("--seed", type=int, default=3001, help="scene seed (default 3001: held out)")
    p.add_argument("--chunks", type=int, default=8,
                   help="re-plans per episode, each T-1 frames at the model's fps (default 8)")
    p.add_argument("--steps", type=int, default=None, help="sampler steps (default: model's)")
    p.add_argument("--planner", choices=("generate", "goal"), default="generate",
                   help="generate: the next frames' action images, generated with the video "
                        "(Action Images' policy); goal: move the tool by the difference of "
                        "the positions the model labels in the goal and the current images "
                        "(default: generate)")
    p.add_argument("--guidance", type=float, default=1.0, metavar="SCALE",
                   help="generate planner: classifier-free guidance towards the goal images "
                        "(1: none, the default; docs/policy.md measures 3 and 6)")
    p.add_argument("--randomize-cameras", action="store_true",
                   help="jitter the cameras per scene (as sim record --randomize-cameras)")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:0")
    p.add_argument("--dtype", choices=DTYPES, default="float32")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def register(sub) -> None:
    p = sub.add_parser("policy", help="the joint model as a policy on the simulated rig")
    psub = p.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    psub.required = True
    e = psub.add_parser(
        "eval", help="success rate on held-out scenes vs scripted and random-target",
        description="For scenes 0..N-1 of --seed: run the task's scripted plan (its final "
                    "images become the goal images; its result is the upper bound), a reach "
                    "to a random target (baseline) and the policy in closed loop (--chunks "
                    "re-plans). Prints {task, episodes, success_rate, mean_final_error_m} of "
                    "the policy with the baselines; success = final error < 3 cm (reach: tool "
                    "to target; push: object to its aimed spot; pick_place: object to the "
                    "place point).")
    _common(e)
    e.add_argument("--episodes", type=int, default=10)
    e.add_argument("--json", default=None, metavar="OUT", help="also write the result here")
    e.set_defaults(func=run_eval)
    r = psub.add_parser(
        "run", help="one closed-loop episode, with a video of what the policy saw and planned",
        description="Run the policy on scene --episode of --seed and write OUT/result.json and "
                    "OUT/rollout.mp4 (per chunk: real frame | predicted video + decoded action "
                    "images, per view).")
    _common(r)
    r.add_argument("--episode", type=int, default=0)
    r.add_argument("--out", required=True, help="output folder")
    r.set_defaults(func=run_run)


def _model(args):
    from pathlib import Path

    from vap_ros.serve import load_world_model
    from vap_ros.train.checkpoint import resolve_model_dir

    path = str(resolve_model_dir(args.model)) if Path(args.model).exists() else args.model
    return load_world_model(path, device=args.device, dtype=args.dtype)


def run_eval(args) -> int:
    import json
    from pathlib import Path

    from vap_ros.policy import evaluate_policy

    model, model_id = _model(args)
    res = evaluate_policy(model, args.task, args.episodes, args.seed, chunks=args.chunks,
                          steps=args.steps, randomize_cameras=args.randomize_cameras,
                          progress=not args.no_progress, planner=args.planner,
                          guidance_scale=args.guidance)
    res["model"] = model_id
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(res, indent=1))
    print(json.dumps({k: res[k] for k in ("task", "episodes", "success_rate",
                                          "mean_final_error_m", "baselines")}))
    return 0


def run_run(args) -> int:
    import json
    from pathlib import Path

    import numpy as np

    from vap_ros.policy import ActionImagePolicy, make_scene, run_policy
    from vap_ros.policy.rollout import run_scripted
    from vap_ros.robot import RobotModel
    from vap_ros.train.video import side_by_side, write_mp4

    model, model_id = _model(args)
    scene = make_scene(args.task, args.seed, args.episode, size=model.config.height,
                       randomize_cameras=args.randomize_cameras)
    scripted = run_scripted(scene)
    policy = ActionImagePolicy(model, RobotModel.from_preset("panda"), steps=args.steps,
                               seed=args.seed, planner=args.planner,
                               guidance_scale=args.guidance)
    res = run_policy(policy, scene, chunks=args.chunks, record=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    goals = scene.goal_images
    assert goals is not None  # run_scripted sets them
    frames = []
    for real, pred, acts in zip(res.pop("frames"), res.pop("predicted"),
                                res.pop("action_images")):
        rows = []
        for v in range(real.shape[0]):
            overlay = np.clip(0.55 * pred[v].astype(np.float32) + acts[v], 0, 255
                              ).astype(np.uint8)
            rows.append(side_by_side(np.repeat(real[v][None], pred.shape[1], 0), overlay,
                                     np.repeat(goals[v][None], pred.shape[1], 0),
                                     scale=3))
        frames.append(np.concatenate(rows, axis=1))
    write_mp4(out / "rollout.mp4", np.concatenate(frames), model.config.fps)
    res.update(model=model_id, task=args.task, seed=args.seed, episode=args.episode,
               scripted_error_m=scripted)
    (out / "result.json").write_text(json.dumps(res, indent=1, default=float))
    print(json.dumps({k: res[k] for k in ("task", "error_m", "success", "scripted_error_m")},
                     default=float))
    return 0

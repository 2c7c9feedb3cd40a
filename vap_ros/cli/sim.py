"""``vap-ros sim …``: record simulated Franka episodes as rosbag2 MCAP; contact sheets."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("sim", help="simulated Franka rig (MuJoCo): record episodes as bags")
    ssub = p.add_subparsers(dest="sim_command", metavar="SUBCOMMAND")
    ssub.required = True

    r = ssub.add_parser(
        "record", help="record scripted episodes (one rosbag2 MCAP each)",
        description="Record N episodes of scripted tasks (reach, push, pick_place, poke) in "
                    "random tabletop scenes into OUT/episode_XXXX/ (rosbag2 MCAP), plus "
                    "OUT/summary.json and OUT/episodes.jsonl. Deterministic from --seed.")
    r.add_argument("--episodes", type=int, default=1, help="number of episodes (default 1)")
    r.add_argument("--seed", type=int, default=0, help="seed of the whole run (default 0)")
    r.add_argument("--out", required=True, help="output folder (new episodes only)")
    r.add_argument("--randomize-cameras", action="store_true",
                   help="jitter every camera's viewpoint per episode")
    r.add_argument("--tasks", default="reach,push,pick_place,poke",
                   help="comma-separated tasks, cycled over episodes")
    r.add_argument("--size", type=int, nargs=2, metavar=("W", "H"), default=None,
                   help="image width and height (default 128 128)")
    r.add_argument("--camera-hz", type=int, default=None, help="image rate (default 10)")
    r.add_argument("--state-hz", type=int, default=None, help="/joint_states rate (default 100)")
    r.add_argument("--objects", type=int, nargs=2, metavar=("MIN", "MAX"), default=None,
                   help="number of objects (default 2 4)")
    r.add_argument("--wrist-camera", action="store_true", help="add a camera on the hand")
    r.add_argument("--shadows", action="store_true", help="render shadows (slower)")
    r.add_argument("--msaa", type=int, default=None,
                   help="anti-aliasing samples (default 4; 0 = off, ~2-3x faster rendering)")
    r.add_argument("--fixed-lighting", action="store_true", help="do not randomise the light")
    r.add_argument("--config", default=None, help="scene config YAML (options as keys); "
                                                  "command-line options override it")
    r.add_argument("--plan", default=None,
                   help="record this plan (JSON: joint_names, positions, time_from_start_s, "
                        "gripper_width_m) instead of scripted tasks: one episode")
    r.add_argument("--contact-sheet", action="store_true",
                   help="also write OUT/contact_sheet_episode_XXXX.png of the first episode")
    r.set_defaults(func=run_record)

    c = ssub.add_parser("contact-sheet", help="PNG grid of a bag's images (rows = cameras)")
    c.add_argument("bag", help="rosbag2 folder")
    c.add_argument("--out", required=True, help="PNG path")
    c.add_argument("--columns", type=int, default=8)
    c.set_defaults(func=run_contact_sheet)


def _config(args):
    from vap_ros.sim import SceneConfig

    cfg = SceneConfig.from_yaml(args.config) if args.config else SceneConfig()
    kw = {}
    if args.size:
        kw["width"], kw["height"] = args.size
    if args.camera_hz:
        kw["camera_hz"] = args.camera_hz
    if args.state_hz:
        kw["state_hz"] = args.state_hz
    if args.objects:
        kw["objects"] = tuple(args.objects)
    if args.randomize_cameras:
        kw["randomize_cameras"] = True
    if args.wrist_camera:
        kw["wrist_camera"] = True
    if args.shadows:
        kw["shadows"] = True
    if args.msaa is not None:
        kw["msaa_samples"] = args.msaa
    if args.fixed_lighting:
        kw["randomize_lighting"] = False
    return cfg.with_options(**kw)


def run_record(args) -> int:
    from pathlib import Path

    from vap_ros.sim.record import load_plan_json, record_episodes, record_plan

    cfg = _config(args)
    if args.plan:
        summary = record_plan(cfg, load_plan_json(args.plan), args.out, seed=args.seed)
    else:
        tasks = tuple(t.strip() for t in args.tasks.split(",") if t.strip())
        summary = record_episodes(cfg, args.out, episodes=args.episodes, seed=args.seed,
                                  tasks=tasks, progress=True)
    if args.contact_sheet and summary["episodes_written"]:
        from vap_ros.sim.contact_sheet import contact_sheet

        first = sorted(Path(args.out).glob("episode_*/"))[0]
        summary["contact_sheet"] = str(contact_sheet(
            first, Path(args.out) / f"contact_sheet_{first.name}.png"))
    print(json.dumps(summary, indent=2))
    return 0 if summary["episodes_written"] else 1


def run_contact_sheet(args) -> int:
    from vap_ros.sim.contact_sheet import contact_sheet

    print(contact_sheet(args.bag, args.out, columns=args.columns))
    return 0

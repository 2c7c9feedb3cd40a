"""``vap-ros calibrate …``: refine a camera's calibration from a bag's own images, score the
calibrations of a bag, and the measurements behind docs/calibration.md."""

from __future__ import annotations

import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="refine / check camera calibrations from images")
    csub = p.add_subparsers(dest="calibrate_command", metavar="SUBCOMMAND")
    csub.required = True

    r = csub.add_parser(
        "refine", help="refine a static camera's extrinsics from the bag's images",
        description="Estimate the camera's pose (and with --intrinsics its focal length and "
                    "principal point) so that the robot rendered from its URDF meshes at each "
                    "frame's joint state lands on the robot in the images. Starts from the "
                    "bag's camera_info + /tf_static or --initial. Writes the calibration YAML "
                    "(vap_ros.camera format) and a before/after overlay PNG.")
    r.add_argument("bag", help="a bag folder or file")
    r.add_argument("--camera", required=True, help="camera name (the image topic's namespace)")
    r.add_argument("--out", required=True, help="calibration YAML to write")
    r.add_argument("--initial", default=None, help="calibration YAML to start from")
    r.add_argument("--frames", type=int, default=60,
                   help="at most this many images, the most distinct robot poses (default 60)")
    r.add_argument("--intrinsics", action="store_true",
                   help="also refine the focal length and the principal point")
    r.add_argument("--distortion", action="store_true",
                   help="also refine the lens's first radial distortion coefficient k1 (with "
                        "--intrinsics the focal length and principal point too; a camera "
                        "without distortion becomes plumb_bob)")
    _restarts_arg(r)
    _common(r)
    r.add_argument("--png", default=None,
                   help="overlay PNG (default: next to --out, <stem>_overlay.png)")
    r.add_argument("--json", default=None, help="also write the result as JSON")
    r.set_defaults(func=run_refine)

    c = csub.add_parser(
        "check", help="alignment score of a bag's camera calibrations",
        description="Score how far the robot rendered through each camera's calibration lies "
                    "from the robot in the images (outline distance in pixels); cameras above "
                    "the threshold are named with the command that refines them.")
    c.add_argument("bag", help="a bag folder or file")
    c.add_argument("--camera", action="append", default=None,
                   help="camera to check (repeatable; default all)")
    c.add_argument("--calibration", default=None, help="calibration YAML to score instead")
    c.add_argument("--frames", type=int, default=24, help="images per camera (default 24)")
    _common(c)
    c.set_defaults(func=run_check)

    e = csub.add_parser(
        "episode-to-bag", help="a panda_dataset episode (PNGs + info.json) as a rosbag2 MCAP",
        description="Write /joint_states, /<camera>/image_raw + camera_info and /tf_static "
                    "(from the episode's calibration) with the repository's bag writer.")
    e.add_argument("episode", help="episode folder with info.json")
    e.add_argument("--out", required=True, help="bag folder to create")
    e.set_defaults(func=run_episode_to_bag)

    x = csub.add_parser(
        "experiment", help="the measurements of docs/calibration.md",
        description="sim: perturb each camera of simulated episodes by 1-5 cm and 1-5 deg and "
                    "refine; real: the same on the real teleop episode (as a bag). Writes "
                    "OUT/results.json, a table, and overlay PNGs.")
    x.add_argument("which", choices=("sim", "real"))
    x.add_argument("--out", required=True, help="output folder")
    x.add_argument("--trials", type=int, default=20, help="trials (default 20)")
    x.add_argument("--seed", type=int, default=0, help="seed (default 0)")
    x.add_argument("--frames", type=int, default=60, help="frames per refinement (default 60)")
    x.add_argument("--randomize-cameras", action="store_true",
                   help="sim: jitter the camera viewpoints per episode")
    x.add_argument("--size", type=int, default=256, help="sim: image size (default 256)")
    x.add_argument("--episode", default=None,
                   help="real: episode folder (default shared/data/real/panda_teleop_episode)")
    x.add_argument("--only-episodes", type=_int_list, default=None, metavar="I,J,...",
                   help="sim: run only these episode indices of the recorded run (a trial's "
                        "start depends only on --seed, the episode and the camera)")
    x.add_argument("--only-cameras", type=_name_list, default=None, metavar="NAME,...",
                   help="sim: run only these cameras")
    x.add_argument("--intrinsics", action="store_true",
                   help="also refine the focal length and principal point (as calibrate "
                        "refine --intrinsics; the perturbation stays extrinsic)")
    x.add_argument("--distortion", action="store_true",
                   help="also refine the radial distortion (as calibrate refine --distortion)")
    x.add_argument("--reference", default=None, metavar="CALIB.yaml",
                   help="real: also measure the answers' joint origins against this "
                        "calibration (e.g. an independent checkerboard calibration, "
                        "scripts/real_board_handeye.py)")
    _restarts_arg(x)
    x.set_defaults(func=run_experiment)


def _restarts_arg(p) -> None:
    p.add_argument("--restarts", type=_non_negative, default=2,
                   help="fits from starts 1-5 cm / 1-5 deg around the answer that must agree "
                        "with it for a high confidence (default 2; 0 skips the check). Each "
                        "stops once it joins the main fit's path, so it usually costs a "
                        "fraction of a fit, at most one fit")


def _non_negative(text: str) -> int:
    import argparse

    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def _int_list(text: str) -> list[int]:
    import argparse

    try:
        out = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        out = []
    if not out or min(out) < 0:
        raise argparse.ArgumentTypeError(f"expected episode indices like 9,17, got {text!r}")
    return out


def _name_list(text: str) -> list[str]:
    import argparse

    out = [t.strip() for t in text.split(",") if t.strip()]
    if not out:
        raise argparse.ArgumentTypeError(f"expected camera names like front,left, got {text!r}")
    return out


def _common(p) -> None:
    p.add_argument("--config", default="sim",
                   help="rig config: preset (sim, franka_lab) or YAML path (default sim)")
    p.add_argument("--geometry", choices=("auto", "visual", "collision"), default="auto",
                   help="robot meshes to render (auto: collision for bags of the simulated "
                        "rig, which renders them; visual otherwise)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _fmt_score(s) -> str:
    return (f"outline error {s.error_px:.2f} px ({s.error_px256:.2f} px at 256 px), change "
            f"IoU {s.iou:.2f}")


def run_refine(args) -> int:
    from vap_ros.calib import outline_sheet, refine_bag
    from vap_ros.calib.report import mesh_renderer, recorded_geometry
    from vap_ros.camera import save_calibration

    res, frames = refine_bag(args.bag, args.camera, config=args.config, initial=args.initial,
                             frames=args.frames, intrinsics=args.intrinsics,
                             distortion=args.distortion,
                             geometry=args.geometry, progress=not args.no_progress,
                             restarts=args.restarts)
    cam = res.camera
    out = save_calibration(cam, args.out)
    geometry = recorded_geometry(args.bag) if args.geometry == "auto" else args.geometry
    png = Path(args.png) if args.png else out.with_name(f"{out.stem}_overlay.png")
    renderer = mesh_renderer(_robot(args.config), geometry)
    outline_sheet(frames, renderer, [("initial", res.initial, (255, 60, 60)),
                                     ("refined", cam, (60, 255, 60))], png)
    print(f"camera {cam.name}: {res.frames} frames ({frames.candidates} images with joint "
          f"states, {frames.distinct_poses} distinct poses), {geometry} meshes")
    print(f"before: {_fmt_score(res.score_before)}")
    print(f"after:  {_fmt_score(res.score_after)}")
    print(f"correction: {res.correction_mm:.1f} mm, {res.correction_deg:.2f} deg (camera "
          "position, orientation)")
    if res.intrinsics:
        a, b = res.initial.K, cam.K
        print(f"intrinsics: fx {a[0, 0]:.2f} -> {b[0, 0]:.2f}, fy {a[1, 1]:.2f} -> "
              f"{b[1, 1]:.2f}, cx {a[0, 2]:.2f} -> {b[0, 2]:.2f}, cy {a[1, 2]:.2f} -> "
              f"{b[1, 2]:.2f} px")
    if res.distortion:
        a, b = res.initial.dist, cam.dist
        print(f"distortion ({cam.distortion_model}): k1 {a[0]:.4f} -> {b[0]:.4f}")
    conf = res.confidence
    print(f"confidence: {conf.upper() if conf == 'low' else conf} ({_checks(res)})"
          + (f": {res.confidence_reason}" if res.confidence_reason else ""))
    print(f"wrote {out} and {png} ({res.seconds:.1f} s)")
    if args.json:
        Path(args.json).write_text(json.dumps(res.summary(), indent=1))
    return 0


def _checks(res) -> str:
    """What the confidence rests on, in one clause."""
    parts = [f"spread over frame resamples {res.spread_mm:.1f} mm, {res.spread_deg:.2f} deg"]
    if res.consistency_mm == res.consistency_mm:  # not nan
        parts.append(f"leaving out a third of the recording moves it {res.consistency_mm:.1f} "
                     f"mm, {res.consistency_deg:.2f} deg")
    if res.restarts:
        agree = sum(r["agrees"] for r in res.restarts)
        parts.append(f"{agree} of {len(res.restarts)} restarts agree")
    if res.weak_sigma == res.weak_sigma:
        parts.append(f"weakest direction +-{res.weak_sigma_mm:.1f} mm, "
                     f"{res.weak_sigma_deg:.2f} deg (1 sigma)")
    return "; ".join(parts)


def _robot(config) -> str:
    from vap_ros.data.config import load_rig_config

    return load_rig_config(config).robot


def run_check(args) -> int:
    from vap_ros.calib import check_bag

    scores = check_bag(args.bag, args.camera, config=args.config,
                       calibration=args.calibration, frames=args.frames,
                       geometry=args.geometry)
    bad = 0
    for name, s in scores.items():
        if isinstance(s, Exception):
            print(f"alignment {name}: not measured: {s}")
            bad += 1
        else:
            print(s.line().replace("refine BAG", f"refine {args.bag}"))
            bad += not s.ok
    return 1 if bad else 0


def run_episode_to_bag(args) -> int:
    from vap_ros.calib.episode_bag import episode_to_bag

    s = episode_to_bag(args.episode, args.out, progress=True)
    print(f"wrote {s['bag']}: {s['images']} images of camera {s['camera']!r}, "
          f"{s['joint_states']} joint states")
    return 0


def run_experiment(args) -> int:
    from vap_ros.calib.experiment import real_experiment, sim_experiment

    if args.which == "sim":
        if args.reference:
            from vap_ros.errors import ConfigError

            raise ConfigError("--reference applies to `experiment real` (the simulated runs "
                              "measure against the true calibration)")
        res = sim_experiment(args.out, trials=args.trials, seed=args.seed, frames=args.frames,
                             randomize_cameras=args.randomize_cameras, size=args.size,
                             episodes=args.only_episodes, cameras=args.only_cameras,
                             restarts=args.restarts, intrinsics=args.intrinsics,
                             distortion=args.distortion)
    else:
        if args.only_episodes or args.only_cameras or args.randomize_cameras:
            from vap_ros.errors import ConfigError

            raise ConfigError("--only-episodes / --only-cameras / --randomize-cameras apply to "
                              "`experiment sim`")
        res = real_experiment(args.out, trials=args.trials, seed=args.seed,
                              frames=args.frames, episode=args.episode,
                              restarts=args.restarts, intrinsics=args.intrinsics,
                              distortion=args.distortion, reference=args.reference)
    print(res["table"])
    print(f"wrote {args.out}/results.json")
    return 0

"""Simulated-and-rendered frame rate of the MuJoCo rig (CPU rendering, one process).

For each size, runs a scripted push in the default 3-camera scene and times FRAMES camera
frames; a frame = the physics steps of one camera period (physics_hz / camera_hz) + one RGB
image per camera. Reports frames/s (multi-view frames), images/s and the split into physics
and rendering, with 4x multisampling and without (``--msaa``). Pin it to a core
(``taskset -c 1``) for stable numbers.
"""

from __future__ import annotations

import time

import numpy as np

HELP = "simulated+rendered frames/s of the MuJoCo rig at 128 and 256 px, 3 cameras"


def add_arguments(p) -> None:
    p.add_argument("--sizes", type=int, nargs="+", default=[128, 256])
    p.add_argument("--frames", type=int, default=60, help="timed frames per size")
    p.add_argument("--cameras", type=int, default=3, help="fixed cameras (1-3)")
    p.add_argument("--camera-hz", type=int, default=10)
    p.add_argument("--shadows", action="store_true")
    p.add_argument("--msaa", type=int, nargs="+", default=[4, 0],
                   help="anti-aliasing sample counts to time (default 4 and 0)")


def _one(size: int, msaa: int, args) -> dict:
    from vap_ros.sim import DEFAULT_CAMERAS, SceneConfig, SimRig, plan_task

    cfg = SceneConfig(width=size, height=size, cameras=DEFAULT_CAMERAS[: args.cameras],
                      camera_hz=args.camera_hz, shadows=args.shadows, msaa_samples=msaa)
    rng = np.random.default_rng(0)
    with SimRig.from_config(cfg, rng) as rig:
        plan = plan_task("push", rig.scene.layout, rig.robot, rng)
        rig.execute(plan.trajectory)
        steps = cfg.physics_hz // cfg.camera_hz
        rig.render()  # warm-up: renderer creation, first upload of meshes
        t_phys = t_rend = 0.0
        for _ in range(args.frames):
            t0 = time.perf_counter()
            rig.step(steps)
            t1 = time.perf_counter()
            rig.render()
            t2 = time.perf_counter()
            t_phys += t1 - t0
            t_rend += t2 - t1
    n = args.frames
    total = t_phys + t_rend
    k = f"{size}px_msaa{msaa}"
    return {
        f"{k}_frames_per_s": n / total,
        f"{k}_images_per_s": n * args.cameras / total,
        f"{k}_physics_ms_per_frame": 1e3 * t_phys / n,
        f"{k}_render_ms_per_image": 1e3 * t_rend / (n * args.cameras),
        f"{k}_realtime_factor": n / cfg.camera_hz / total,
    }


def run(args) -> dict:
    import os

    report: dict = {
        "setup": f"{args.cameras} cameras, {args.camera_hz} Hz images, physics 500 Hz, "
                 f"shadows {'on' if args.shadows else 'off'}, MUJOCO_GL="
                 f"{os.environ.get('MUJOCO_GL', 'egl')}",
    }
    try:
        report["cpu_affinity"] = ",".join(map(str, sorted(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover - not on Linux
        pass
    for msaa in args.msaa:
        for size in args.sizes:
            report.update(_one(size, msaa, args))
    return report

"""Prompt rendering throughput, FK included, on one core, per prompt type.

Renders a C-camera, F-frame clip of a random smooth Panda motion at SIZE x SIZE, R times, with
``PromptRenderer`` (the renderer of training clips and live prompts) of each --prompt-type, and
reports prompt frames (frames x cameras) per second of one thread and milliseconds per frame.
With one type the keys are unprefixed; with several, each type's keys carry its name
(``depth_ms_per_frame``), side by side.
"""

from __future__ import annotations

import time

import numpy as np

HELP = "prompt frames/s per core (FK + projection + drawing), per prompt type"


def add_arguments(p) -> None:
    p.add_argument("--frames", type=int, default=49)
    p.add_argument("--cameras", type=int, default=3)
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--depth-shading", action="store_true")
    from vap_ros.prompts.encoding import PROMPT_TYPES

    p.add_argument("--prompt-type", nargs="+", choices=PROMPT_TYPES, default=["skeleton"],
                   dest="prompt_types", metavar="TYPE",
                   help=f"prompt types to time, side by side ({', '.join(PROMPT_TYPES)}; "
                        "default skeleton)")


def demo_cameras(n: int, size: int):
    """n cameras on a circle around the Panda's workspace, looking at it."""
    from vap_ros.camera import Camera

    cams = []
    target = np.array([0.45, 0.0, 0.35])
    for i in range(n):
        a = -0.9 + 1.8 * i / max(n - 1, 1)
        eye = target + np.array([1.3 * np.cos(a), 1.3 * np.sin(a), 0.45])
        z = (target - eye) / np.linalg.norm(target - eye)
        x = np.cross(z, [0.0, 0.0, 1.0])
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        T_base_cam = np.eye(4)
        T_base_cam[:3, :3] = np.stack([x, y, z], 1)
        T_base_cam[:3, 3] = eye
        f = size / (2 * np.tan(np.radians(25)))
        K = np.array([[f, 0, (size - 1) / 2], [0, f, (size - 1) / 2], [0, 0, 1]])
        cams.append(Camera(f"cam{i}", size, size, K, T_cam_base=np.linalg.inv(T_base_cam)))
    return cams


def run(args) -> dict:
    import cv2

    from vap_ros.prompts import PromptRenderer, SkeletonStyle

    cv2.setNumThreads(1)
    style = SkeletonStyle(depth_shading=args.depth_shading)
    cams = demo_cameras(args.cameras, args.size)
    rng = np.random.default_rng(0)
    home = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])
    t = np.linspace(0, 1, args.frames)[:, None]
    q = home + 0.4 * np.sin(2 * np.pi * t * rng.uniform(0.3, 1.0, 7) + rng.uniform(0, 6, 7))
    grip = 0.04 + 0.04 * np.sin(2 * np.pi * t[:, 0])
    n = args.frames * args.cameras
    report: dict = {
        "clip": f"{args.frames} frames x {args.cameras} cameras @ {args.size}x{args.size}",
        "threads": 1}
    types = list(dict.fromkeys(args.prompt_types))
    for prompt_type in types:
        renderer = PromptRenderer.from_preset("panda", prompt_type, style)
        renderer.render(q, cams, grip)  # warm-up (GL context, mesh upload)
        fk_times, times = [], []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            renderer.keypoints(q, grip)
            fk_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            renderer.render(q, cams, grip)
            times.append(time.perf_counter() - t0)
        per_clip = float(np.median(times))
        key = "" if len(types) == 1 else f"{prompt_type}_"
        if len(types) == 1:
            report["prompt_type"] = prompt_type
        report.update({
            f"{key}median_s_per_clip": per_clip,
            f"{key}fk_ms_per_clip": float(np.median(fk_times)) * 1e3,
            f"{key}ms_per_frame": per_clip / n * 1e3,
            f"{key}prompt_frames_per_s_per_core": n / per_clip,
        })
    report["target_frames_per_s"] = 2000
    return report

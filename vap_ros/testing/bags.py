"""Synthetic rig bags with exactly known ground truth, for tests, benchmarks and demos.

``write_synthetic_bag`` records what the simulated rig records (same topics and types): a
smooth Panda motion as /joint_states (logged, lagging the plan slightly) and
/planned_trajectory (commanded), look-at cameras with /<cam>/camera_info and /tf_static, and
images that show the skeleton of the logged motion (``SkeletonRenderer``, thick lines) on a
textured background. Options inject the faults a data pipeline must survive.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.testing.rig import PANDA_HOME as HOME
from vap_ros.testing.rig import default_cameras

__all__ = ["SyntheticRig", "default_cameras", "synthetic_motion", "write_synthetic_bag"]


def synthetic_motion(t_s: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The commanded motion: arm positions (T, 7) rad and gripper width (T,) m at times t_s."""
    rng = np.random.default_rng(seed)
    f = rng.uniform(0.05, 0.2, 7)
    ph = rng.uniform(0, 2 * np.pi, 7)
    t = np.asarray(t_s, np.float64)[:, None]
    q = HOME + 0.35 * np.sin(2 * np.pi * f * t + ph)
    w = 0.04 + 0.035 * np.sin(2 * np.pi * 0.15 * t[:, 0])
    return q, w


@dataclass
class SyntheticRig:
    """What a synthetic bag holds (ground truth)."""

    cameras: list[Camera]
    duration_s: float = 4.0
    camera_hz: float = 30.0
    joint_hz: float = 100.0
    plan_period_s: float = 1.0
    lag_s: float = 0.03  # logged = commanded delayed by this (tracking lag)
    camera_offsets_ms: Sequence[float] = ()  # per-camera stamp offset
    start_ns: int = 1_700_000_000_000_000_000
    seed: int = 0
    image_stamps_ns: dict[str, np.ndarray] = field(default_factory=dict)
    images: dict[str, list[np.ndarray]] = field(default_factory=dict)

    def logged(self, stamps_ns) -> tuple[np.ndarray, np.ndarray]:
        t = (np.asarray(stamps_ns, np.int64) - self.start_ns) * 1e-9
        return synthetic_motion(t - self.lag_s, self.seed)

    def commanded(self, stamps_ns) -> tuple[np.ndarray, np.ndarray]:
        t = (np.asarray(stamps_ns, np.int64) - self.start_ns) * 1e-9
        return synthetic_motion(t, self.seed)


def _background(H: int, W: int, k: int, v: int) -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    base = ((xx // 16 + yy // 16 + v) % 2) * 30 + 50
    img = np.stack([base + (k * 7) % 60, base + 20, base + (k * 3) % 40], axis=-1)
    return img.astype(np.uint8)


def write_synthetic_bag(path: str | Path, rig: SyntheticRig | None = None, *,
                        storage: str = "mcap", compressed: Sequence[str] = (),
                        camera_info: bool = True, tf_static: bool = True, plan: bool = True,
                        joint_names: Sequence[str] | None = None,
                        corrupt: dict[str, Sequence[int]] | None = None,
                        keep_images: bool = False,
                        gripper_topic: str | None = None, robot: str = "panda",
                        joint_topic: str = "/joint_states",
                        image_topic: str = "/{camera}/image_raw",
                        info_topic: str = "/{camera}/camera_info") -> SyntheticRig:
    """Write a rosbag2 (``storage`` "mcap" or "sqlite3") and return its ground truth.

    Args:
        compressed: names of cameras recorded as CompressedImage (png, lossless) on
            ``/<cam>/image_raw/compressed``.
        camera_info / tf_static / plan: leave these topics out when False.
        joint_names: replace the names in /joint_states (e.g. to break them).
        corrupt: {topic: message indices} whose bytes are replaced by garbage.
        keep_images: store the written RGB images in ``rig.images``.
        gripper_topic: publish the finger joints as separate JointStates on this topic (may
            be the joint topic itself, interleaved), the arm joints alone on ``joint_topic``.
        robot: robot preset whose joint names, base frame and skeleton the bag uses (the
            motion is the same; it lies inside the Panda's and the FR3's limits).
        joint_topic, image_topic, info_topic: topic names; ``{camera}`` is the camera name
            (e.g. ``image_topic="/{camera}/camera/color/image_raw"`` as realsense2_camera).
    """
    from vap_ros.data.bag_writer import BagWriter
    from vap_ros.prompts import SkeletonRenderer, SkeletonStyle
    from vap_ros.robot import JointTrajectory

    rig = rig or SyntheticRig(default_cameras())
    renderer = SkeletonRenderer.from_preset(robot, SkeletonStyle(line_width=1 / 40,
                                                                 disc_radius=1 / 40))
    model = renderer.robot
    n_arm = model.n_arm
    broken = {k: set(v) for k, v in (corrupt or {}).items()}
    names = list(joint_names) if joint_names is not None else (
        list(model.arm_joint_names) + list(model.gripper.joints if model.gripper else ()))
    bag = BagWriter(path, storage="sqlite3" if storage == "sqlite3" else "mcap", version=9)
    try:  # build every message first; a failure leaves no half-written bag
        events: list[tuple[int, str, Any]] = []  # (log ns, topic, rosbags message)
        s0, dur = rig.start_ns, int(rig.duration_s * 1e9)
        # joint states
        js = s0 + np.arange(0, dur, int(1e9 / rig.joint_hz), dtype=np.int64)
        q, w = rig.logged(js)
        for k, t in enumerate(js.tolist()):
            pos = np.concatenate([q[k], [w[k] / 2, w[k] / 2]])
            names_k = names
            if gripper_topic:
                events.append((t + 1000, gripper_topic,
                               bag.joint_state(t + 1000, names[n_arm:], pos[n_arm:len(names)])))
                names_k, pos = names[:n_arm], pos[:n_arm]
            events.append((t, joint_topic, bag.joint_state(t, names_k, pos[: len(names_k)])))
        # plans: one per period, 10 points each, published 50 ms ahead of their start
        if plan:
            for p0 in range(0, dur, int(rig.plan_period_s * 1e9)):
                tfs = np.linspace(0, rig.plan_period_s, 11)
                qc, _ = rig.commanded(s0 + p0 + (tfs * 1e9).astype(np.int64))
                traj = JointTrajectory(model.arm_joint_names, qc,
                                       np.round(tfs * 1e9).astype(np.int64))
                events.append((max(s0, s0 + p0 - 50_000_000), "/planned_trajectory",
                               bag.joint_trajectory(s0 + p0, traj, velocities=False)))
        # TF: camera optical frames relative to the robot's base frame
        if tf_static:
            events.append((s0, "/tf_static", bag.tf_message(
                s0, [(model.base_frame, cam.frame_id, cam.T_base_cam) for cam in rig.cameras])))
        # cameras
        offsets = list(rig.camera_offsets_ms) + [0.0] * len(rig.cameras)
        for v, cam in enumerate(rig.cameras):
            st = s0 + int(offsets[v] * 1e6) + np.arange(0, dur, int(1e9 / rig.camera_hz),
                                                        dtype=np.int64)
            st = st[(st >= s0) & (st < s0 + dur)]
            rig.image_stamps_ns[cam.name] = st
            qv, wv = rig.logged(st)
            prompts = renderer.render(qv, [cam], wv)[0]
            comp = cam.name in compressed
            topic = image_topic.format(camera=cam.name) + ("/compressed" if comp else "")
            imgs = []
            for k, t in enumerate(st.tolist()):
                img = _background(cam.height, cam.width, k, v)
                mask = prompts[k].any(axis=-1)
                img[mask] = prompts[k][mask]
                if keep_images:
                    imgs.append(img)
                make = bag.compressed_image if comp else bag.image
                events.append((t, topic, make(t, cam.frame_id, img)))
                if camera_info:
                    events.append((t, info_topic.format(camera=cam.name), bag.camera_info(t, cam)))
            if keep_images:
                rig.images[cam.name] = imgs
    except BaseException:
        bag.abort()
        raise
    events.sort(key=lambda e: e[0])
    with bag:
        for t, topic, msg in events:
            bag.add_topic(topic, msg.__msgtype__)
            raw = bag.ts.serialize_cdr(msg, msg.__msgtype__)
            if bag.counts.get(topic, 0) in broken.get(topic, ()):
                raw = bytes(raw[:24])  # header survives, the body is cut off
            bag.write_raw(topic, t, raw)
    return rig

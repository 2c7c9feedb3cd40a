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
from typing import Sequence

import cv2
import numpy as np

from vap_ros.camera import Camera, look_at, pose_from_transform

__all__ = ["SyntheticRig", "default_cameras", "synthetic_motion", "write_synthetic_bag"]

HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


def default_cameras(size=(240, 320), names: Sequence[str] = ("front", "left"),
                    base_frame: str = "panda_link0") -> list[Camera]:
    """Look-at cameras around the arm's workspace (optical frames ``<name>_optical_frame``)."""
    eyes = {"front": (1.6, 0.0, 0.8), "left": (0.6, 1.4, 0.7), "right": (0.6, -1.4, 0.9),
            "top": (0.5, 0.05, 1.9)}
    H, W = size
    return [look_at(n, eyes.get(n, (1.2, 0.8 * i - 0.8, 0.9)), (0.45, 0.0, 0.35), width=W,
                    height=H, fov_y_deg=50.0, base_frame=base_frame)
            for i, n in enumerate(names)]


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
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore

    from vap_ros.prompts import SkeletonRenderer, SkeletonStyle

    rig = rig or SyntheticRig(default_cameras())
    ts = get_typestore(Stores.ROS2_HUMBLE)
    T = ts.types
    renderer = SkeletonRenderer.from_preset(robot, SkeletonStyle(line_width=1 / 40,
                                                                 disc_radius=1 / 40))
    model = renderer.robot
    n_arm = model.n_arm
    base_frame = model.base_frame
    corrupt = {k: set(v) for k, v in (corrupt or {}).items()}
    names = list(joint_names) if joint_names is not None else (
        list(model.arm_joint_names) + list(model.gripper.joints if model.gripper else ()))

    def stamp(ns: int):
        return T["builtin_interfaces/msg/Time"](sec=int(ns // 1_000_000_000),
                                                nanosec=int(ns % 1_000_000_000))

    def header(ns: int, frame: str = ""):
        return T["std_msgs/msg/Header"](stamp=stamp(ns), frame_id=frame)

    events: list[tuple[int, str, str, object]] = []  # (log ns, topic, type, msg)
    s0, dur = rig.start_ns, int(rig.duration_s * 1e9)
    # joint states
    js = s0 + np.arange(0, dur, int(1e9 / rig.joint_hz), dtype=np.int64)
    q, w = rig.logged(js)
    for k, t in enumerate(js.tolist()):
        pos = np.concatenate([q[k], [w[k] / 2, w[k] / 2]])
        if gripper_topic:
            events.append((t + 1000, gripper_topic, "sensor_msgs/msg/JointState",
                           T["sensor_msgs/msg/JointState"](
                header=header(t + 1000), name=names[n_arm:], position=pos[n_arm:len(names)],
                velocity=np.zeros(0), effort=np.zeros(0))))
            names_k, pos = names[:n_arm], pos[:n_arm]
        else:
            names_k = names
        msg = T["sensor_msgs/msg/JointState"](
            header=header(t), name=names_k, position=pos[: len(names_k)],
            velocity=np.zeros(0), effort=np.zeros(0))
        events.append((t, joint_topic, "sensor_msgs/msg/JointState", msg))
    # plans: one per period, 10 points each, published 50 ms ahead of their start
    if plan:
        arm = list(model.arm_joint_names)
        for p0 in range(0, dur, int(rig.plan_period_s * 1e9)):
            tfs = np.linspace(0, rig.plan_period_s, 11)
            qc, _ = rig.commanded(s0 + p0 + (tfs * 1e9).astype(np.int64))
            pts = [T["trajectory_msgs/msg/JointTrajectoryPoint"](
                positions=qc[i], velocities=np.zeros(0), accelerations=np.zeros(0),
                effort=np.zeros(0), time_from_start=T["builtin_interfaces/msg/Duration"](
                    sec=int(tfs[i]), nanosec=int(round((tfs[i] % 1) * 1e9))))
                for i in range(len(tfs))]
            msg = T["trajectory_msgs/msg/JointTrajectory"](header=header(s0 + p0), joint_names=arm,
                                                            points=pts)
            events.append((max(s0, s0 + p0 - 50_000_000), "/planned_trajectory",
                           "trajectory_msgs/msg/JointTrajectory", msg))
    # TF: camera optical frames relative to the robot's base frame
    if tf_static:
        tfs_msgs = []
        for cam in rig.cameras:
            tr, qq = pose_from_transform(cam.T_base_cam)
            tfs_msgs.append(T["geometry_msgs/msg/TransformStamped"](
                header=header(s0, base_frame), child_frame_id=cam.frame_id,
                transform=T["geometry_msgs/msg/Transform"](
                    translation=T["geometry_msgs/msg/Vector3"](x=tr[0], y=tr[1], z=tr[2]),
                    rotation=T["geometry_msgs/msg/Quaternion"](x=qq[0], y=qq[1], z=qq[2],
                                                               w=qq[3]))))
        events.append((s0, "/tf_static", "tf2_msgs/msg/TFMessage",
                       T["tf2_msgs/msg/TFMessage"](transforms=tfs_msgs)))
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
            if comp:
                ok, buf = cv2.imencode(".png", cv2.cvtColor(img, cv2.COLOR_RGB2BGR))
                msg = T["sensor_msgs/msg/CompressedImage"](
                    header=header(t, cam.frame_id), format="rgb8; png compressed bgr8",
                    data=buf.reshape(-1))
                events.append((t, topic, "sensor_msgs/msg/CompressedImage", msg))
            else:
                msg = T["sensor_msgs/msg/Image"](
                    header=header(t, cam.frame_id), height=cam.height, width=cam.width,
                    encoding="rgb8", is_bigendian=0, step=cam.width * 3, data=img.reshape(-1))
                events.append((t, topic, "sensor_msgs/msg/Image", msg))
            if camera_info:
                info = cam.camera_info_dict()
                msg = T["sensor_msgs/msg/CameraInfo"](
                    header=header(t, cam.frame_id), height=cam.height, width=cam.width,
                    distortion_model=info["distortion_model"], d=np.asarray(info["d"]),
                    k=np.asarray(info["k"]), r=np.asarray(info["r"]), p=np.asarray(info["p"]),
                    binning_x=0, binning_y=0, roi=T["sensor_msgs/msg/RegionOfInterest"](
                        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False))
                events.append((t, info_topic.format(camera=cam.name),
                               "sensor_msgs/msg/CameraInfo", msg))
        if keep_images:
            rig.images[cam.name] = imgs
    events.sort(key=lambda e: e[0])
    plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
    conns: dict[str, object] = {}
    counts: dict[str, int] = {}
    with Writer(Path(path), version=9, storage_plugin=plugin) as writer:
        for t, topic, msgtype, msg in events:
            if topic not in conns:
                conns[topic] = writer.add_connection(topic, msgtype, typestore=ts)
            raw = ts.serialize_cdr(msg, msgtype)
            k = counts.get(topic, 0)
            counts[topic] = k + 1
            if k in corrupt.get(topic, ()):
                raw = bytes(raw[:24])  # header survives, the body is cut off
            writer.write(conns[topic], t, raw)
    return rig

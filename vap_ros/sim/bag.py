"""Write what a real Franka rig records into a rosbag2 MCAP file, with the ``rosbags`` library
(pure Python, no ROS install): messages are built and serialised with rosbags' typestore.

Topics:

===========================  ===============================  ===============================
topic                        type                             content
===========================  ===============================  ===============================
``/joint_states``            sensor_msgs/msg/JointState       arm + finger joints (rad, m)
``/<cam>/image_raw``         sensor_msgs/msg/Image            rgb8
``/<cam>/camera_info``       sensor_msgs/msg/CameraInfo       intrinsics, plumb_bob, d = 0
``/tf_static``               tf2_msgs/msg/TFMessage           ``<cam>_optical_frame`` poses
``/planned_trajectory``      trajectory_msgs/msg/JointTrajectory  the commanded plan
===========================  ===============================  ===============================

The gripper in a plan: the finger joints are listed with the arm joints, each at
``width / number_of_fingers`` metres (Panda: ``panda_finger_joint1`` = ``panda_finger_joint2`` =
``width / 2``), exactly as /joint_states reports them; a plan without gripper commands lists
the arm joints only.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from vap_ros.camera import Camera, pose_from_transform
from vap_ros.errors import ConfigError
from vap_ros.robot import JointTrajectory

__all__ = ["EpisodeBagWriter", "TOPIC_JOINT_STATES", "TOPIC_PLAN", "TOPIC_TF_STATIC",
           "image_topic", "info_topic", "plan_joint_positions", "typestore"]

TOPIC_JOINT_STATES = "/joint_states"
TOPIC_TF_STATIC = "/tf_static"
TOPIC_PLAN = "/planned_trajectory"
_BAG_VERSION = 8  # rosbag2 metadata version (Jazzy reads 8 and 9)


def image_topic(camera: str) -> str:
    return f"/{camera}/image_raw"


def info_topic(camera: str) -> str:
    return f"/{camera}/camera_info"


def typestore():
    """The ROS 2 message definitions used to serialise (Humble's; the same in later
    distributions for these types)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def plan_joint_positions(plan: JointTrajectory, finger_joints: Sequence[str]):
    """(names, positions (T, n + fingers)) of a plan, fingers at ``width / len(fingers)``."""
    names = list(plan.joint_names)
    pos = plan.positions
    if plan.gripper_width_m is not None and finger_joints:
        per = plan.gripper_width_m[:, None] / len(finger_joints)
        names += list(finger_joints)
        pos = np.hstack([pos, np.repeat(per, len(finger_joints), axis=1)])
    return names, pos


class EpisodeBagWriter:
    """A rosbag2 MCAP writer for one episode (a context manager).

    Args:
        path: the bag directory to create (must not exist).
        cameras: camera names (one image and one camera_info topic each).
        metadata: JSON-able episode description, stored in the bag's ``custom_data``
            under ``vap_ros.episode``.
    """

    def __init__(self, path: str | Path, cameras: Sequence[str], metadata: dict | None = None):
        from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                        QosReliability, QosTime)
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise ConfigError(f"bag {str(self.path)!r} exists already; choose a new --out "
                              "folder (bags are never overwritten)")
        self.ts = typestore()
        t = self.ts.types
        self._T = t
        self._writer = Writer(self.path, version=_BAG_VERSION, storage_plugin=StoragePlugin.MCAP)
        if metadata is not None:
            self._writer.set_custom_data("vap_ros.episode", json.dumps(metadata, sort_keys=True))
        self._writer.open()
        zero = QosTime(0, 0)

        def qos(durability, depth):
            return Qos(QosHistory.KEEP_LAST, depth, QosReliability.RELIABLE, durability, zero,
                       zero, QosLiveliness.AUTOMATIC, zero, False)

        volatile = [qos(QosDurability.VOLATILE, 10)]
        latched = [qos(QosDurability.TRANSIENT_LOCAL, 1)]

        def add(topic, msgtype, profiles=volatile):
            return self._writer.add_connection(topic, msgtype, typestore=self.ts,
                                               offered_qos_profiles=profiles)

        self._js = add(TOPIC_JOINT_STATES, "sensor_msgs/msg/JointState")
        self._tf = add(TOPIC_TF_STATIC, "tf2_msgs/msg/TFMessage", latched)
        self._plan = add(TOPIC_PLAN, "trajectory_msgs/msg/JointTrajectory")
        self._img = {c: add(image_topic(c), "sensor_msgs/msg/Image") for c in cameras}
        self._info = {c: add(info_topic(c), "sensor_msgs/msg/CameraInfo") for c in cameras}
        self.counts: dict[str, int] = {}

    # ------------------------------------------------------------------ helpers
    def _stamp(self, ns: int):
        return self._T["builtin_interfaces/msg/Time"](sec=int(ns // 1_000_000_000),
                                                      nanosec=int(ns % 1_000_000_000))

    def _header(self, ns: int, frame_id: str = ""):
        return self._T["std_msgs/msg/Header"](stamp=self._stamp(ns), frame_id=frame_id)

    def _write(self, conn, ns: int, msg) -> None:
        data = self.ts.serialize_cdr(msg, conn.msgtype)
        self._writer.write(conn, int(ns), data)
        self.counts[conn.topic] = self.counts.get(conn.topic, 0) + 1

    # ------------------------------------------------------------------ messages
    def write_joint_state(self, stamp_ns: int, names: Sequence[str], position, velocity,
                          effort) -> None:
        msg = self._T["sensor_msgs/msg/JointState"](
            header=self._header(stamp_ns), name=list(names),
            position=np.asarray(position, np.float64), velocity=np.asarray(velocity, np.float64),
            effort=np.asarray(effort, np.float64))
        self._write(self._js, stamp_ns, msg)

    def write_image(self, stamp_ns: int, camera: Camera, rgb: np.ndarray) -> None:
        """An rgb8 image and the camera_info with the same stamp."""
        h, w = rgb.shape[:2]
        if rgb.dtype != np.uint8 or rgb.shape != (camera.height, camera.width, 3):
            raise ConfigError(f"image for {camera.name!r} must be uint8 "
                              f"({camera.height}, {camera.width}, 3), got {rgb.dtype} "
                              f"{rgb.shape}")
        header = self._header(stamp_ns, camera.frame_id)
        img = self._T["sensor_msgs/msg/Image"](
            header=header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=3 * w,
            data=np.ascontiguousarray(rgb).reshape(-1))
        self._write(self._img[camera.name], stamp_ns, img)
        d = camera.camera_info_dict()
        roi = self._T["sensor_msgs/msg/RegionOfInterest"](x_offset=0, y_offset=0, height=0,
                                                           width=0, do_rectify=False)
        info = self._T["sensor_msgs/msg/CameraInfo"](
            header=header, height=h, width=w, distortion_model=d["distortion_model"],
            d=np.asarray(d["d"], np.float64), k=np.asarray(d["k"], np.float64),
            r=np.asarray(d["r"], np.float64), p=np.asarray(d["p"], np.float64),
            binning_x=0, binning_y=0, roi=roi)
        self._write(self._info[camera.name], stamp_ns, info)

    def write_tf_static(self, stamp_ns: int, transforms) -> None:
        """``transforms``: (parent_frame, child_frame, T_parent_child (4, 4)) triples."""
        T_ = self._T
        items = []
        for parent, child, T in transforms:
            t, q = pose_from_transform(T)
            items.append(T_["geometry_msgs/msg/TransformStamped"](
                header=self._header(stamp_ns, parent), child_frame_id=child,
                transform=T_["geometry_msgs/msg/Transform"](
                    translation=T_["geometry_msgs/msg/Vector3"](x=t[0], y=t[1], z=t[2]),
                    rotation=T_["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2],
                                                                 w=q[3]))))
        self._write(self._tf, stamp_ns, T_["tf2_msgs/msg/TFMessage"](transforms=items))

    def write_plan(self, stamp_ns: int, plan: JointTrajectory,
                   finger_joints: Sequence[str]) -> None:
        """The commanded plan; ``plan.stamps_ns`` count from ``stamp_ns`` (the header)."""
        T_ = self._T
        names, pos = plan_joint_positions(plan, finger_joints)
        t = plan.stamps_ns.astype(np.float64) * 1e-9
        vel = (np.gradient(pos, t, axis=0) if len(plan) > 1 else np.zeros_like(pos))
        points = []
        empty = np.zeros(0, np.float64)
        for k in range(len(plan)):
            ns = int(plan.stamps_ns[k])
            points.append(T_["trajectory_msgs/msg/JointTrajectoryPoint"](
                positions=pos[k].copy(), velocities=vel[k].copy(), accelerations=empty,
                effort=empty,
                time_from_start=T_["builtin_interfaces/msg/Duration"](
                    sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)))
        msg = T_["trajectory_msgs/msg/JointTrajectory"](header=self._header(stamp_ns),
                                                        joint_names=names, points=points)
        self._write(self._plan, stamp_ns, msg)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        """Close and delete the partial bag."""
        import shutil

        try:
            self._writer.close()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self) -> "EpisodeBagWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

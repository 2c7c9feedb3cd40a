"""The one rosbag2 writer of the package (``rosbags``, pure Python, no ROS install): the
simulated rig's recorder and the synthetic test bags both write through it.

``BagWriter`` is a context manager: it refuses an existing path, registers a connection per
topic on first use, serialises rosbags messages with one typestore, counts what it wrote, and
deletes a half-written bag if the ``with`` block fails. Its builders make the messages a Franka
rig records (JointState, Image, CompressedImage, CameraInfo, TFMessage, JointTrajectory) from the
package's types.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal, Sequence, TypeVar

import numpy as np

from vap_ros.camera import Camera, pose_from_transform
from vap_ros.errors import ConfigError
from vap_ros.robot import JointTrajectory

_W = TypeVar("_W", bound="BagWriter")

__all__ = ["BagWriter", "plan_joint_positions", "typestore"]

NS = 1_000_000_000
LATCHED_TOPICS = ("/tf_static",)


def typestore():
    """The ROS 2 message definitions used to serialise (Humble's; the same in later
    distributions for these types)."""
    from rosbags.typesys import Stores, get_typestore

    return get_typestore(Stores.ROS2_HUMBLE)


def plan_joint_positions(plan: JointTrajectory, finger_joints: Sequence[str]):
    """(names, positions (T, n + fingers)) of a plan, each finger at ``width / len(fingers)``
    (as /joint_states reports a Franka hand)."""
    names = list(plan.joint_names)
    pos = plan.positions
    if plan.gripper_width_m is not None and finger_joints:
        per = plan.gripper_width_m[:, None] / len(finger_joints)
        names += list(finger_joints)
        pos = np.hstack([pos, np.repeat(per, len(finger_joints), axis=1)])
    return names, pos


class BagWriter:
    """A rosbag2 bag being written.

    Args:
        path: the bag directory to create (must not exist).
        storage: ``mcap`` or ``sqlite3``.
        version: rosbag2 metadata version (8 is the oldest ``rosbags`` writes; Jazzy reads 8
            and 9, Humble's ``ros2 bag`` neither).
        custom_data: {key: JSON-able value} stored in the bag's metadata ``custom_data``.
    Raises:
        ConfigError: the path exists already.
    """

    def __init__(self, path: str | Path, *, storage: Literal["mcap", "sqlite3"] = "mcap",
                 version: Literal[8, 9] = 8, custom_data: dict[str, Any] | None = None) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise ConfigError(f"bag {str(self.path)!r} exists already; choose a new folder "
                              "(bags are never overwritten)", key="out", value=str(self.path))
        self.ts = typestore()
        self.types = self.ts.types
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=version, storage_plugin=plugin)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(key, json.dumps(value, sort_keys=True))
        self._writer.open()
        self._conns: dict[str, Any] = {}
        self.counts: dict[str, int] = {}

    # ------------------------------------------------------------------ connections
    def _qos(self, latched: bool):
        from rosbags.interfaces import (
            Qos,
            QosDurability,
            QosHistory,
            QosLiveliness,
            QosReliability,
            QosTime,
        )

        zero = QosTime(0, 0)
        durability = QosDurability.TRANSIENT_LOCAL if latched else QosDurability.VOLATILE
        return [Qos(QosHistory.KEEP_LAST, 1 if latched else 10, QosReliability.RELIABLE,
                    durability, zero, zero, QosLiveliness.AUTOMATIC, zero, False)]

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Register ``topic`` now (connections otherwise appear on first write; registering
        up front fixes their order in the bag)."""
        if topic not in self._conns:
            self._conns[topic] = self._writer.add_connection(
                topic, msgtype, typestore=self.ts,
                offered_qos_profiles=self._qos(topic in LATCHED_TOPICS))

    def write(self, topic: str, log_time_ns: int, msg, msgtype: str | None = None) -> None:
        """Serialise and write a rosbags message (``msgtype`` defaults to its ``__msgtype__``)."""
        msgtype = msgtype or msg.__msgtype__
        self.add_topic(topic, msgtype)
        self.write_raw(topic, log_time_ns, self.ts.serialize_cdr(msg, msgtype))

    def write_raw(self, topic: str, log_time_ns: int, raw: bytes) -> None:
        """Write serialised bytes on a registered topic (as recorded, or deliberately broken)."""
        self._writer.write(self._conns[topic], int(log_time_ns), raw)
        self.counts[topic] = self.counts.get(topic, 0) + 1

    # ------------------------------------------------------------------ messages
    def stamp(self, ns: int):
        return self.types["builtin_interfaces/msg/Time"](sec=int(ns // NS), nanosec=int(ns % NS))

    def header(self, ns: int, frame_id: str = ""):
        return self.types["std_msgs/msg/Header"](stamp=self.stamp(ns), frame_id=frame_id)

    def joint_state(self, stamp_ns: int, names: Sequence[str], position, velocity=None,
                    effort=None):
        empty = np.zeros(0, np.float64)
        return self.types["sensor_msgs/msg/JointState"](
            header=self.header(stamp_ns), name=list(names),
            position=np.asarray(position, np.float64),
            velocity=empty if velocity is None else np.asarray(velocity, np.float64),
            effort=empty if effort is None else np.asarray(effort, np.float64))

    def image(self, stamp_ns: int, frame_id: str, rgb: np.ndarray):
        """An ``rgb8`` sensor_msgs/Image of an (H, W, 3) uint8 array."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ConfigError(f"image for {frame_id!r} must be (H, W, 3) uint8, got "
                              f"{rgb.dtype} {rgb.shape}")
        h, w = rgb.shape[:2]
        return self.types["sensor_msgs/msg/Image"](
            header=self.header(stamp_ns, frame_id), height=h, width=w, encoding="rgb8",
            is_bigendian=0, step=3 * w, data=np.ascontiguousarray(rgb).reshape(-1))

    def compressed_image(self, stamp_ns: int, frame_id: str, rgb: np.ndarray):
        """A lossless PNG sensor_msgs/CompressedImage of an (H, W, 3) uint8 RGB array."""
        import cv2

        _ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
        return self.types["sensor_msgs/msg/CompressedImage"](
            header=self.header(stamp_ns, frame_id), format="rgb8; png compressed bgr8",
            data=buf.reshape(-1))

    def camera_info(self, stamp_ns: int, camera: Camera):
        d = camera.camera_info_dict()
        roi = self.types["sensor_msgs/msg/RegionOfInterest"](
            x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
        return self.types["sensor_msgs/msg/CameraInfo"](
            header=self.header(stamp_ns, camera.frame_id), height=camera.height,
            width=camera.width, distortion_model=d["distortion_model"],
            d=np.asarray(d["d"], np.float64), k=np.asarray(d["k"], np.float64),
            r=np.asarray(d["r"], np.float64), p=np.asarray(d["p"], np.float64),
            binning_x=0, binning_y=0, roi=roi)

    def tf_message(self, stamp_ns: int, transforms):
        """tf2_msgs/TFMessage of (parent_frame, child_frame, T_parent_child (4, 4)) triples."""
        t_ = self.types
        items = []
        for parent, child, T in transforms:
            tr, q = pose_from_transform(T)
            items.append(t_["geometry_msgs/msg/TransformStamped"](
                header=self.header(stamp_ns, parent), child_frame_id=child,
                transform=t_["geometry_msgs/msg/Transform"](
                    translation=t_["geometry_msgs/msg/Vector3"](x=tr[0], y=tr[1], z=tr[2]),
                    rotation=t_["geometry_msgs/msg/Quaternion"](x=q[0], y=q[1], z=q[2],
                                                               w=q[3]))))
        return t_["tf2_msgs/msg/TFMessage"](transforms=items)

    def joint_trajectory(self, stamp_ns: int, plan: JointTrajectory,
                         finger_joints: Sequence[str] = (), *, velocities: bool = True):
        """trajectory_msgs/JointTrajectory of a plan whose ``stamps_ns`` count from
        ``stamp_ns`` (the header); fingers at ``width / len(finger_joints)``; velocities by
        finite differences (or none)."""
        t_ = self.types
        names, pos = plan_joint_positions(plan, finger_joints)
        empty = np.zeros(0, np.float64)
        vel = None
        if velocities:
            t = plan.stamps_ns.astype(np.float64) * 1e-9
            vel = np.gradient(pos, t, axis=0) if len(plan) > 1 else np.zeros_like(pos)
        points = []
        for k in range(len(plan)):
            ns = int(plan.stamps_ns[k])
            points.append(t_["trajectory_msgs/msg/JointTrajectoryPoint"](
                positions=np.asarray(pos[k], np.float64).copy(),
                velocities=empty if vel is None else vel[k].copy(), accelerations=empty,
                effort=empty, time_from_start=t_["builtin_interfaces/msg/Duration"](
                    sec=ns // NS, nanosec=ns % NS)))
        return t_["trajectory_msgs/msg/JointTrajectory"](header=self.header(stamp_ns),
                                                        joint_names=names, points=points)

    # ------------------------------------------------------------------ lifetime
    def close(self) -> None:
        self._writer.close()

    def abort(self) -> None:
        """Close and delete the partial bag."""
        try:
            self._writer.close()
        finally:
            shutil.rmtree(self.path, ignore_errors=True)

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

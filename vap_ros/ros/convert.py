"""Builders of rclpy messages from vap_ros types (numpy images, Camera, trajectories, rollouts).

Reading message fields (rclpy and rosbags messages alike) is ``vap_ros.data.messages``'s job.
Speed: filling ``Image.data`` from an ndarray is slow (~50 ms for 640x480);
``array.array('B', arr.tobytes())`` takes ~0.1 ms.
"""

from __future__ import annotations

import array
from typing import Sequence

import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TransformStamped
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, Image, JointState
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint

from vap_ros.camera import Camera
from vap_ros.errors import ImageError
from vap_ros.robot import JointTrajectory
from vap_ros_msgs.msg import VideoRollout

__all__ = [
    "camera_info_msg",
    "duration_msg",
    "image_msg",
    "joint_state_msg",
    "stamp_msg",
    "trajectory_msg",
    "transform_msg",
    "video_rollout_msg",
]


# ---------------------------------------------------------------------- time
def stamp_msg(ns: int) -> Time:
    ns = int(ns)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def duration_msg(ns: int) -> Duration:
    ns = int(ns)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def image_msg(rgb: np.ndarray, stamp_ns: int = 0, frame_id: str = "") -> Image:
    """(H, W, 3) uint8 RGB → sensor_msgs/Image ``rgb8``."""
    a = np.ascontiguousarray(rgb)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ImageError(f"image_msg expects (H, W, 3) uint8 RGB, got {a.shape} {a.dtype}")
    msg = Image()
    msg.header.stamp = stamp_msg(stamp_ns)
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(a.shape[0]), int(a.shape[1])
    msg.encoding = "rgb8"
    msg.is_bigendian = 0
    msg.step = int(a.shape[1] * 3)
    msg.data = array.array("B", a.tobytes())
    return msg


# ---------------------------------------------------------------------- cameras
def camera_info_msg(cam: Camera, stamp_ns: int = 0) -> CameraInfo:
    d = cam.camera_info_dict()
    msg = CameraInfo()
    msg.header.stamp = stamp_msg(stamp_ns)
    msg.header.frame_id = cam.frame_id
    msg.width, msg.height = d["width"], d["height"]
    msg.distortion_model = d["distortion_model"]
    msg.d = [float(x) for x in d["d"]]
    msg.k = [float(x) for x in d["k"]]
    msg.r = [float(x) for x in d["r"]]
    msg.p = [float(x) for x in d["p"]]
    return msg


# ---------------------------------------------------------------------- TF
def transform_msg(T_parent_child: np.ndarray, parent: str, child: str,
                  stamp_ns: int = 0) -> TransformStamped:
    T = np.asarray(T_parent_child, np.float64)
    msg = TransformStamped()
    msg.header.stamp = stamp_msg(stamp_ns)
    msg.header.frame_id = parent
    msg.child_frame_id = child
    msg.transform.translation.x, msg.transform.translation.y, msg.transform.translation.z = (
        float(v) for v in T[:3, 3])
    q = Rotation.from_matrix(T[:3, :3]).as_quat()
    r = msg.transform.rotation
    r.x, r.y, r.z, r.w = (float(v) for v in q)
    return msg


# ---------------------------------------------------------------------- joints
def joint_state_msg(names: Sequence[str], positions, stamp_ns: int = 0,
                    velocities=None) -> JointState:
    msg = JointState()
    msg.header.stamp = stamp_msg(stamp_ns)
    msg.name = list(names)
    msg.position = [float(x) for x in positions]
    if velocities is not None:
        msg.velocity = [float(x) for x in velocities]
    return msg


def trajectory_msg(traj: JointTrajectory, stamp_ns: int = 0,
                   gripper_joints: Sequence[str] = ()) -> JointTrajectoryMsg:
    """A vap_ros JointTrajectory → trajectory_msgs/JointTrajectory.

    ``time_from_start`` is relative to the first point; the gripper width, if any, is written
    as the finger joints' positions (each ``width / len(gripper_joints)``).
    """
    msg = JointTrajectoryMsg()
    msg.header.stamp = stamp_msg(stamp_ns)
    grip = list(gripper_joints) if traj.gripper_width_m is not None else []
    msg.joint_names = list(traj.joint_names) + grip
    t0 = int(traj.stamps_ns[0])
    for i in range(len(traj)):
        pt = JointTrajectoryPoint()
        pos = [float(x) for x in traj.positions[i]]
        if grip and traj.gripper_width_m is not None:
            pos += [float(traj.gripper_width_m[i]) / len(grip)] * len(grip)
        pt.positions = pos
        pt.time_from_start = duration_msg(int(traj.stamps_ns[i]) - t0)
        msg.points.append(pt)
    return msg


# ---------------------------------------------------------------------- rollouts
def video_rollout_msg(camera_name: str, frames: np.ndarray, prompts: np.ndarray,
                      offsets_ns, stamp_ns: int, frame_id: str = "",
                      plan: JointTrajectoryMsg | None = None, model_id: str = "",
                      inference_ns: int = 0) -> VideoRollout:
    """One camera's predicted video → vap_ros_msgs/VideoRollout.

    Args:
        frames, prompts: (T, H, W, 3) uint8 RGB predicted and prompt frames.
        offsets_ns: (T,) frame times relative to ``stamp_ns`` (the conditioning image's).
    Each frame's own header stamp is ``stamp_ns + offset``; its frame_id is ``frame_id``.
    """
    frames, prompts = np.asarray(frames), np.asarray(prompts)
    offsets = np.asarray(offsets_ns, np.int64).reshape(-1)
    if frames.shape[0] != offsets.shape[0] or prompts.shape[0] != offsets.shape[0]:
        raise ImageError(f"rollout of {camera_name!r}: {frames.shape[0]} frames, "
                         f"{prompts.shape[0]} prompts, {offsets.shape[0]} offsets")
    msg = VideoRollout()
    msg.header.stamp = stamp_msg(stamp_ns)
    msg.header.frame_id = frame_id
    msg.camera_name = camera_name
    msg.frame_time_offsets = [duration_msg(int(o)) for o in offsets]
    msg.frames = [image_msg(f, stamp_ns + int(o), frame_id) for f, o in zip(frames, offsets)]
    msg.prompt_frames = [image_msg(p, stamp_ns + int(o), frame_id)
                         for p, o in zip(prompts, offsets)]
    if plan is not None:
        msg.plan = plan
    msg.model_id = model_id
    msg.inference_time = duration_msg(int(inference_ns))
    return msg

"""Conversions between ROS 2 messages and vap_ros types (numpy images, Camera, trajectories).

The one place that knows message layouts. Speed: filling ``Image.data`` from an ndarray is slow
(~50 ms for 640x480); ``array.array('B', arr.tobytes())`` takes ~0.1 ms. Reading uses
``np.frombuffer`` with the row ``step`` respected.
"""

from __future__ import annotations

import array
from typing import Sequence

import cv2
import numpy as np
from builtin_interfaces.msg import Duration, Time
from geometry_msgs.msg import TransformStamped
from scipy.spatial.transform import Rotation
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, JointState
from trajectory_msgs.msg import JointTrajectory as JointTrajectoryMsg
from trajectory_msgs.msg import JointTrajectoryPoint
from vap_ros_msgs.msg import VideoRollout

from vap_ros.camera import Camera
from vap_ros.data.messages import image_to_rgb
from vap_ros.errors import ImageError, JointStateError, TrajectoryError
from vap_ros.robot import JointTrajectory

__all__ = [
    "camera_from_msg",
    "camera_info_msg",
    "duration_msg",
    "duration_to_ns",
    "image_from_msg",
    "image_msg",
    "joint_state_msg",
    "matrix_from_transform",
    "stamp_msg",
    "stamp_to_ns",
    "trajectory_msg",
    "transform_msg",
    "video_from_rollout",
    "video_rollout_msg",
]

# ---------------------------------------------------------------------- time
def stamp_msg(ns: int) -> Time:
    ns = int(ns)
    return Time(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def stamp_to_ns(t) -> int:
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def duration_msg(ns: int) -> Duration:
    ns = int(ns)
    return Duration(sec=ns // 1_000_000_000, nanosec=ns % 1_000_000_000)


def duration_to_ns(d) -> int:
    return int(d.sec) * 1_000_000_000 + int(d.nanosec)


# ---------------------------------------------------------------------- images
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


def image_from_msg(msg) -> np.ndarray:
    """sensor_msgs/Image (any common encoding) or CompressedImage (jpeg/png) → (H, W, 3) uint8
    RGB. One decoder for bags and topics: ``vap_ros.data.messages.image_to_rgb``.

    Raises:
        ImageError: unknown encoding, data too short for the declared size, undecodable bytes.
    """
    kind = "CompressedImage" if isinstance(msg, CompressedImage) else "Image"
    return image_to_rgb(msg, kind)


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


def camera_from_msg(info: CameraInfo, T_cam_base: np.ndarray, name: str,
                    base_frame: str = "") -> Camera:
    """CameraInfo + extrinsics (from TF or a calibration file) → Camera."""
    return Camera.from_camera_info(
        {"width": info.width, "height": info.height, "k": list(info.k), "d": list(info.d),
         "distortion_model": info.distortion_model, "header": {"frame_id": info.header.frame_id}},
        T_cam_base, name=name, base_frame=base_frame)


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


def matrix_from_transform(msg: TransformStamped) -> np.ndarray:
    """TransformStamped → 4x4 ``T_parent_child``."""
    t, r = msg.transform.translation, msg.transform.rotation
    T = np.eye(4)
    T[:3, :3] = Rotation.from_quat([r.x, r.y, r.z, r.w]).as_matrix()
    T[:3, 3] = [t.x, t.y, t.z]
    return T


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
        if grip:
            pos += [float(traj.gripper_width_m[i]) / len(grip)] * len(grip)
        pt.positions = pos
        pt.time_from_start = duration_msg(int(traj.stamps_ns[i]) - t0)
        msg.points.append(pt)
    return msg


def joint_state_fields(msg: JointState) -> tuple[list[str], np.ndarray]:
    """(names, positions) of a JointState; a clear error if the lengths differ."""
    names = list(msg.name)
    pos = np.asarray(msg.position, np.float64)
    if len(names) != pos.shape[0]:
        raise JointStateError(f"JointState has {len(names)} names but {pos.shape[0]} positions",
                              names=names)
    return names, pos


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


def video_from_rollout(msg: VideoRollout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VideoRollout → (frames (T, H, W, 3), prompts (T, H, W, 3), offsets_ns (T,))."""
    frames = np.stack([image_from_msg(f) for f in msg.frames]) if msg.frames else np.zeros(
        (0, 0, 0, 3), np.uint8)
    prompts = np.stack([image_from_msg(f) for f in msg.prompt_frames]) if (
        msg.prompt_frames) else np.zeros((0, 0, 0, 3), np.uint8)
    offsets = np.array([duration_to_ns(d) for d in msg.frame_time_offsets], np.int64)
    return frames, prompts, offsets

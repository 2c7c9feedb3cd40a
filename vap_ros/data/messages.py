"""ROS message objects (as rosbags deserialises them) → plain arrays.

Images become (H, W, 3) uint8 RGB; stamps int64 ns; transforms 4x4; plans ``JointTrajectory``.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

import cv2
import numpy as np

from vap_ros.errors import ImageError, JointStateError, TrajectoryError

__all__ = [
    "CAMERA_INFO_TYPE",
    "DISPLAY_TRAJECTORY_TYPE",
    "IMAGE_TYPES",
    "JOINT_STATE_TYPE",
    "PLAN_TYPE",
    "TF_TYPE",
    "JointStateParser",
    "camera_from_info",
    "display_trajectory_to_trajectory",
    "duration_ns",
    "header_stamp_ns",
    "image_from_msg",
    "image_to_rgb",
    "is_supported_encoding",
    "parse_raw_image",
    "plan_to_trajectory",
    "raw_header_stamp_ns",
    "stamp_ns",
    "supported_encodings",
    "tf_transforms",
    "video_from_rollout",
]

IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
CAMERA_INFO_TYPE = "sensor_msgs/msg/CameraInfo"
JOINT_STATE_TYPE = "sensor_msgs/msg/JointState"
PLAN_TYPE = "trajectory_msgs/msg/JointTrajectory"
DISPLAY_TRAJECTORY_TYPE = "moveit_msgs/msg/DisplayTrajectory"
TF_TYPE = "tf2_msgs/msg/TFMessage"

_STAMP = struct.Struct("<iI")
_STAMP_BE = struct.Struct(">iI")
_STAMP1 = struct.Struct("<II")


def header_stamp_ns(msg) -> int:
    """header.stamp of a message → int nanoseconds."""
    return stamp_ns(msg.header.stamp)


def raw_header_stamp_ns(raw: bytes, is_ros2: bool = True) -> int:
    """header.stamp of a serialised message whose first field is a std_msgs/Header, read
    without deserialising the rest (an image's pixels). 0 if unreadable."""
    if len(raw) < 16:
        return 0
    if is_ros2:
        st = _STAMP if raw[1] == 1 else _STAMP_BE  # CDR encapsulation: 0x0001 little endian
        sec, nsec = st.unpack_from(raw, 4)
    else:
        sec, nsec = _STAMP1.unpack_from(raw, 4)  # ROS 1: seq, then stamp
    return int(sec) * 1_000_000_000 + int(nsec)


# Image encodings → (channels, dtype, cv2 conversion to RGB or None)
_RAW = {
    "rgb8": (3, np.uint8, None),
    "bgr8": (3, np.uint8, cv2.COLOR_BGR2RGB),
    "rgba8": (4, np.uint8, cv2.COLOR_RGBA2RGB),
    "bgra8": (4, np.uint8, cv2.COLOR_BGRA2RGB),
    "mono8": (1, np.uint8, cv2.COLOR_GRAY2RGB),
    "8uc1": (1, np.uint8, cv2.COLOR_GRAY2RGB),
    "8uc3": (3, np.uint8, cv2.COLOR_BGR2RGB),
    "mono16": (1, np.uint16, cv2.COLOR_GRAY2RGB),
    "16uc1": (1, np.uint16, cv2.COLOR_GRAY2RGB),
    "rgb16": (3, np.uint16, None),
    "bgr16": (3, np.uint16, cv2.COLOR_BGR2RGB),
}


#: Raw encodings that go through rosbags-image (Bayer patterns, packed YUV).
_VIA_ROSBAGS_IMAGE = ("bayer_rggb8", "bayer_bggr8", "bayer_gbrg8", "bayer_grbg8", "yuv422",
                      "uyvy", "yuyv", "yuv422_yuy2")


def is_supported_encoding(encoding: str) -> bool:
    """Whether ``image_to_rgb`` decodes raw images with this ``encoding`` (cheap pre-check)."""
    enc = str(encoding).lower()
    return enc in _RAW or enc in _VIA_ROSBAGS_IMAGE


def supported_encodings() -> list[str]:
    return sorted(_RAW) + list(_VIA_ROSBAGS_IMAGE)


def image_to_rgb(msg, msgtype: str) -> np.ndarray:
    """An Image or CompressedImage message → (H, W, 3) uint8 RGB.

    Raw images honour ``step`` (row padding) and ``is_bigendian``; 16-bit images are scaled to
    8 bits; Bayer and YUV encodings go through rosbags-image. Compressed: jpeg/png via OpenCV.
    For rgb8 without padding the result is a zero-copy view of the message buffer.

    Raises:
        ImageError: unknown encoding, sizes that do not match the data, undecodable bytes.
    """
    if msgtype.endswith("CompressedImage"):
        fmt = str(getattr(msg, "format", "")).lower()
        if "compresseddepth" in fmt:
            raise ImageError(f"compressedDepth images are not colour images (format {fmt!r})")
        buf = np.frombuffer(msg.data, np.uint8)
        bgr = cv2.imdecode(buf, cv2.IMREAD_COLOR) if buf.size else None
        if bgr is None:
            raise ImageError(f"cannot decode CompressedImage (format {fmt!r}, {buf.size} bytes)")
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    enc = str(msg.encoding).lower()
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    data = np.frombuffer(msg.data, np.uint8)
    if h <= 0 or w <= 0:
        raise ImageError(f"image has size {w}x{h}")
    spec = _RAW.get(enc)
    if spec is None:
        return _via_rosbags_image(msg, enc)
    ch, dtype, conv = spec
    itemsize = np.dtype(dtype).itemsize
    row = w * ch * itemsize
    if step < row or data.size < step * (h - 1) + row:
        raise ImageError(f"{enc} image {w}x{h} with step {step} needs "
                         f"{step * (h - 1) + row} bytes, has {data.size}")
    rows = np.lib.stride_tricks.as_strided(data, shape=(h, row), strides=(step, 1))
    img = rows.copy().view(dtype) if (itemsize > 1 or step != row) else rows.view(dtype)
    img = img.reshape(h, w, ch) if ch > 1 else img.reshape(h, w)
    if itemsize > 1:
        if bool(msg.is_bigendian) == np.little_endian:  # bytes differ from this machine's
            img = img.byteswap()
        img = (img.astype(np.float32) * (255.0 / 65535.0) + 0.5).astype(np.uint8)
    if conv is not None:
        img = cv2.cvtColor(np.ascontiguousarray(img), conv)
    return img


def _via_rosbags_image(msg, enc: str) -> np.ndarray:
    try:
        from rosbags.image import message_to_cvimage

        img = message_to_cvimage(msg, "rgb8")
    except Exception as err:
        raise ImageError(f"unsupported image encoding {enc!r} ({err}); expected rgb8, bgr8, "
                         "rgba8, bgra8, mono8, mono16, bayer_*, yuv422 or a CompressedImage"
                         ) from err
    img = np.asarray(img)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ImageError(f"encoding {enc!r} did not convert to 8-bit RGB")
    return img


def tf_transforms(msg) -> list[tuple[str, str, np.ndarray]]:
    """A TFMessage → [(parent frame, child frame, T_parent_child 4x4)]."""
    from vap_ros.camera import transform_from_pose

    out = []
    for t in msg.transforms:
        tr, q = t.transform.translation, t.transform.rotation
        T = transform_from_pose([tr.x, tr.y, tr.z], [q.x, q.y, q.z, q.w])
        out.append((str(t.header.frame_id).lstrip("/"), str(t.child_frame_id).lstrip("/"), T))
    return out


def plan_to_trajectory(msg, log_time_ns: int, mapper, name_map=None, *,
                       start_ns: int | None = None):
    """A trajectory_msgs/JointTrajectory (an rclpy or a rosbags message) → ``JointTrajectory``
    in the robot's arm order (names through ``mapper``'s joint-name map; finger joints give
    the gripper width) with stamps ``start_ns`` (0: relative to the plan's start) or else
    header.stamp, or the log time when the stamp is zero, + time_from_start.

    Raises:
        JointStateError: joint names that do not fit the robot.
        TrajectoryError: no points, a point whose positions do not match the names, or times
            not increasing.
    """
    from vap_ros.robot import JointTrajectory, map_joint_name

    names = [map_joint_name(n, name_map) if name_map else n for n in msg.joint_names]
    if not len(msg.points):
        raise TrajectoryError("plan has no points")
    t0 = int(start_ns) if start_ns is not None else (header_stamp_ns(msg) or int(log_time_ns))
    for i, p in enumerate(msg.points):
        if len(p.positions) != len(names):
            raise TrajectoryError(f"plan point {i} has {len(p.positions)} positions for "
                                  f"{len(names)} joints {names}")
    pos = np.array([np.asarray(p.positions, np.float64) for p in msg.points])
    tfs = np.array([int(p.time_from_start.sec) * 1_000_000_000 + int(p.time_from_start.nanosec)
                    for p in msg.points], np.int64)
    arm, width = mapper.map_many(names, pos)
    traj = JointTrajectory(mapper.arm_joint_names, arm, t0 + tfs, width)
    return traj.validate()


def _cdr_align(o: int, a: int) -> int:
    return 4 + ((o - 4 + a - 1) // a) * a  # CDR alignment counts from after the 4-byte header


class RawImage(NamedTuple):
    """The fields of a sensor_msgs/Image that ``image_to_rgb`` reads; ``data`` is a view."""

    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: memoryview


_U32X3 = struct.Struct("<III")
_U32X2 = struct.Struct("<II")


def parse_raw_image(raw) -> RawImage | None:
    """A serialised sensor_msgs/Image (ROS 2, little-endian CDR) read in place: its pixels are
    a view of ``raw`` (a generic deserialisation copies them: ~0.2 ms for 640x480 rgb8).
    None for anything else, or anything malformed (callers then deserialise, which reports
    the error).
    """
    try:
        if len(raw) < 24 or raw[0] != 0 or raw[1] != 1:
            return None
        (flen,) = struct.unpack_from("<I", raw, 12)
        o = _cdr_align(16 + flen, 4)
        height, width, elen = _U32X3.unpack_from(raw, o)
        o += 12
        encoding = bytes(raw[o:o + elen]).rstrip(b"\0").decode()
        o += elen
        big = raw[o]
        o = _cdr_align(o + 1, 4)
        step, n = _U32X2.unpack_from(raw, o)
        o += 8
        if o + n > len(raw) or not is_supported_encoding(encoding) or (
                encoding.lower() in _VIA_ROSBAGS_IMAGE):
            return None
        return RawImage(height, width, encoding, big, step, memoryview(raw)[o:o + n])
    except (struct.error, UnicodeDecodeError, IndexError, ValueError):
        return None


def display_trajectory_to_trajectory(msg, log_time_ns: int, mapper, *,
                                     start_ns: int | None = None):
    """A moveit_msgs/DisplayTrajectory (what MoveIt publishes on ``/display_planned_path``) →
    (``JointTrajectory`` in the robot's arm order, notes).

    Works on any object with DisplayTrajectory's fields (an rclpy message, a rosbags message,
    a stand-in): ``trajectory[0].joint_trajectory`` (trajectory_msgs/JointTrajectory) is the
    plan; ``trajectory_start.joint_state`` (sensor_msgs/JointState) fills in what the plan
    lacks: a first point at ``time_from_start`` 0 when the plan's first point is later, arm
    joints the planning group does not move (held), and the gripper width when the plan has no
    finger joints (held). Names go through ``mapper``'s joint-name map. Further trajectories
    (a multi-segment plan) and any multi-DOF trajectory are ignored; each such case adds a note
    (for the caller to log).

    Stamps: ``start_ns`` if given (0: relative to the plan start), else the joint trajectory's
    header stamp, else ``log_time_ns``; plus ``time_from_start``.

    Raises:
        TrajectoryError: no trajectory, no points, a point whose positions do not match the
            joint names, times not increasing, NaN.
        JointStateError: joints that do not fit the robot (unknown with ``extra="error"``, or
            arm joints neither in the plan nor in the start state), a start state whose names
            and positions differ in number.
    """
    from vap_ros.robot import JointTrajectory

    notes: list[str] = []
    trajectories = list(getattr(msg, "trajectory", ()))
    if not trajectories:
        raise TrajectoryError("DisplayTrajectory holds no trajectory (trajectory[] is empty); "
                              "expected at least one moveit_msgs/RobotTrajectory")
    if len(trajectories) > 1:
        notes.append(f"DisplayTrajectory holds {len(trajectories)} trajectories: only the first "
                     "is used")
    first = trajectories[0]
    jt = first.joint_trajectory
    multi = getattr(first, "multi_dof_joint_trajectory", None)
    n_multi = len(getattr(multi, "points", ()))
    if multi is not None and n_multi:
        notes.append(f"multi-DOF trajectory of joints {list(multi.joint_names)} "
                     f"({n_multi} points) ignored: only joint trajectories are predicted")
    names = [str(n) for n in jt.joint_names]
    if not len(jt.points):
        raise TrajectoryError(
            "DisplayTrajectory trajectory[0].joint_trajectory has no points"
            + (" (it holds only a multi-DOF trajectory)" if n_multi else "")
            + f"; expected points for joints {names}")
    rows = []
    for i, pt in enumerate(jt.points):
        if len(pt.positions) != len(names):
            raise TrajectoryError(f"DisplayTrajectory point {i} has {len(pt.positions)} "
                                  f"positions for {len(names)} joints {names}")
        rows.append(np.asarray(pt.positions, np.float64))
    pos = np.stack(rows)
    tfs = np.array([duration_ns(pt.time_from_start) for pt in jt.points], np.int64)

    start = getattr(getattr(msg, "trajectory_start", None), "joint_state", None)
    s_names = [str(n) for n in getattr(start, "name", ())]
    s_pos = np.asarray(getattr(start, "position", ()), np.float64).reshape(-1)
    if len(s_names) != s_pos.size:
        raise JointStateError(f"DisplayTrajectory trajectory_start.joint_state has "
                              f"{len(s_names)} names but {s_pos.size} positions",
                              names=s_names, expected=mapper.arm_joint_names)
    s_model = mapper.model_names(s_names)
    start_of = dict(zip(s_model, s_pos, strict=True))
    renamed = mapper.model_names(names)
    if tfs[0] > 0:
        if all(n in start_of for n in renamed):
            pos = np.vstack([[start_of[n] for n in renamed], pos])
            tfs = np.concatenate([[0], tfs])
            notes.append("the start state was added as the first point (t = 0)")
        else:
            notes.append(f"the plan starts at {tfs[0] * 1e-9:.3f} s and the start state lacks "
                         f"joints {[n for n in renamed if n not in start_of]}: no point added")
    held = [k for k, n in enumerate(s_model) if n not in renamed and mapper.knows(n)]
    if held:
        notes.append(f"joints {[s_model[k] for k in held]} are not in the plan: held at their "
                     "start-state values")
        names = names + [s_names[k] for k in held]
        pos = np.hstack([pos, np.tile(s_pos[held], (pos.shape[0], 1))])
    arm, width = mapper.map_many(names, pos)
    if start_ns is None:
        s = jt.header.stamp
        t0 = int(s.sec) * 1_000_000_000 + int(s.nanosec) or int(log_time_ns)
    else:
        t0 = int(start_ns)
    traj = JointTrajectory(mapper.arm_joint_names, arm, t0 + tfs, width)
    return traj.validate(), notes


class JointStateParser:
    """Fast reader of serialised sensor_msgs/JointState (little-endian CDR): (stamp ns, names,
    positions) without building a message object, ~10x faster than generic deserialisation
    (matters for 1 kHz joint states). Names are decoded once per distinct name block.
    ``parse`` returns None for anything it does not recognise; callers then deserialise.
    """

    def __init__(self) -> None:
        self._names: dict[bytes, tuple[tuple[str, ...], int]] = {}

    _align = staticmethod(_cdr_align)

    def parse(self, raw: bytes) -> tuple[int, tuple[str, ...], np.ndarray] | None:
        try:
            if len(raw) < 24 or raw[0] != 0 or raw[1] != 1:
                return None
            sec, nsec = _STAMP.unpack_from(raw, 4)
            (flen,) = struct.unpack_from("<I", raw, 12)
            o = self._align(16 + flen, 4)
            (count,) = struct.unpack_from("<I", raw, o)
            start = o
            o += 4
            # the name block's extent: walk the lengths (cheap), decode only if unseen
            for _ in range(count):
                o = self._align(o, 4)
                (ln,) = struct.unpack_from("<I", raw, o)
                o += 4 + ln
            block = raw[start:o]
            cached = self._names.get(block)
            if cached is None:
                names, q = [], start + 4
                for _ in range(count):
                    q = self._align(q, 4)
                    (ln,) = struct.unpack_from("<I", raw, q)
                    names.append(raw[q + 4:q + 4 + ln].rstrip(b"\0").decode())
                    q += 4 + ln
                cached = (tuple(names), 0)
                if len(self._names) < 64:
                    self._names[block] = cached
            o = self._align(o, 4)
            (n,) = struct.unpack_from("<I", raw, o)
            o = self._align(o + 4, 8)
            if o + 8 * n > len(raw):
                return None
            pos = np.frombuffer(raw, "<f8", n, o)
            return int(sec) * 1_000_000_000 + int(nsec), cached[0], pos
        except (struct.error, UnicodeDecodeError, ValueError):
            return None


# ---------------------------------------------------------------------- the readers nodes use
# (rclpy messages and rosbags messages alike: only their fields are read)
def stamp_ns(t) -> int:
    """builtin_interfaces/Time → int nanoseconds."""
    return int(t.sec) * 1_000_000_000 + int(t.nanosec)


def duration_ns(d) -> int:
    """builtin_interfaces/Duration → int nanoseconds."""
    return int(d.sec) * 1_000_000_000 + int(d.nanosec)


def image_from_msg(msg) -> np.ndarray:
    """sensor_msgs/Image (any common encoding) or CompressedImage (jpeg/png) → (H, W, 3) uint8
    RGB (``image_to_rgb``; the kind is told by the message's fields).

    Raises:
        ImageError: unknown encoding, data too short for the declared size, undecodable bytes.
    """
    kind = "CompressedImage" if hasattr(msg, "format") and not hasattr(msg, "encoding") \
        else "Image"
    return image_to_rgb(msg, kind)


def camera_from_info(info, T_cam_base: np.ndarray, name: str, base_frame: str = ""):
    """sensor_msgs/CameraInfo + extrinsics (from TF or a calibration file) → ``Camera``.

    Raises:
        CalibrationError: an uncalibrated CameraInfo or an unknown distortion model.
    """
    from vap_ros.camera import Camera

    return Camera.from_camera_info(
        {"width": info.width, "height": info.height, "k": list(info.k), "d": list(info.d),
         "distortion_model": info.distortion_model, "header": {"frame_id": info.header.frame_id}},
        T_cam_base, name=name, base_frame=base_frame)


def joint_state_fields(msg) -> tuple[list[str], np.ndarray]:
    """(names, positions) of a JointState.

    Raises:
        JointStateError: the names and positions differ in number.
    """
    names = list(msg.name)
    pos = np.asarray(msg.position, np.float64)
    if len(names) != pos.shape[0]:
        raise JointStateError(f"JointState has {len(names)} names but {pos.shape[0]} positions",
                              names=names)
    return names, pos


def video_from_rollout(msg) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """vap_ros_msgs/VideoRollout → (frames (T, H, W, 3), prompts (T, H, W, 3), offsets_ns (T,))."""
    empty = np.zeros((0, 0, 0, 3), np.uint8)
    frames = np.stack([image_from_msg(f) for f in msg.frames]) if msg.frames else empty
    prompts = np.stack([image_from_msg(f) for f in msg.prompt_frames]) if (
        msg.prompt_frames) else empty
    offsets = np.array([duration_ns(d) for d in msg.frame_time_offsets], np.int64)
    return frames, prompts, offsets

"""Latest-only input caches shared by the nodes: joint states and cameras (image + CameraInfo +
extrinsics from /tf_static or a calibration file).

Callbacks only check and store the newest message (cheap); decoding and building ``Camera``
objects happen when a rollout or prompt needs them. Every problem is a ``VapError`` with one
clear message; the node decides how to log it. No rclpy import here (messages only).
"""

from __future__ import annotations

import dataclasses
import threading
from typing import Callable, Mapping

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from vap_ros.camera import Camera
from vap_ros.camera.transforms import TransformTree
from vap_ros.data.messages import (
    camera_from_info,
    image_from_msg,
    is_supported_encoding,
    joint_state_fields,
    stamp_ns,
    supported_encodings,
)
from vap_ros.errors import (
    CalibrationError,
    ConfigError,
    ImageError,
    JointStateError,
    MissingInputError,
    StaleInputError,
    TimeJump,
    VapError,
)
from vap_ros.robot import JointStateMapper
from vap_ros.serve.lookahead import JointSample

__all__ = ["CameraInputs", "JointStateInput", "guarded", "topics_for"]

NS = 1_000_000_000


def _check_time(last_ns: int | None, stamp_ns: int, threshold_ns: int, source: str) -> None:
    if last_ns is not None and stamp_ns < last_ns - threshold_ns:
        raise TimeJump(source, (last_ns - stamp_ns) / NS)


class JointStateInput:
    """Keeps the newest valid joint state. ``update`` raises JointStateError (NaN, unknown or
    missing names, count mismatch) or TimeJump; a message holding only finger joints (a separate
    gripper driver) updates just the gripper width (one that comes before the first arm state
    is kept for it)."""

    def __init__(self, mapper: JointStateMapper, topic: str = "/joint_states",
                 time_jump_threshold_s: float = 1.0) -> None:
        self.mapper = mapper
        self.topic = topic
        self._threshold_ns = int(time_jump_threshold_s * NS)
        self._lock = threading.Lock()
        self.latest: JointSample | None = None
        self._last_stamp_ns: int | None = None
        # a gripper width that came before the first arm state (a separate gripper driver)
        self._pending_width: float | None = None
        self.count = 0

    def update(self, msg) -> JointSample:
        stamp = stamp_ns(msg.header.stamp)
        try:
            names, pos = joint_state_fields(msg)
            if self.mapper.is_gripper_only(names):  # a separate gripper driver
                if not np.all(np.isfinite(pos)):
                    raise JointStateError(f"non-finite gripper positions {pos.tolist()}",
                                          names=names)
                arm = self.latest.arm_q if self.latest is not None else None
                width = (float(pos.sum()) if len(names) == len(self.mapper.gripper_joint_names)
                         else None)
                if arm is None:  # kept for the first arm state
                    with self._lock:
                        self._pending_width = width
                    return JointSample(stamp, np.zeros(0), width)
                sample = JointSample(stamp, arm, width)
            else:
                arm, width = self.mapper.map(names, pos)
                if width is None:
                    width = (self.latest.gripper_width_m if self.latest is not None
                             else self._pending_width)
                sample = JointSample(stamp, arm, width)
        except JointStateError as err:
            raise JointStateError(f"joint state rejected: {err}", names=err.names,
                                  expected=err.expected) from err
        with self._lock:
            _check_time(self._last_stamp_ns, stamp, self._threshold_ns, self.topic)
            self._last_stamp_ns = stamp
            self.latest = sample
            self.count += 1
        return sample

    def clear(self) -> None:
        with self._lock:
            self.latest = None
            self._last_stamp_ns = None
            self._pending_width = None


class _CameraSlot:
    def __init__(self, name: str) -> None:
        self.name = name
        self.info: CameraInfo | None = None
        self.info_key: tuple | None = None
        self.image = None  # newest Image / CompressedImage message
        self.image_stamp_ns: int | None = None
        self.last_stamp_ns: int | None = None
        self.camera: Camera | None = None
        self.camera_key: tuple | None = None
        self.count = 0


class CameraInputs:
    """Newest image and CameraInfo per configured camera; ``camera(name)`` builds the
    calibrated ``Camera`` (intrinsics from CameraInfo, extrinsics from the calibration file if
    one was configured, else from /tf_static).

    Args:
        names: configured camera names.
        topics: {name: (image topic, camera_info topic)} for messages.
        base_frame: the robot base frame the extrinsics are relative to.
        tf: static transform tree (used when ``calibration`` has no entry for a camera).
        calibration: {name: Camera} from a calibration file (configured extrinsics).
        optical_frames: fallback optical frame names when CameraInfo has no frame_id.
    """

    def __init__(self, names, topics: Mapping[str, tuple[str, str]], base_frame: str,
                 tf: TransformTree | None = None,
                 calibration: Mapping[str, Camera] | None = None,
                 optical_frames: Mapping[str, str] | None = None,
                 time_jump_threshold_s: float = 1.0) -> None:
        self.names = tuple(names)
        self.topics = dict(topics)
        self.base_frame = base_frame
        self.tf = tf
        self.calibration = dict(calibration or {})
        self.optical_frames = dict(optical_frames or {})
        self._threshold_ns = int(time_jump_threshold_s * NS)
        self._slots = {n: _CameraSlot(n) for n in self.names}
        self._lock = threading.Lock()

    # ------------------------------------------------------------ callbacks
    def update_info(self, name: str, info: CameraInfo) -> None:
        if info.width <= 0 or info.height <= 0 or len(info.k) != 9 or info.k[0] <= 0:
            raise CalibrationError(
                f"CameraInfo on {self.topics[name][1]} is invalid ({info.width}x{info.height}, "
                f"k={list(info.k)})")
        key = (info.width, info.height, tuple(info.k), tuple(info.d), info.distortion_model,
               info.header.frame_id)
        with self._lock:
            slot = self._slots[name]
            if slot.info_key != key:  # CameraInfo usually repeats with every image
                slot.info, slot.info_key = info, key

    def update_image(self, name: str, msg) -> None:
        """Store the newest image after cheap checks (encoding, size vs CameraInfo)."""
        topic = self.topics[name][0]
        stamp = stamp_ns(msg.header.stamp)
        if isinstance(msg, Image):
            if not is_supported_encoding(msg.encoding):
                raise ImageError(f"image on {topic} rejected: unknown encoding "
                                 f"{msg.encoding!r}; supported: {supported_encodings()}")
            with self._lock:
                info = self._slots[name].info
            if info is not None and (msg.width, msg.height) != (info.width, info.height):
                raise ImageError(f"image on {topic} rejected: size {msg.width}x{msg.height} "
                                 f"differs from its CameraInfo {info.width}x{info.height}")
        with self._lock:
            slot = self._slots[name]
            _check_time(slot.last_stamp_ns, stamp, self._threshold_ns, topic)
            slot.last_stamp_ns = stamp
            slot.image, slot.image_stamp_ns = msg, stamp
            slot.count += 1

    def clear_images(self) -> None:
        with self._lock:
            for slot in self._slots.values():
                slot.image = slot.image_stamp_ns = slot.last_stamp_ns = None

    # ------------------------------------------------------------ queries
    def image_count(self, name: str) -> int:
        return self._slots[name].count

    def image_stamp_ns(self, name: str) -> int | None:
        return self._slots[name].image_stamp_ns

    def has_info(self, name: str) -> bool:
        return self._slots[name].info is not None

    def camera(self, name: str) -> Camera:
        """The calibrated camera; cached until CameraInfo or /tf_static changes.

        Raises:
            CalibrationError: no CameraInfo yet, or no extrinsics (TF or file).
        """
        if name not in self._slots:
            raise CalibrationError(f"unknown camera {name!r}; configured: {list(self.names)}")
        with self._lock:
            slot = self._slots[name]
            info = slot.info
        if info is None:
            raise CalibrationError(f"camera {name!r}: no CameraInfo received on "
                                   f"{self.topics[name][1]}")
        tf_version = self.tf.version if self.tf is not None else 0
        key = (id(info), tf_version)
        if slot.camera is not None and slot.camera_key == key:
            return slot.camera
        if name in self.calibration:
            T_cam_base = self.calibration[name].T_cam_base
            frame = self.calibration[name].frame_id
        else:
            frame = info.header.frame_id or self.optical_frames.get(
                name, f"{name}_optical_frame")
            if self.tf is None:
                raise CalibrationError(f"camera {name!r}: no extrinsics (no calibration file "
                                       "entry and no /tf_static listener)")
            T_base_cam = self.tf.lookup(self.base_frame, frame)
            T_cam_base = np.linalg.inv(T_base_cam)
        cam = camera_from_info(info, T_cam_base, name, self.base_frame)
        if frame and not cam.frame_id:
            cam = dataclasses.replace(cam, frame_id=frame)
        slot.camera, slot.camera_key = cam, key
        return cam

    def image(self, name: str, now_ns: int | None = None,
              max_age_ns: int = 0) -> tuple[np.ndarray, int, str]:
        """Decode the newest image of ``name`` → (RGB (H, W, 3), stamp ns, frame_id).

        Raises:
            ImageError: none received, cannot decode, or size differs from CameraInfo.
            StaleInputError: older than ``max_age_ns`` (0 = no limit) at ``now_ns``.
        """
        with self._lock:
            slot = self._slots[name]
            msg, stamp, info = slot.image, slot.image_stamp_ns, slot.info
        topic = self.topics[name][0]
        if msg is None:
            raise MissingInputError(f"camera {name!r}: no image received on {topic}")
        if max_age_ns > 0 and now_ns is not None and now_ns - stamp > max_age_ns:
            raise StaleInputError(
                f"camera {name!r}: newest image on {topic} is {(now_ns - stamp) / NS:.3f} s "
                f"old (max_input_age_s {max_age_ns / NS:g}): refused", source=topic,
                age_s=(now_ns - stamp) / NS, max_age_s=max_age_ns / NS)
        rgb = image_from_msg(msg)
        if info is not None and rgb.shape[:2] != (info.height, info.width):
            raise ImageError(f"image on {topic} rejected: size {rgb.shape[1]}x{rgb.shape[0]} "
                             f"differs from its CameraInfo {info.width}x{info.height}")
        return rgb, int(stamp), msg.header.frame_id

    def cameras(self, names=None) -> list[Camera]:
        return [self.camera(n) for n in (names or self.names)]

    def missing(self, names=None, *, images: bool = True) -> list[str]:
        """What ``names`` (default: all) still lack before a rollout or prompt can use them:
        CameraInfo, extrinsics (calibration file or /tf_static), and (``images``) a first
        image. [] when everything is there."""
        out = []
        for n in names or self.names:
            try:
                self.camera(n)
            except CalibrationError as err:
                text = str(err)
                out.append(text if text.startswith("camera") else f"camera {n!r}: {text}")
            if images and self._slots[n].image is None:
                out.append(f"camera {n!r}: no image yet on {self.topics[n][0]}")
        return out


def calibration_for(path: str, cameras, base_frame: str) -> dict[str, Camera]:
    """The ``calibration_file`` parameter of a node: {} when empty (camera_info + /tf_static
    are used), else every camera of ``cameras`` from the file (ConfigError naming the ones it
    lacks)."""
    from vap_ros.camera import load_calibration

    if not path:
        return {}
    calibration = load_calibration(path, base_frame=base_frame)
    missing = [n for n in cameras if n not in calibration]
    if missing:
        raise ConfigError(f"calibration file {path!r} has no camera {missing}",
                          key="calibration_file", value=path)
    return calibration


def topics_for(names, image_pattern: str, info_pattern: str,
               transport: str = "raw") -> dict[str, tuple[str, str]]:
    """{name: (image topic, info topic)} from ``/{camera}/image_raw``-style patterns;
    ``compressed`` appends ``/compressed`` (image_transport's naming)."""
    out = {}
    for n in names:
        img = image_pattern.format(camera=n)
        if transport == "compressed":
            img = img.rstrip("/") + "/compressed"
        out[n] = (img, info_pattern.format(camera=n))
    return out


def guarded(errors, source: str, fn: Callable, *args, on_time_jump=None, prefix: str = "",
            kwargs: dict | None = None):
    """Run ``fn(*args, **kwargs)`` for a callback and return its result; log a VapError as one
    line (``prefix`` + message) and return None; hand a TimeJump to ``on_time_jump``. Anything
    else is logged too (with its type): a callback must never take the executor, and with it
    the node, down."""
    try:
        return fn(*args, **(kwargs or {}))
    except TimeJump as jump:
        if on_time_jump is not None:
            on_time_jump(jump)
        else:
            errors.warn(source, str(jump), kind="time_jump")
    except VapError as err:
        errors.error(source, f"{prefix}{err}")
    except Exception as err:  # noqa: BLE001 - a callback must never take the node down
        errors.error(source, f"{prefix}unexpected {type(err).__name__}: {err}", kind="internal")
    return None

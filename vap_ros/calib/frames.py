"""The images a calibration is refined from: one camera's frames of a bag, each with the joint
state at its stamp, chosen so the robot's poses differ as much as possible.

``load_frames`` opens a bag for one camera (the others are not calibrated, so a wrist camera
beside it does not get in the way); ``select_frames`` + ``read_images`` work on a recording
that is already open (the dataset build's alignment report).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vap_ros.calib.errors import CameraMovedError, TooFewMovingFramesError
from vap_ros.camera import Camera
from vap_ros.errors import CalibrationError, ConfigError, ImageError
from vap_ros.robot import RobotModel

__all__ = ["CalibrationFrames", "camera_mount", "load_frames", "read_images", "select_frames"]

#: Robot poses closer than this (largest link-origin displacement) count as the same pose.
MIN_POSE_CHANGE_M = 0.01


@dataclass
class CalibrationFrames:
    """One camera's images with the robot state at each image's stamp.

    Attributes:
        camera: the calibration to start from (at the images' size).
        images: (T, H, W, 3) uint8 RGB.
        arm_q: (T, n) arm joint positions (radians); gripper_width_m: (T,) metres.
        stamps_ns, image_index: (T,) image stamps and positions on the image topic.
        candidates: images with joint states around them; distinct_poses: how many of them
            show the robot in poses at least ``MIN_POSE_CHANGE_M`` apart.
        source: bag path and topic, for messages.
    """

    camera: Camera
    images: np.ndarray
    arm_q: np.ndarray
    gripper_width_m: np.ndarray
    stamps_ns: np.ndarray
    image_index: np.ndarray
    candidates: int
    distinct_poses: int
    source: str = ""

    def __len__(self) -> int:
        return int(self.images.shape[0])


def _link_origins(robot: RobotModel, arm_q: np.ndarray, width: np.ndarray) -> np.ndarray:
    """(T, L, 3) origins of every frame that moves with a joint (base frame)."""
    names = [f.name for f in robot.model.frames if f.parentJoint > 0]
    return robot.frame_poses(arm_q, list(dict.fromkeys(names)), width)[..., :3, 3]


def select_frames(robot: RobotModel, arm_q: np.ndarray, width: np.ndarray, n: int, *,
                  min_change_m: float = MIN_POSE_CHANGE_M) -> tuple[np.ndarray, int]:
    """Farthest-point sampling of robot poses: up to ``n`` indices (sorted) whose poses lie at
    least ``min_change_m`` apart (largest link-origin displacement), and how many such
    distinct poses exist (capped at ``n``)."""
    T = arm_q.shape[0]
    if T == 0:
        return np.zeros(0, np.intp), 0
    pts = _link_origins(robot, arm_q, width).reshape(T, -1, 3)
    chosen = [0]
    dist = np.linalg.norm(pts - pts[0], axis=2).max(axis=1)
    while len(chosen) < n:
        k = int(np.argmax(dist))
        if dist[k] < min_change_m:
            break
        chosen.append(k)
        dist = np.minimum(dist, np.linalg.norm(pts - pts[k], axis=2).max(axis=1))
    return np.array(sorted(chosen), np.intp), len(chosen)


def read_images(reader, stream, indices: np.ndarray) -> dict[int, np.ndarray]:
    """Decode the images at ``indices`` (positions on ``stream.topic``) → {index: RGB}.
    Undecodable images are left out."""
    from vap_ros.data.messages import image_to_rgb

    wanted = {int(i) for i in indices}
    out: dict[int, np.ndarray] = {}
    for _, i, _, raw in reader.read([stream.topic], only={stream.topic: wanted}):
        if i not in wanted:
            continue
        try:
            out[i] = image_to_rgb(reader.deserialize(raw, stream.msgtype), stream.msgtype)
        except ImageError:
            continue
        except Exception:  # noqa: BLE001 - a corrupt message: rosbags serde errors
            continue
    return out


def frames_from_recording(reader, rec, stream, robot: RobotModel, n: int, *,
                          max_joint_gap_ms: float = 50.0) -> CalibrationFrames:
    """Pick and decode up to ``n`` frames of one camera of an open recording.

    Raises:
        TooFewMovingFramesError: fewer than two distinct robot poses.
    """
    from vap_ros.data.sync import _joint_gap

    st = stream.stamps_ns
    ok = st >= 0
    if rec.logged.stamps_ns.size:
        ok &= _joint_gap(rec.logged.stamps_ns, np.where(ok, st, 0)) <= max_joint_gap_ms * 1e6
    cand = np.flatnonzero(ok)
    name = stream.name
    if cand.size == 0:
        raise TooFewMovingFramesError(
            f"camera {name!r}: none of its {st.size} images on {stream.topic} has joint states "
            f"within {max_joint_gap_ms:g} ms", camera=name)
    s = rec.logged.sample(st[cand])
    q, w = s.positions, s.gripper_width_m
    if w is None:
        w = np.full(cand.size, robot.gripper.default_width_m if robot.gripper else 0.0)
    pick, distinct = select_frames(robot, q, w, n)
    imgs = read_images(reader, stream, cand[pick])
    keep = [k for k, i in enumerate(cand[pick]) if int(i) in imgs]
    pick = pick[keep]
    cam = stream.camera
    images = np.stack([imgs[int(i)] for i in cand[pick]]) if keep else np.zeros((0, 1, 1, 3))
    if images.shape[0] and images.shape[1:3] != (cam.height, cam.width):
        cam = cam.scaled(images.shape[2], images.shape[1])
    return CalibrationFrames(cam, images, q[pick], np.asarray(w)[pick], st[cand[pick]],
                             cand[pick], int(cand.size), distinct,
                             f"{rec.path} {stream.topic}")


def camera_mount(reader, tf_topics, frame: str, robot: RobotModel) -> str | None:
    """The robot link a camera frame hangs from in the bag's TF (walking up its parents), if
    that link moves with a joint; None for a camera fixed to the world or the robot base."""
    from vap_ros.data.messages import TF_TYPE, tf_transforms

    parent: dict[str, str] = {}
    topics = [t for t in tf_topics if t in reader.topics and reader.topics[t].msgtype == TF_TYPE]
    for _, _, raw in reader.messages(topics):
        try:
            msg = reader.deserialize(raw, TF_TYPE)
        except Exception:  # noqa: BLE001 - a corrupt message: rosbags serde errors
            continue
        for p, c, _ in tf_transforms(msg):
            parent.setdefault(c, p)
    moving = {f.name for f in robot.model.frames if f.parentJoint > 0}
    f, seen = frame.lstrip("/"), set()
    while f in parent and f not in seen:
        seen.add(f)
        f = parent[f]
        if f in moving:
            return f
    return None


def load_frames(bag: str | Path, camera: str, *, config=None, initial: str | Path | None = None,
                frames: int = 60, robot: RobotModel | None = None) -> CalibrationFrames:
    """Open ``bag`` and pick up to ``frames`` images of ``camera`` with their joint states.

    The starting calibration is the bag's (camera_info + TF), or camera ``camera`` of the
    calibration YAML ``initial``.

    Raises:
        ConfigError: the camera is not in the bag.
        CameraMovedError: the bag's TF mounts the camera on a moving robot link.
        TooFewMovingFramesError: no images with joint states.
        BagError / CalibrationError / JointStateError: as ``read_recording``.
    """
    from vap_ros.data.bag import BagReader
    from vap_ros.data.config import CameraTopics, load_rig_config
    from vap_ros.data.messages import CAMERA_INFO_TYPE
    from vap_ros.data.recording import read_recording, resolve_cameras

    cfg = load_rig_config(config)
    robot = robot or RobotModel.from_preset(cfg.robot)
    with BagReader(bag) as reader, tempfile.TemporaryDirectory() as tmp:
        streams = {s.name: s for s in resolve_cameras(reader, cfg)}
        if camera not in streams:
            raise ConfigError(f"bag {str(bag)!r} has no camera {camera!r}; cameras: "
                              f"{sorted(streams)}")
        s = streams[camera]
        frame = s.frame_id
        if frame is None and s.info_topic in reader.topics:
            for _, _, raw in reader.messages([s.info_topic]):
                frame = str(reader.deserialize(raw, CAMERA_INFO_TYPE).header.frame_id)
                break
        link = camera_mount(reader, cfg.tf_topics, frame, robot) if frame else None
        if link is not None:
            raise CameraMovedError(
                f"camera {camera!r}: its frame {frame!r} is mounted on the robot link "
                f"{link!r}, which moves with the arm (a wrist camera); refinement calibrates "
                "cameras that stay fixed relative to the robot base", camera=camera)
        one = replace(cfg, cameras=(CameraTopics(camera, (s.topic,), (s.info_topic,),
                                                 s.frame_id),), calibration=None)
        override = None
        if initial is not None:
            override = _initial_as_file(initial, camera, robot, tmp)
        try:
            rec = read_recording(reader, one, robot, calibration=override)
        except CalibrationError as err:
            raise CalibrationError(f"{err}; pass --initial CALIB.yaml to start from another "
                                   "calibration") from err
        return frames_from_recording(reader, rec, rec.cameras[0], robot, frames,
                                     max_joint_gap_ms=cfg.sync.max_joint_gap_ms)


def calibration_camera(path, camera: str, *, base_frame: str | None = None) -> Camera:
    """Camera ``camera`` of a calibration YAML; a file holding a single camera under another
    name is taken as this camera's (renamed).

    Raises:
        CalibrationError: the file cannot be read, or holds several cameras but not this one.
    """
    from vap_ros.camera import load_calibration

    cams = load_calibration(path, base_frame=base_frame)
    if camera in cams:
        return cams[camera]
    if len(cams) == 1:
        return replace(next(iter(cams.values())), name=camera)
    raise CalibrationError(f"calibration {str(path)!r} has no camera {camera!r} "
                           f"(it has {sorted(cams)})")


def _initial_as_file(initial, camera: str, robot: RobotModel, tmp: str) -> Path:
    """The ``--initial`` calibration of ``camera`` as a one-camera file
    (``calibration_camera``)."""
    from vap_ros.camera import save_calibration

    cam = calibration_camera(initial, camera, base_frame=robot.base_frame)
    return save_calibration({camera: cam}, Path(tmp) / "initial.yaml")

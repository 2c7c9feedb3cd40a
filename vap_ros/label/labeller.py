"""Label a video with end-effector poses + gripper states: the joint model's labelling mode.

A ``generate_actions: joint_states`` model (the action head) labels joint states instead:
each window's joint sequence is generated per view, averaged over the views, and turned into
the end-effector pose by FK (pinocchio, ``RobotModel.tcp_poses``) and into the gripper state by
its width (``data.gripper_open``); every frame is then ``valid``, and ``Labels.action_images``
holds the action images of the labelled poses (for the side-by-sides).

A multi-view video of any length N is cut into windows of the model's T frames (consecutive,
the last one aligned to the end: every frame is labelled once, by the last window holding it),
each window's action images are generated from its clean frames alone (``WorldModel.label``: no
joint state, no goal), and the action images of all views are decoded together by
``ActionImageCodec.decode`` (triangulation). Frames where a point could not be triangulated
(fewer than 2 views found its blob) are filled from their neighbours (position interpolated,
rotation and gripper of the nearest labelled frame) and marked ``valid: false``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import ModelError
from vap_ros.label.data import action_codec
from vap_ros.prompts import ActionImageCodec

__all__ = ["DECODERS", "Labels", "decode_labels", "fill_gaps", "joints_to_labels", "label_bag",
           "label_video", "labels_json", "windows"]


@dataclass
class Labels:
    """Labelled frames.

    Attributes:
        T_base_ee: (N, 4, 4) end-effector poses (gaps filled, see ``valid``).
        gripper_open: (N,) bool.
        valid: (N,) bool: the pose was triangulated at this frame (not filled).
        action_images: uint8 (V, N, H, W, 3) the generated action images (joint-state models:
            those of the labelled poses).
        joint_positions: (N, n) arm joint positions (joint-state models), else None.
        gripper_width_m: (N,) gripper widths (joint-state models), else None.
    """

    T_base_ee: np.ndarray
    gripper_open: np.ndarray
    valid: np.ndarray
    action_images: np.ndarray
    joint_positions: np.ndarray | None = None
    gripper_width_m: np.ndarray | None = None


def windows(length: int, frames: int) -> list[int]:
    """Start frames of windows of ``frames`` covering ``length`` frames: every ``frames``
    frames, the last aligned to the end (``length >= frames``)."""
    starts = list(range(0, length - frames + 1, frames))
    if starts[-1] + frames < length:
        starts.append(length - frames)
    return starts


def fill_gaps(T: np.ndarray, grip: np.ndarray, valid: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """Fill the poses of invalid frames: position linearly interpolated between (held beyond)
    the valid frames, rotation and gripper from the nearest valid frame.

    Raises:
        ModelError: no frame is valid.
    """
    idx = np.flatnonzero(valid)
    if not idx.size:
        raise ModelError("the labeller found the end effector in no frame (no action-image "
                         "point was seen by 2 views): nothing to label")
    out = T.copy()
    grip = grip.copy()
    n = T.shape[0]
    t = np.arange(n)
    for k in range(3):
        out[:, k, 3] = np.interp(t, idx, T[idx, k, 3])
    nearest = idx[np.abs(t[:, None] - idx[None]).argmin(axis=1)]
    bad = ~valid
    out[bad, :3, :3] = T[nearest[bad], :3, :3]
    out[bad, 3] = [0.0, 0.0, 0.0, 1.0]
    grip[bad] = grip[nearest[bad]]
    return out, grip


DECODERS = ("robust", "codec")


def decode_labels(acts: np.ndarray, cameras: Sequence[Camera], *, decoder: str = "robust",
                  smooth_frames: int = 1, codec: ActionImageCodec | None = None) -> Labels:
    """Decode generated action images (V, N, H, W, 3) into ``Labels``: ``decoder`` "robust"
    (``label.decode.RobustDecoder``: matched filter + local fit, outlier views dropped) or
    "codec" (``ActionImageCodec.decode`` as is); ``smooth_frames`` > 1 median-filters the
    positions over time (``label.decode.smooth``).

    Raises:
        ModelError: unknown decoder, or no frame whose pose could be triangulated.
    """
    from vap_ros.label.decode import RobustDecoder, smooth

    codec = codec or ActionImageCodec()
    if decoder not in DECODERS:
        raise ModelError(f"decoder {decoder!r}: expected one of {list(DECODERS)}")
    dec = (RobustDecoder(codec) if decoder == "robust" else codec).decode(acts, cameras)
    valid = np.isfinite(dec.T_base_ee).all(axis=(1, 2))
    poses, grip = fill_gaps(dec.T_base_ee, dec.gripper_open, valid)
    poses, grip = smooth(poses, grip, smooth_frames)
    return Labels(poses, grip, valid, acts)


def joints_to_labels(joints: np.ndarray, cameras: Sequence[Camera], robot, *,
                     smooth_frames: int = 1, codec: ActionImageCodec | None = None) -> Labels:
    """Generated joint sequences (V, N, D) (normalised, one per view) -> ``Labels``: the views
    averaged, denormalised (``data.JointStateScale``), FK to the end-effector pose, the
    gripper state from the width; ``smooth_frames`` as ``decode_labels``."""
    from vap_ros.label.data import JointStateScale, gripper_open
    from vap_ros.label.decode import smooth

    codec = codec or ActionImageCodec()
    q, width = JointStateScale(robot).denormalise(np.asarray(joints, np.float64).mean(axis=0))
    poses = robot.tcp_poses(q, width)
    grip = gripper_open(width)
    poses, grip = smooth(poses, grip, smooth_frames)
    acts = codec.encode(poses, grip, cameras)
    return Labels(poses, grip, np.ones(len(poses), bool), acts, q, width)


def label_video(model, video: np.ndarray, cameras: Sequence[Camera], *,
                steps: int | None = None, seed: int = 0,
                codec: ActionImageCodec | None = None, progress: bool = False,
                decoder: str = "robust", smooth_frames: int = 1, robot=None) -> Labels:
    """Label a multi-view video (V, N, H, W, 3) uint8 at the model's size and frame rate.

    Args:
        model: a ``WorldModel`` with ``generate_actions: action_images`` or ``joint_states``.
        cameras: the V calibrations at the frame size.
        steps, seed: sampler settings (each window samples with ``seed``).
        codec: the action-image codec (default: the model's, ``label.action_codec``).
        decoder, smooth_frames: see ``decode_labels`` (``decoder``: action images only).
        robot: the ``RobotModel`` of a joint-state model's joints (default: panda).
    Raises:
        ModelError: not a joint model, a video of the wrong shape, fewer than 2 views, or no
            frame whose pose could be triangulated.
    """
    cfg = model.config
    codec = codec or action_codec(cfg)
    if not cfg.joint_actions:
        raise ModelError("labelling needs a model that generates actions "
                         f"(generate_actions 'action_images' or 'joint_states'); this one has "
                         f"{cfg.generate_actions!r}")
    if not isinstance(video, np.ndarray) or video.ndim != 5 or video.dtype != np.uint8:
        raise ModelError(f"video must be uint8 (V, N, H, W, 3), got "
                         f"{getattr(video, 'shape', type(video).__name__)}")
    V, N = video.shape[:2]
    if len(cameras) != V or V < 2:
        raise ModelError(f"{V} views and {len(cameras)} cameras: labelling needs one "
                         "calibrated camera per view and at least 2 views")
    T = cfg.num_frames
    padded = video
    if N < T:  # a short video: hold the last frame
        padded = np.concatenate([video, np.repeat(video[:, -1:], T - N, axis=1)], axis=1)
    starts = windows(padded.shape[1], T)
    from tqdm import tqdm

    bar = tqdm(starts, desc="label", unit="window", disable=not progress, leave=False)
    if cfg.joint_states:
        joints = np.zeros((V, padded.shape[1], cfg.action_dim), np.float32)
        for s in bar:
            joints[:, s:s + T] = model.label(np.ascontiguousarray(padded[:, s:s + T]),
                                             steps=steps, seed=seed)
        if robot is None:
            from vap_ros.robot import RobotModel

            robot = RobotModel.from_preset("panda")
        return joints_to_labels(joints[:, :N], cameras, robot, smooth_frames=smooth_frames,
                                codec=codec)
    acts = np.zeros_like(padded)
    for s in bar:
        acts[:, s:s + T] = model.label(np.ascontiguousarray(padded[:, s:s + T]), steps=steps,
                                       seed=seed)
    return decode_labels(acts[:, :N], cameras, decoder=decoder, smooth_frames=smooth_frames,
                         codec=codec)


def labels_json(labels: Labels, stamps_ns: np.ndarray, *, open_width_m: float,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The labeller's JSON: stamps_ns, ee_xyz_m, ee_quat_xyzw, gripper_width_m (open: the
    gripper's full width, closed: 0 -- the state is binary), gripper_open, valid, + extra."""
    from scipy.spatial.transform import Rotation

    quat = Rotation.from_matrix(labels.T_base_ee[:, :3, :3]).as_quat()  # x, y, z, w
    out = {
        "stamps_ns": [int(s) for s in stamps_ns],
        "ee_xyz_m": np.round(labels.T_base_ee[:, :3, 3], 6).tolist(),
        "ee_quat_xyzw": np.round(quat, 6).tolist(),
        "gripper_width_m": [open_width_m if g else 0.0 for g in labels.gripper_open.tolist()],
        "gripper_open": [bool(g) for g in labels.gripper_open],
        "valid": [bool(v) for v in labels.valid],
    }
    out.update(extra or {})
    return out


def label_bag(model, bag: str | Path, cameras: Sequence[str] | None = None, *,
              out: str | Path | None = None, config=None, calibration: str | Path | None = None,
              steps: int | None = None, seed: int = 0, progress: bool = False,
              model_id: str = "", decoder: str = "robust", smooth_frames: int = 1
              ) -> tuple[dict[str, Any], Labels, Any]:
    """Label a bag from its images and calibration only (no joint states are read).

    Returns:
        (the JSON dict, written to ``out`` when given; the ``Labels``; the ``BagVideo``).
    Raises:
        ConfigError / BagError / CalibrationError: as ``read_bag_video``. ModelError: as
        ``label_video``.
    """
    from vap_ros.data.config import load_rig_config
    from vap_ros.label.bag_video import read_bag_video
    from vap_ros.robot import RobotModel

    cfg = model.config
    bv = read_bag_video(bag, cameras, fps=cfg.fps, size=(cfg.height, cfg.width), config=config,
                        calibration=calibration)
    robot = RobotModel.from_preset(load_rig_config(config).robot)
    labels = label_video(model, bv.video, bv.cameras, steps=steps, seed=seed, progress=progress,
                         decoder=decoder, smooth_frames=smooth_frames, robot=robot)
    width = robot.gripper.max_width_m if robot.gripper else 0.0
    doc = labels_json(labels, bv.stamps_ns, open_width_m=width, extra={
        "bag": str(bag), "cameras": bv.names, "fps": cfg.fps, "model": model_id,
        "steps": steps or cfg.steps, "seed": seed, "decoder": decoder,
        "smooth_frames": smooth_frames, "frames_skipped": bv.skipped,
        "generate_actions": cfg.generate_actions})
    if labels.joint_positions is not None and labels.gripper_width_m is not None:
        doc["joint_positions_rad"] = np.round(labels.joint_positions, 6).tolist()
        doc["gripper_width_generated_m"] = np.round(labels.gripper_width_m, 6).tolist()
    if out is not None:
        p = Path(out)
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(doc))
    return doc, labels, bv

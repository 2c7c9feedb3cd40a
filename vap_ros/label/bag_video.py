"""A bag's camera images as one synchronised multi-view video, without its joint states.

What the labeller reads: the chosen cameras' images, their calibration (camera_info + TF, or a
calibration override) and nothing else, so a bag of a rig whose joint states were not recorded
(or are not trusted) can be labelled. The timeline is the first camera's images subsampled to
the model's frame rate; every other camera contributes its nearest image within
``sync.max_camera_gap_ms`` of the rig config (a frame without one is skipped and counted).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from vap_ros.camera import Camera, load_calibration
from vap_ros.camera.transforms import TransformTree
from vap_ros.data.bag import BagReader
from vap_ros.data.clips import _decode, resize_frame
from vap_ros.data.config import load_rig_config
from vap_ros.data.messages import CAMERA_INFO_TYPE, TF_TYPE, raw_header_stamp_ns, tf_transforms
from vap_ros.data.recording import _calibrate, resolve_cameras
from vap_ros.errors import BagError, ConfigError

__all__ = ["BagVideo", "read_bag_video", "subsample"]


@dataclass
class BagVideo:
    """Synchronised frames of some cameras of a bag.

    Attributes:
        bag: the bag path.
        names: camera names, in view order.
        cameras: calibrations at the frame size (H, W).
        stamps_ns: (N,) the first camera's image stamps of the frames.
        video: uint8 (V, N, H, W, 3).
        skipped: frames left out, by reason.
    """

    bag: str
    names: list[str]
    cameras: list[Camera]
    stamps_ns: np.ndarray
    video: np.ndarray
    skipped: dict[str, int] = field(default_factory=dict)


def subsample(stamps_ns: np.ndarray, fps: float) -> np.ndarray:
    """Indices of ``stamps_ns`` (sorted) at most ``fps`` apart: each kept stamp is the first at
    least 0.9 / fps after the previous kept one."""
    period = 0.9e9 / fps
    keep, last = [], None
    for i, s in enumerate(np.asarray(stamps_ns, np.int64).tolist()):
        if s < 0:
            continue
        if last is None or s - last >= period:
            keep.append(i)
            last = s
    return np.asarray(keep, np.int64)


def read_bag_video(bag: str | Path, cameras: Sequence[str] | None = None, *, fps: float,
                   size: tuple[int, int], config=None,
                   calibration: str | Path | None = None) -> BagVideo:
    """Read the synchronised video of ``cameras`` (default: every camera) of ``bag``.

    Args:
        fps: frame rate of the timeline (the model's).
        size: (H, W) of the frames (the model's); images are resized as the dataset builder does.
        config: rig config (preset name, YAML path, mapping; default ``sim``): topics, sync.
        calibration: calibration YAML overriding the bag's camera_info/TF.

    Raises:
        ConfigError: an unknown camera name (the bag's cameras are listed), fewer than 2.
        BagError: no images, no synchronised frame, an image that does not decode.
        CalibrationError: a camera without calibration.
    """
    from vap_ros.robot import RobotModel

    cfg = load_rig_config(config)
    robot = RobotModel.from_preset(cfg.robot)
    H, W = int(size[0]), int(size[1])
    with BagReader(bag) as reader:
        streams = resolve_cameras(reader, cfg)
        by_name = {s.name: s for s in streams}
        names = list(cameras) if cameras else [s.name for s in streams]
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise ConfigError(f"bag {str(bag)!r} has no camera {unknown[0]!r}; its cameras: "
                              f"{sorted(by_name)}")
        if len(set(names)) < 2:
            raise ConfigError(f"labelling needs at least 2 different cameras (triangulation), "
                              f"got {names}")
        chosen = [by_name[n] for n in names]
        override = {}
        calibration_file = calibration or cfg.calibration
        if calibration_file:
            override = load_calibration(calibration_file, base_frame=robot.base_frame)
        tf_topics = [t for t in cfg.tf_topics if t in reader.topics
                     and reader.topics[t].msgtype == TF_TYPE]
        info_topics = {c.info_topic for c in chosen if c.name not in override
                       and c.info_topic in reader.topics
                       and reader.topics[c.info_topic].msgtype == CAMERA_INFO_TYPE}
        img = {c.topic: c for c in chosen}
        stamps: dict[str, list[int]] = {c.topic: [] for c in chosen}
        infos: dict[str, object] = {}
        tree = TransformTree(source="the bag's TF")
        for topic, _, log_ns, raw in reader.read(set(img) | set(tf_topics) | info_topics,
                                                 header_only=img):
            if topic in img:
                stamps[topic].append(raw_header_stamp_ns(raw, reader.is_ros2) or log_ns)
                continue
            if topic in infos:
                continue
            try:
                msg = reader.deserialize(raw, reader.topics[topic].msgtype)
            except Exception:  # noqa: BLE001 - a corrupt message: skipped (calibration checks)
                continue
            if topic in info_topics:
                infos[topic] = msg
            else:
                for parent, child, T in tf_transforms(msg):
                    tree.set(parent, child, T)
        cams = []
        for c in chosen:
            native = _calibrate(c, override, infos, tree, robot, Path(bag),
                                cfg.base_frame or robot.base_frame)
            c.camera = native
            cams.append(native if (native.height, native.width) == (H, W)
                        else native.scaled(W, H))
        st = [np.asarray(stamps[c.topic], np.int64) for c in chosen]
        if not st[0].size:
            raise BagError(f"bag {str(bag)!r}: no images on {chosen[0].topic}")
        order = [np.argsort(s, kind="stable") for s in st]
        ref = order[0][subsample(st[0][order[0]], fps)]
        gap = int(cfg.sync.max_camera_gap_ms * 1e6)
        skipped: Counter = Counter()
        index = [ref]
        ok = np.ones(ref.size, bool)
        for s, o in zip(st[1:], order[1:]):
            if not s.size:
                raise BagError(f"bag {str(bag)!r}: no images on camera {names[len(index)]!r}")
            ss = s[o]
            j = np.clip(np.searchsorted(ss, st[0][ref]), 1, ss.size - 1) if ss.size > 1 else \
                np.zeros(ref.size, np.int64)
            cand = np.stack([j - 1, j]) if ss.size > 1 else np.stack([j, j])
            d = np.abs(ss[cand] - st[0][ref][None])
            best = cand[np.argmin(d, axis=0), np.arange(ref.size)]
            near = d.min(axis=0) <= gap
            skipped[f"no image within {cfg.sync.max_camera_gap_ms:g} ms on every camera"] += \
                int((ok & ~near).sum())
            ok &= near
            index.append(o[best])
        keep = np.flatnonzero(ok)
        if not keep.size:
            raise BagError(f"bag {str(bag)!r}: no frame has an image from every camera "
                           f"{names} within {cfg.sync.max_camera_gap_ms:g} ms")
        # topic -> {message index: [(view, frame)]}
        want: dict[str, dict[int, list[tuple[int, int]]]] = {c.topic: {} for c in chosen}
        for v, c in enumerate(chosen):
            for f, i in enumerate(index[v][keep].tolist()):
                want[c.topic].setdefault(i, []).append((v, f))
        video = np.zeros((len(chosen), keep.size, H, W, 3), np.uint8)
        filled = np.zeros((len(chosen), keep.size), bool)
        only = {t: set(d) for t, d in want.items()}
        for topic, i, _, raw in reader.read(list(want), only=only):
            slots = want[topic].get(i)
            if not slots:
                continue
            c = img[topic]
            try:
                frame = resize_frame(_decode(reader, raw, c.msgtype, topic, c.camera), (H, W))
            except Exception as err:  # ImageError, or a corrupt message (rosbags errors)
                raise BagError(f"bag {str(bag)!r}: image {i} on {topic} does not decode: "
                               f"{err}") from err
            for v, f in slots:
                video[v, f] = frame
                filled[v, f] = True
        if not filled.all():
            v, f = np.argwhere(~filled)[0]
            raise BagError(f"bag {str(bag)!r}: image of frame {f} on camera {names[v]!r} "
                           "never arrived")
    return BagVideo(str(bag), names, cams, st[0][ref][keep], video, dict(skipped))

"""Pass 2 over a bag: decode the planned images, and turn each clip into arrays.

Only images that some planned clip uses are deserialised and decoded; each is resized once to
the clip size (kept bit for bit at the native size) and released after its last clip. Prompts
are rendered with ``SkeletonRenderer`` (the function live inference uses) from the logged
joint states and, where the bag has a plan, the commanded trajectory.
"""

from __future__ import annotations

from collections import Counter
from typing import Iterator

import cv2
import numpy as np

from vap_ros.data.bag import BagReader
from vap_ros.data.config import RigConfig
from vap_ros.data.messages import image_to_rgb
from vap_ros.data.recording import Recording
from vap_ros.data.sync import ClipPlan
from vap_ros.errors import BagError, ImageError

__all__ = ["clip_size", "iter_clips", "make_clip", "resize_frame"]


def clip_size(rec: Recording, cfg: RigConfig) -> tuple[int, int]:
    """(H, W) of the clip frames: the config's, else the cameras' common size."""
    if cfg.clip.size is not None:
        return cfg.clip.size
    sizes = {(c.camera.height, c.camera.width) for c in rec.cameras}
    if len(sizes) != 1:
        from vap_ros.errors import ConfigError

        raise ConfigError(f"cameras have different sizes {sorted(sizes)}: set clip.size")
    return sizes.pop()


def resize_frame(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize to (H, W); the native size is returned untouched (bit for bit).

    Downscaling by 2x or more in both axes first averages k x k blocks (INTER_AREA at an
    integer factor, OpenCV's fast path), then finishes bilinear: close to INTER_AREA at a
    tenth of its cost for non-integer factors (INTER_AREA 640x480 → 256x256: ~5 ms per image on
    one core, this: ~0.5 ms). Below 2x in an axis, plain bilinear.
    """
    H, W = size
    h, w = img.shape[:2]
    if (h, w) == (H, W):
        return img
    k = min(w // W, h // H)
    if k >= 2 and w % k == 0 and h % k == 0:
        img = cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA)
        if img.shape[:2] == (H, W):
            return img
    return cv2.resize(img, (W, H), interpolation=cv2.INTER_LINEAR)


def iter_clips(reader: BagReader, rec: Recording, plan: ClipPlan, cfg: RigConfig, renderer,
               failures: Counter) -> Iterator[dict]:
    """Yield the planned clips as dicts of arrays (see ``make_clip``), in time order.

    A clip whose image cannot be decoded is dropped and counted in ``failures`` (reason →
    clips); the bag breaking off mid-read ends the iteration with the reason counted.
    """
    if not plan.clips.size:
        return
    size = clip_size(rec, cfg)
    V = len(rec.cameras)
    topic_v = {c.topic: v for v, c in enumerate(rec.cameras)}
    # which (view, topic index) each clip needs, and how many clips need each image
    need: dict[tuple[int, int], int] = Counter()
    for clip in plan.clips:
        for v in range(V):
            for i in plan.frame_index[clip, v].tolist():
                need[(v, i)] += 1
    frames: dict[tuple[int, int], np.ndarray | None] = {}
    bad: dict[tuple[int, int], str] = {}
    next_clip = 0
    C = plan.clips.shape[0]

    def ready(c: int) -> bool:
        clip = plan.clips[c]
        return all((v, i) in frames or (v, i) in bad
                   for v in range(V) for i in plan.frame_index[clip, v].tolist())

    def release(c: int) -> None:
        clip = plan.clips[c]
        for v in range(V):
            for i in plan.frame_index[clip, v].tolist():
                need[(v, i)] -= 1
                if need[(v, i)] <= 0:
                    frames.pop((v, i), None)

    def emit(c: int):
        clip = plan.clips[c]
        keys = [(v, i) for v in range(V) for i in plan.frame_index[clip, v].tolist()]
        errs = [bad[k] for k in keys if k in bad]
        if errs:
            failures[errs[0]] += 1
            release(c)
            return None
        video = np.stack([np.stack([frames[(v, i)] for i in plan.frame_index[clip, v].tolist()])
                          for v in range(V)])
        out = make_clip(rec, plan, c, video, cfg, renderer, size)
        release(c)
        return out

    only = {c.topic: {i for (v, i) in need if v == k} for k, c in enumerate(rec.cameras)}
    try:
        for topic, i, _, raw in reader.read(topic_v, only=only):
            v = topic_v[topic]
            if (v, i) not in need:
                continue
            cam = rec.cameras[v]
            try:
                msg = reader.deserialize(raw, cam.msgtype)
            except Exception as err:
                bad[(v, i)] = f"corrupt image message on {topic} ({type(err).__name__})"
            else:
                try:
                    img = image_to_rgb(msg, cam.msgtype)
                    if img.shape[:2] != (cam.camera.height, cam.camera.width):
                        raise ImageError(
                            f"image {img.shape[1]}x{img.shape[0]} on {topic} does not match "
                            f"its calibration {cam.camera.width}x{cam.camera.height}")
                    frames[(v, i)] = resize_frame(img, size)
                except ImageError as err:
                    bad[(v, i)] = f"image not decodable: {err}"
            while next_clip < C and ready(next_clip):
                out = emit(next_clip)
                next_clip += 1
                if out is not None:
                    yield out
    except BagError as err:
        failures[f"bag unreadable from here on: {err}"] += C - next_clip
        return
    for c in range(next_clip, C):  # images never arrived (fewer messages than pass 1 saw)
        if ready(c):
            out = emit(c)
            if out is not None:
                yield out
        else:
            failures["image missing in pass 2"] += 1


def make_clip(rec: Recording, plan: ClipPlan, c: int, video: np.ndarray, cfg: RigConfig,
              renderer, size: tuple[int, int]) -> dict:
    """Arrays of clip ``c``; ``video`` (V, F, H, W, 3) uint8.

    Returns a dict: video, prompts_logged, prompts_commanded (or None), actions_* (F, D),
    keypoints_uv_* (V, F, K, 2), ee_poses_* (F, 4, 4), camera_K (V, 3, 3) at the clip size,
    camera_T_cam_base (V, 4, 4), stamps_ns (V, F), image_index (V, F), has_commanded.
    """
    H, W = size
    clip = plan.clips[c]
    V = len(rec.cameras)
    stamps = plan.frame_stamps[clip].T  # (V, F)
    index = plan.frame_index[clip].T
    cams = [cs.camera.scaled(W, H) if (cs.camera.height, cs.camera.width) != (H, W)
            else cs.camera for cs in rec.cameras]
    robot = renderer.robot
    sources = ["logged"]
    has_cmd = bool(plan.commanded_ok[clip].all()) and bool(rec.plans)
    if has_cmd and (cfg.store_both_prompts or cfg.prompt_source == "commanded"):
        sources.append("commanded")
    out: dict = {"video": video, "stamps_ns": stamps.astype(np.int64),
                 "image_index": index.astype(np.int64), "has_commanded": has_cmd, "plan_index": c,
                 "camera_K": np.stack([k.K for k in cams]).astype(np.float32),
                 "camera_T_cam_base": np.stack([k.T_cam_base for k in cams]).astype(np.float32)}
    for src in ("logged", "commanded"):
        if src not in sources:
            out[f"prompts_{src}"] = None
            continue
        views, uv = [], np.zeros((V, len(clip), len(renderer.spec.names), 2), np.float32)
        for v in range(V):  # each view at its own image stamps
            q, w = _joints(rec, stamps[v], src)
            kps = renderer.keypoints(q, w)
            views.append(renderer.render_keypoints(kps, [cams[v]], (H, W)))
            uv[v] = cams[v].project(kps).uv
        q, w = _joints(rec, stamps[0], src)
        out[f"prompts_{src}"] = views[0] if V == 1 else np.concatenate(views, axis=0)
        out[f"keypoints_uv_{src}"] = uv
        out[f"actions_{src}"] = np.concatenate([q, w[:, None]], axis=1).astype(np.float32)
        out[f"ee_poses_{src}"] = robot.tcp_poses(q, w).astype(np.float32)
    return out


def _joints(rec: Recording, stamps: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    logged = rec.logged.sample(stamps)
    if source == "logged":
        return logged.positions, logged.gripper_width_m
    q, w, _ = rec.commanded(stamps)
    w = np.where(np.isnan(w), logged.gripper_width_m, w)  # plans rarely carry the gripper
    return q, w

"""Pass 2 over a bag: decode the planned images, and turn each clip into arrays.

Only images that some planned clip uses are deserialised and decoded; each is resized once to
the clip size (kept bit for bit at the native size), straight into the video array of the clip
that uses it (copied into any other clip that shares it). Prompts are rendered with
``PromptRenderer`` (the renderer live inference uses, of the config's ``prompt_type``) from the
logged joint states and, where the bag has a plan, the commanded trajectory: all views of a
clip in one batch, and a frame that overlapping clips share (stride < frames) only once.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator

import cv2
import numpy as np

from vap_ros.data.bag import BagReader
from vap_ros.data.config import RigConfig
from vap_ros.data.messages import image_to_rgb, parse_raw_image
from vap_ros.data.recording import Recording
from vap_ros.data.sync import ClipPlan
from vap_ros.errors import BagError, ImageError

__all__ = ["clip_size", "iter_clips", "make_clip", "resize_frame"]


def clip_size(rec: Recording, cfg: RigConfig) -> tuple[int, int]:
    """(H, W) of the clip frames: the config's, else the cameras' common size."""
    if cfg.clip.size is not None:
        return cfg.clip.size
    sizes = {(cam.height, cam.width) for cam in (c.calibrated() for c in rec.cameras)}
    if len(sizes) != 1:
        from vap_ros.errors import ConfigError

        raise ConfigError(f"cameras have different sizes {sorted(sizes)}: set clip.size")
    return sizes.pop()


def resize_frame(img: np.ndarray, size: tuple[int, int],
                 out: np.ndarray | None = None) -> np.ndarray:
    """Resize to (H, W); the native size is returned untouched (bit for bit).

    Downscaling by 2x or more in both axes first averages k x k blocks (INTER_AREA at an
    integer factor, OpenCV's fast path), then finishes bilinear: close to INTER_AREA at a
    tenth of its cost for non-integer factors (INTER_AREA 640x480 → 256x256: ~5 ms per image on
    one core, this: ~0.5 ms). Below 2x in an axis, plain bilinear.

    ``out``: an (H, W, C) array to write the result into (returned); the same pixels.
    """
    H, W = size
    h, w = img.shape[:2]
    if (h, w) == (H, W):
        return img if out is None else _into(out, img)
    k = min(w // W, h // H)
    if k >= 2 and w % k == 0 and h % k == 0:
        if (h // k, w // k) == (H, W):
            return _resize(img, (W, H), cv2.INTER_AREA, out)
        img = cv2.resize(img, (w // k, h // k), interpolation=cv2.INTER_AREA)
    return _resize(img, (W, H), cv2.INTER_LINEAR, out)


def _resize(img: np.ndarray, dsize: tuple[int, int], interpolation: int,
            out: np.ndarray | None) -> np.ndarray:
    if out is None:
        return cv2.resize(img, dsize, interpolation=interpolation)
    res = cv2.resize(img, dsize, dst=out, interpolation=interpolation)
    return out if np.shares_memory(res, out) else _into(out, res)


def _into(out: np.ndarray, img: np.ndarray) -> np.ndarray:
    out[...] = img.reshape(out.shape)
    return out


def _decode(reader: BagReader, raw, msgtype: str, topic: str, camera) -> np.ndarray:
    """An image message's RGB pixels; raw rgb8/bgr8/... Image messages are read in place,
    anything else goes through rosbags.

    Raises:
        ImageError: not decodable or not the calibrated size. Other exceptions: a corrupt
            message (rosbags' own).
    """
    msg = parse_raw_image(raw) if reader.is_ros2 and msgtype.endswith("/Image") else None
    if msg is None:
        msg = reader.deserialize(raw, msgtype)
    img = image_to_rgb(msg, msgtype)
    if img.shape[:2] != (camera.height, camera.width):
        raise ImageError(f"image {img.shape[1]}x{img.shape[0]} on {topic} does not match "
                         f"its calibration {camera.width}x{camera.height}")
    return img


def iter_clips(reader: BagReader, rec: Recording, plan: ClipPlan, cfg: RigConfig, renderer,
               failures: Counter, *, background: bool = True) -> Iterator[dict]:
    """Yield the planned clips as dicts of arrays (see ``make_clip``), in time order.

    A clip whose image cannot be decoded is dropped and counted in ``failures`` (reason →
    clips); the bag breaking off mid-read ends the iteration with the reason counted.
    With ``background``, prompts are rendered by a thread while this one reads and resizes
    the next clip's images (at most two clips ahead).
    """
    if not plan.clips.size:
        return
    size = clip_size(rec, cfg)
    cache = PromptCache()
    videos = _clip_videos(reader, rec, plan, size, failures)
    if not background:
        for c, video in videos:
            yield make_clip(rec, plan, c, video, cfg, renderer, size, cache)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="clip-prompts") as pool:
        pending: deque = deque()
        try:
            for c, video in videos:
                pending.append(pool.submit(make_clip, rec, plan, c, video, cfg, renderer, size,
                                           cache))
                while pending and (pending[0].done() or len(pending) > 2):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for job in pending:
                job.cancel()


def _clip_videos(reader: BagReader, rec: Recording, plan: ClipPlan, size: tuple[int, int],
                 failures: Counter) -> Iterator[tuple[int, np.ndarray]]:
    """(clip, video (V, F, H, W, 3)) of every clip whose images all decode, in clip order.

    Each needed image is read once and resized straight into the first clip slot using it
    (copied into the others); a clip's video is released once yielded.
    """
    V, C, F = len(rec.cameras), plan.clips.shape[0], plan.clips.shape[1]
    topic_v = {c.topic: v for v, c in enumerate(rec.cameras)}
    users: dict[tuple[int, int], list[tuple[int, int, int]]] = defaultdict(list)
    for c in range(C):  # which (clip, view, frame) slots each image fills
        index = plan.frame_index[plan.clips[c]]  # (F, V)
        for v in range(V):
            for f, i in enumerate(index[:, v].tolist()):
                users[(v, i)].append((c, v, f))
    videos: dict[int, np.ndarray] = {}  # the clips being filled
    filled = np.zeros(C, np.int64)
    errors: dict[int, dict[tuple[int, int], str]] = defaultdict(dict)
    next_clip = 0

    def done(c: int) -> np.ndarray | None:
        video = videos.pop(c, None)
        bad = errors.pop(c, None)
        if bad:  # the first bad image in view, frame order names the reason
            failures[bad[min(bad)]] += 1
            return None
        return video

    only = {c.topic: {i for (v, i) in users if v == k} for k, c in enumerate(rec.cameras)}
    try:
        for topic, i, _, raw in reader.read(topic_v, only=only):
            v = topic_v[topic]
            slots = users.get((v, i))
            if not slots:
                continue
            cam = rec.cameras[v]
            img, err = None, None
            try:
                img = _decode(reader, raw, cam.msgtype, topic, cam.camera)
            except ImageError as e:
                err = f"image not decodable: {e}"
            except Exception as e:  # noqa: BLE001 - any serde error: a corrupt message, counted
                err = f"corrupt image message on {topic} ({type(e).__name__})"
            first = None
            for c, sv, f in slots:
                filled[c] += 1
                if err is not None:
                    errors[c][(sv, f)] = err
                    continue
                if c in errors:
                    continue
                video = videos.get(c)
                if video is None:
                    video = videos[c] = np.empty((V, F, *size, 3), np.uint8)
                if first is None:
                    assert img is not None  # decoded: err is None
                    first = resize_frame(img, size, out=video[sv, f])
                else:
                    video[sv, f] = first
            while next_clip < C and filled[next_clip] >= V * F:
                video = done(next_clip)
                next_clip += 1
                if video is not None:
                    yield next_clip - 1, video
    except BagError as err:
        failures[f"bag unreadable from here on: {err}"] += C - next_clip
        return
    for c in range(next_clip, C):  # images never arrived (fewer messages than pass 1 saw)
        if filled[c] >= V * F:
            video = done(c)
            if video is not None:
                yield c, video
        else:
            failures["image missing in pass 2"] += 1


class PromptCache:
    """Rendered prompt frames of recent clips, by (source, view, image index): overlapping
    clips (stride < frames) share frames, and a frame's prompt depends only on its stamp."""

    def __init__(self) -> None:
        self._frames: dict[tuple[str, int, int], tuple[np.ndarray, np.ndarray]] = {}

    def get(self, source: str, v: int, index: int):
        """(prompt (H, W, 3), keypoints uv (K, 2)) or None."""
        return self._frames.get((source, v, index))

    def keep(self, source: str, index: np.ndarray, prompts: np.ndarray, uv: np.ndarray) -> None:
        """Remember a clip's frames (``index`` (V, F)) and forget those before them: clips
        come in time order, so no later clip uses an earlier image."""
        first = index[:, 0].tolist()
        self._frames = {k: x for k, x in self._frames.items()
                        if k[0] != source or k[2] >= first[k[1]]}
        for v, row in enumerate(index.tolist()):
            for f, i in enumerate(row):
                self._frames[(source, v, i)] = (prompts[v, f], uv[v, f])


def make_clip(rec: Recording, plan: ClipPlan, c: int, video: np.ndarray, cfg: RigConfig,
              renderer, size: tuple[int, int], cache: PromptCache | None = None) -> dict:
    """Arrays of clip ``c``; ``video`` (V, F, H, W, 3) uint8.

    Returns a dict: video, prompts_logged, prompts_commanded (or None), actions_* (F, D),
    keypoints_uv_* (V, F, K, 2), ee_poses_* (F, 4, 4), camera_K (V, 3, 3) at the clip size,
    camera_T_cam_base (V, 4, 4), stamps_ns (V, F), image_index (V, F), has_commanded.
    Prompt frames found in ``cache`` (the same image of an earlier clip) are reused.
    """
    H, W = size
    clip = plan.clips[c]
    V, F = len(rec.cameras), len(clip)
    stamps = plan.frame_stamps[clip].T  # (V, F)
    index = plan.frame_index[clip].T
    native = [cs.calibrated() for cs in rec.cameras]
    cams = [c.scaled(W, H) if (c.height, c.width) != (H, W) else c for c in native]
    robot = renderer.robot
    sources = ["logged"]
    has_cmd = bool(plan.commanded_ok[clip].all()) and bool(rec.plans)
    if has_cmd and (cfg.store_both_prompts or cfg.prompt_source == "commanded"):
        sources.append("commanded")
    out: dict = {"video": video, "stamps_ns": stamps.astype(np.int64),
                 "image_index": index.astype(np.int64), "has_commanded": has_cmd, "plan_index": c,
                 "camera_K": np.stack([k.K for k in cams]).astype(np.float32),
                 "camera_T_cam_base": np.stack([k.T_cam_base for k in cams]).astype(np.float32)}
    K = len(renderer.spec.names)
    for src in ("logged", "commanded"):
        if src not in sources:
            out[f"prompts_{src}"] = None
            continue
        q, w = _joints(rec, stamps.reshape(-1), src)  # every view at its own image stamps
        prompts = np.zeros((V, F, H, W, 3), np.uint8)
        uv = np.zeros((V, F, K, 2))
        cached = np.zeros((V, F), bool)
        for v, row in enumerate(index.tolist()):
            for f, i in enumerate(row):
                hit = cache.get(src, v, i) if cache is not None else None
                if hit is not None:
                    prompts[v, f], uv[v, f] = hit
                    cached[v, f] = True
        if not cached.all():  # one FK pass for every frame still to draw, one draw for all views
            _, drawn_uv, _ = renderer.render_views(q.reshape(V, F, -1), cams, w.reshape(V, F),
                                                   size, out=prompts, skip=cached)
            uv[~cached] = drawn_uv[~cached]
        out[f"prompts_{src}"] = prompts
        out[f"keypoints_uv_{src}"] = uv.astype(np.float32)
        q0, w0 = q[:F], w[:F]  # view 0's stamps are the reference stamps
        out[f"actions_{src}"] = np.concatenate([q0, w0[:, None]], axis=1).astype(np.float32)
        out[f"ee_poses_{src}"] = robot.tcp_poses(q0, w0).astype(np.float32)
        if cache is not None:
            cache.keep(src, index, prompts, out[f"keypoints_uv_{src}"])
    return out


def _joints(rec: Recording, stamps: np.ndarray, source: str) -> tuple[np.ndarray, np.ndarray]:
    logged = rec.logged.sample(stamps)
    w_logged = logged.gripper_width_m
    assert w_logged is not None  # pass 1 gives the logged series a width (read_recording)
    if source == "logged":
        return logged.positions, w_logged
    q, w, _ = rec.commanded(stamps)
    w = np.where(np.isnan(w), w_logged, w)  # plans rarely carry the gripper
    return q, w

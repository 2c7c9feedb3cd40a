"""Plan ranking with the world model: predict each candidate plan's whole video, score the
predicted final frames against a goal image per camera, sort.

Inputs are what a planner has: the current image of every calibrated camera, the candidate
plans (stamps from 0 = now) and a goal image per camera (what the scene should look like when
the plan is done). Each plan goes through the lookahead's own path (``Lookahead.prepare``: the
conditioning images resized as training clips are, the same ``PromptRenderer`` prompts at
the model's fps and size) and ``predict_long`` over the whole plan. Every plan's rollout has
the same length (the longest plan plus ``settle_s``; shorter plans hold their last pose) and
is sampled with the same seed, so the plans differ only by their prompts.

Score (higher is better): the PSNR of the final frame against the goal image over the goal's
*changed region* (pixels where the goal differs from the current image, dilated), averaged over
the views; a view where nothing changes is scored over the whole frame. At the model's 64x64 an
object covers a few dozen pixels, and the model's blur of the static background is the same
for every plan: whole-frame PSNR mostly measures that blur and the arm's final pose, the region
measures where the task happens (where the object and the arm must end up). The whole-frame
PSNR is reported too.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from vap_ros.camera import Camera
from vap_ros.data.clips import resize_frame
from vap_ros.errors import ImageError, ModelError
from vap_ros.robot import JointTrajectory
from vap_ros.serve.lookahead import Lookahead, Predictor, RolloutInputs
from vap_ros.train import metrics

__all__ = ["METRICS", "RankResult", "goal_region", "rank_order", "rank_plans",
           "rollout_length", "score_final"]

#: Scores of a final frame: "region" (the ranking score) and "psnr" (whole frame).
METRICS = ("region", "psnr")


@dataclass
class RankResult:
    """Attributes:
        scores: {metric: (K,) float} per plan (``METRICS``), higher is better.
        ranking: plan indices, best first (by ``metric``; ties keep the plans' order).
        metric: the score that ranks.
        final_frames: uint8 (K, V, H, W, 3) predicted final frames (model size).
        first_frames, goal: uint8 (V, H, W, 3) at the model's size; region: bool (V, H, W).
        frames: rollout length L (frame 0 = now); seconds: wall time of the predictions.
        videos, prompts: uint8 (K, V, L, H, W, 3) predicted videos and the prompt frames that
            conditioned them, if kept.
    """

    scores: dict[str, np.ndarray]
    ranking: list[int]
    metric: str
    final_frames: np.ndarray
    first_frames: np.ndarray
    goal: np.ndarray
    region: np.ndarray
    frames: int
    seconds: float
    videos: np.ndarray | None = None
    prompts: np.ndarray | None = None


def rollout_length(plans: Sequence[JointTrajectory], fps: float, settle_s: float = 0.2) -> int:
    """Frames L of a rollout covering the longest plan plus ``settle_s`` (frame 0 = start)."""
    end_s = max(int(p.stamps_ns[-1]) for p in plans) * 1e-9 + float(settle_s)
    return 1 + max(1, math.ceil(end_s * float(fps) - 1e-6))


def goal_region(first: np.ndarray, goal: np.ndarray, *, threshold: float = 0.1,
                dilate_px: int = 2) -> np.ndarray:
    """bool (V, H, W): where the goal differs from the current image by more than
    ``threshold`` of the intensity range in some channel, dilated by ``dilate_px``."""
    import cv2

    diff = np.abs(first.astype(np.int16) - goal.astype(np.int16)).max(axis=-1)
    mask = (diff > threshold * 255.0).astype(np.uint8)
    if dilate_px > 0:
        kernel = np.ones((2 * dilate_px + 1, 2 * dilate_px + 1), np.uint8)
        mask = np.stack([cv2.dilate(m, kernel) for m in mask])
    return mask.astype(bool)


def score_final(final: np.ndarray, goal: np.ndarray, region: np.ndarray) -> dict[str, float]:
    """``{"region": dB, "psnr": dB}`` of final frames (V, H, W, 3) against the goal (capped at
    ``metrics.UINT8_PSNR_CEILING_DB``, mean over views; see the module docstring)."""
    if final.shape != goal.shape or region.shape != goal.shape[:3]:
        raise ImageError(f"final frames {final.shape}, goal {goal.shape}, region {region.shape}: "
                         "expected (V, H, W, 3) twice and (V, H, W)")
    reg, full = [], []
    for v in range(goal.shape[0]):
        p = metrics.capped(metrics.psnr(goal[v][None], final[v][None], skip_first=0))
        full.append(p)
        r = (metrics.region_psnr(goal[v][None], final[v][None], region[v][None], skip_first=0)
             if region[v].any() else p)
        reg.append(metrics.capped(r))
    return {"region": float(np.mean(reg)), "psnr": float(np.mean(full))}


def rank_order(scores: Sequence[float] | np.ndarray) -> list[int]:
    """Indices, best (highest) score first; equal scores keep their order."""
    return sorted(range(len(scores)), key=lambda i: -float(scores[i]))


def _images(images: Any, views: int, size: tuple[int, int], what: str) -> np.ndarray:
    if len(images) != views:
        raise ImageError(f"{what}: {len(images)} images for {views} cameras (expected one per "
                         "camera, in the cameras' order)")
    out = []
    for i, img in enumerate(images):
        a = np.asarray(img)
        if a.ndim != 3 or a.shape[-1] != 3 or a.dtype != np.uint8:
            raise ImageError(f"{what}[{i}]: {a.shape} {a.dtype}, expected (H, W, 3) uint8 RGB")
        out.append(resize_frame(a, size))
    return np.stack(out)


def rank_plans(model: Predictor, first_frames: Sequence[np.ndarray], cameras: Sequence[Camera],
               plans: Sequence[JointTrajectory], goal: Sequence[np.ndarray], *,
               renderer=None, frames: int | None = None, settle_s: float = 0.2,
               steps: int | None = None, seed: int = 0, metric: str = "region",
               keep_videos: bool = False, progress: bool = False,
               current_width_m: float | None = None) -> RankResult:
    """Predict every plan's video and rank the plans by their predicted final frames.

    Args:
        model: a ``Predictor`` (``WorldModel``): ``config`` and ``predict_long``. The plans are
            predicted in their order.
        first_frames: the current image of every camera (any size; resized to the model's).
        cameras: the calibrated cameras (at the images' size), view order.
        plans: candidate plans in the robot's joint order, stamps from 0 = the images' time.
        goal: a goal image per camera (any size; resized to the model's).
        renderer: the ``PromptRenderer`` (default: the dataset builder's for ``panda``, of the
            model's prompt type).
        frames: rollout length L (default ``rollout_length(plans, fps, settle_s)``).
        steps, seed: sampler steps per chunk (None: the model's) and the seed of every plan.
        metric: the score that ranks, one of ``METRICS``.
        keep_videos: keep every plan's predicted video and prompts (``RankResult.videos``).
        current_width_m: the gripper width drawn for a plan that carries none (None: no
            gripper width, the renderer's default).
    Returns:
        a ``RankResult``.
    Raises:
        ModelError: no plans, an unknown metric, or what the model raises.
        ImageError: image counts or shapes that do not fit the cameras.
    """
    from tqdm.auto import tqdm

    if not plans:
        raise ModelError("rank_plans: no plans to rank (expected at least one)")
    if metric not in METRICS:
        raise ModelError(f"ranking metric {metric!r}: expected one of {list(METRICS)}")
    if renderer is None:
        from vap_ros.data.build import prompt_renderer

        renderer = prompt_renderer("panda", getattr(model.config, "prompt_type", "skeleton"))
    look = Lookahead(renderer, model)
    size = (look.height, look.width)
    V = len(cameras)
    images = _images(first_frames, V, size, "first_frames")
    goal_m = _images(goal, V, size, "goal")
    L = int(frames) if frames is not None else rollout_length(plans, look.fps, settle_s)
    region = goal_region(images, goal_m)
    kw: dict[str, Any] = {"seed": int(seed)}
    if steps:
        kw["steps"] = int(steps)
    finals, videos, prompt_videos = [], [], []
    scores: dict[str, list[float]] = {m: [] for m in METRICS}
    t0 = time.perf_counter()
    for plan in tqdm(plans, desc="rank plans", unit="plan", disable=not progress):
        inputs = RolloutInputs(list(cameras), list(images), [0] * V, plan=plan,
                               current_width_m=current_width_m)
        first, prompts, _q, _t = look.prepare(inputs, L)
        video = np.asarray(model.predict_long(first, prompts, **kw))
        if video.shape != prompts.shape or video.dtype != np.uint8:
            raise ModelError(f"world model returned {video.shape} {video.dtype}, expected "
                             f"{prompts.shape} uint8")
        finals.append(video[:, -1])
        if keep_videos:
            videos.append(video)
            prompt_videos.append(prompts)
        for m, value in score_final(video[:, -1], goal_m, region).items():
            scores[m].append(value)
    arr = {m: np.asarray(v, np.float64) for m, v in scores.items()}
    return RankResult(scores=arr, ranking=rank_order(arr[metric]), metric=metric,
                      final_frames=np.stack(finals), first_frames=images, goal=goal_m,
                      region=region, frames=L, seconds=time.perf_counter() - t0,
                      videos=np.stack(videos) if keep_videos else None,
                      prompts=np.stack(prompt_videos) if keep_videos else None)

"""Checking and converting the world model's inputs (numpy uint8 at the API, tensors inside).

Every check raises ``ModelError`` naming the input, the shape/dtype it had and what the model
expects, so a ROS node can log it and carry on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from vap_ros.errors import ModelError
from vap_ros.model.config import WorldModelConfig

__all__ = ["Batch", "LongInputs", "check_actions", "check_batch", "check_first_frames",
           "check_prompts", "check_rollout", "check_video", "from_uint8", "to_uint8"]


@dataclass(frozen=True)
class Batch:
    """A checked training batch, views folded into the batch dimension: ``video`` and
    ``prompts`` (B*V, 3, T, H, W), ``actions`` (B*V, T, D), ``loss_weight`` (B*V, 1, T, H, W);
    an entry the model's conditioning does not use (or an absent loss weight) is None."""

    video: torch.Tensor
    prompts: torch.Tensor | None = None
    actions: torch.Tensor | None = None
    loss_weight: torch.Tensor | None = None


def _shape(x: Any) -> str:
    return str(tuple(x.shape)) if hasattr(x, "shape") else type(x).__name__


def check_first_frames(first_frames: Any, cfg: WorldModelConfig) -> np.ndarray:
    """uint8 (V, H, W, 3) (or one (H, W, 3) image) -> (V, H, W, 3)."""
    if not isinstance(first_frames, np.ndarray):
        raise ModelError(f"first_frames must be a numpy uint8 array (V, H, W, 3), got "
                         f"{type(first_frames).__name__}")
    if first_frames.ndim == 3:
        first_frames = first_frames[None]
    if first_frames.ndim != 4 or first_frames.shape[-1] != 3:
        raise ModelError(f"first_frames shape {first_frames.shape}: expected (V, H, W, 3) RGB")
    if first_frames.dtype != np.uint8:
        raise ModelError(f"first_frames dtype {first_frames.dtype}: expected uint8")
    if first_frames.shape[1:3] != (cfg.height, cfg.width):
        raise ModelError(
            f"first_frames are {first_frames.shape[1]}x{first_frames.shape[2]} (HxW); the "
            f"model ({cfg.preset}) expects {cfg.height}x{cfg.width}")
    return first_frames


def check_video(video: Any, name: str, views: int, cfg: WorldModelConfig,
                layout: str = "(V, T, H, W, 3)") -> np.ndarray:
    """uint8 ``layout`` videos (any frame count), one per view, at the model's size."""
    if not isinstance(video, np.ndarray):
        raise ModelError(f"{name} must be a numpy uint8 array {layout}, got "
                         f"{type(video).__name__}")
    if video.ndim != 5 or video.shape[-1] != 3:
        raise ModelError(f"{name} shape {video.shape}: expected {layout} RGB")
    if video.dtype != np.uint8:
        raise ModelError(f"{name} dtype {video.dtype}: expected uint8")
    if video.shape[0] != views:
        raise ModelError(f"{name} have {video.shape[0]} views but first_frames have {views}; "
                         "expected one video per view")
    if video.shape[2:4] != (cfg.height, cfg.width):
        raise ModelError(f"{name.rstrip('s')} frames are {video.shape[2]}x{video.shape[3]} "
                         f"(HxW); the model expects {cfg.height}x{cfg.width}")
    return video


def check_prompts(prompts: Any, views: int, cfg: WorldModelConfig) -> np.ndarray:
    """uint8 (V, T, H, W, 3) prompt videos matching the views and the model's geometry."""
    if not isinstance(prompts, np.ndarray):
        raise ModelError(f"prompts must be a numpy uint8 array (V, T, H, W, 3) for conditioning "
                         f"{cfg.conditioning!r}, got {type(prompts).__name__}")
    check_video(prompts, "prompts", views, cfg)
    if prompts.shape[1] != cfg.num_frames:
        raise ModelError(f"prompts have {prompts.shape[1]} frames; the model ({cfg.preset}) "
                         f"predicts {cfg.num_frames} frames (frame 0 = the first frame)")
    return prompts


def check_actions(actions: Any, cfg: WorldModelConfig, frames: int | None = None) -> np.ndarray:
    """float (T, D) actions, one per predicted frame (T = ``frames``, or the model's
    ``num_frames`` when None) -> float32 (T, D)."""
    if actions is None:
        raise ModelError("conditioning 'raw_action' needs actions (T, D), got None")
    actions = np.asarray(actions, dtype=np.float32)
    want = cfg.num_frames if frames is None else frames
    if actions.shape != (want, cfg.action_dim):
        raise ModelError(f"actions shape {actions.shape}: expected ({want}, "
                         f"{cfg.action_dim}) (frames, joint positions + gripper width)")
    if not np.isfinite(actions).all():
        raise ModelError("actions contain NaN or inf")
    return actions


@dataclass(frozen=True)
class LongInputs:
    """The checked inputs of a long rollout (``WorldModel.predict_long``) of ``length`` frames:
    ``first_frames`` (V, H, W, 3), ``prompts`` (V, L, H, W, 3) or None, ``actions`` (L, D)
    (raw_action) or None, ``anchors`` (V, L, H, W, 3) real frames or None."""

    first_frames: np.ndarray
    length: int
    prompts: np.ndarray | None = None
    actions: np.ndarray | None = None
    anchors: np.ndarray | None = None


def check_rollout(first_frames: Any, prompts: Any, actions: Any, anchors: Any,
                  cfg: WorldModelConfig) -> LongInputs:
    """The inputs of a rollout of any length L >= 1.

    L is the prompts' frame count (required for skeleton conditioning; for the other
    conditionings optional, and then they only set L), else the actions' row count (required for
    raw_action; the prompts' L when both are given). Actions are ignored unless raw_action, as
    in ``predict``. ``anchors``: optional real frames, one per rollout frame and view.

    Raises:
        ModelError: a wrong type, dtype, shape, size or view count, lengths that disagree, or
            no input that gives L.
    """
    frames = check_first_frames(first_frames, cfg)
    views = frames.shape[0]
    layout = "(V, L, H, W, 3)"
    if cfg.conditioning == "skeleton" and not isinstance(prompts, np.ndarray):
        raise ModelError(f"prompts must be a numpy uint8 array {layout} for conditioning "
                         f"{cfg.conditioning!r}, got {type(prompts).__name__}")
    if prompts is not None:
        prompts = check_video(prompts, "prompts", views, cfg, layout)
    if cfg.conditioning == "raw_action":
        rows = np.shape(actions)[:1] if actions is not None else ()
        want = prompts.shape[1] if prompts is not None else (rows[0] if rows else 1)
        actions = check_actions(actions, cfg, frames=want)
    else:
        actions = None
    if prompts is not None:
        length = prompts.shape[1]
    elif actions is not None:
        length = actions.shape[0]
    else:
        raise ModelError(f"conditioning {cfg.conditioning!r}: a rollout needs prompts {layout} "
                         "to know its length L (they do not condition this model)")
    if length < 1:
        raise ModelError(f"the rollout has {length} frames: expected L >= 1 (frame 0 = the "
                         "first frame)")
    if anchors is not None:
        anchors = check_video(anchors, "anchors", views, cfg, layout)
        if anchors.shape[1] != length:
            raise ModelError(f"anchors have {anchors.shape[1]} frames; the rollout has {length} "
                             "(expected one real frame per rollout frame and view)")
    return LongInputs(frames, int(length), prompts, actions, anchors)


def from_uint8(video: np.ndarray, device, dtype=torch.float32) -> torch.Tensor:
    """uint8 (..., T, H, W, 3) -> float (..., 3, T, H, W) in [-1, 1]."""
    x = torch.from_numpy(np.ascontiguousarray(video)).to(device)
    x = x.movedim(-1, -4).to(dtype)
    return x / 127.5 - 1.0


def to_uint8(video: torch.Tensor) -> np.ndarray:
    """float (V, 3, T, H, W) in [-1, 1] -> uint8 (V, T, H, W, 3)."""
    x = ((video.float().clamp(-1, 1) + 1.0) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 4, 1).cpu().numpy()


def _tensor(batch: dict, key: str, ndim: int, layout: str) -> torch.Tensor:
    x = batch.get(key)
    if not isinstance(x, torch.Tensor):
        raise ModelError(f"batch[{key!r}] must be a float tensor {layout}, got "
                         f"{type(x).__name__}")
    if x.ndim != ndim or not x.is_floating_point():
        raise ModelError(f"batch[{key!r}] shape {_shape(x)} dtype {x.dtype}: expected a float "
                         f"tensor {layout}")
    return x


def check_batch(batch: dict, cfg: WorldModelConfig) -> Batch:
    """Validate a training batch and fold views into the batch dimension.

    Input layout: ``video`` (B, V, 3, T, H, W) in [-1, 1] (frame 0 = the conditioning frame),
    ``prompts`` (B, V, 3, T, H, W) (skeleton conditioning), ``actions`` (B, T, D) (raw_action),
    optional ``loss_weight`` (B, V, 1, T, H, W).

    Returns:
        The ``Batch``: ``prompts`` set for skeleton conditioning, ``actions`` for raw_action.
    Raises:
        ModelError: a missing entry or any shape that does not fit the model.
    """
    if not isinstance(batch, dict):
        raise ModelError(f"batch must be a dict, got {type(batch).__name__}")
    video = _tensor(batch, "video", 6, "(B, V, 3, T, H, W)")
    b, v, c, t, h, w = video.shape
    want = (3, cfg.num_frames, cfg.height, cfg.width)
    if (c, t, h, w) != want:
        raise ModelError(f"batch['video'] shape {tuple(video.shape)}: expected (B, V, "
                         f"{', '.join(map(str, want))})")
    out: dict[str, torch.Tensor] = {"video": video.flatten(0, 1)}
    if cfg.conditioning == "skeleton":
        prompts = _tensor(batch, "prompts", 6, "(B, V, 3, T, H, W)")
        if prompts.shape != video.shape:
            raise ModelError(f"batch['prompts'] shape {tuple(prompts.shape)} does not match "
                             f"batch['video'] {tuple(video.shape)} (same views and frames)")
        out["prompts"] = prompts.flatten(0, 1)
    if cfg.conditioning == "raw_action":
        actions = _tensor(batch, "actions", 3, "(B, T, D)")
        if actions.shape != (b, t, cfg.action_dim):
            raise ModelError(f"batch['actions'] shape {tuple(actions.shape)}: expected "
                             f"({b}, {t}, {cfg.action_dim})")
        out["actions"] = actions.repeat_interleave(v, dim=0)
    if batch.get("loss_weight") is not None:
        weight = _tensor(batch, "loss_weight", 7 - 1, "(B, V, 1, T, H, W)")
        if weight.shape != (b, v, 1, t, h, w):
            raise ModelError(f"batch['loss_weight'] shape {tuple(weight.shape)}: expected "
                             f"({b}, {v}, 1, {t}, {h}, {w})")
        out["loss_weight"] = weight.flatten(0, 1)
    return Batch(**out)


def prompt_swept_region(prompts: torch.Tensor, radius: int, threshold: float = 0.1
                        ) -> torch.Tensor:
    """Where the robot has been by each frame, as its prompt shows it.

    Args:
        prompts: float (V, 3, T, H, W) in [-1, 1], frame 0 drawn at the first frame's state.
        radius: pixels to grow the region by (the skeleton is thinner than the arm).
        threshold: a pixel counts as moved once it differs from frame 0 by more than this.
    Returns:
        bool (V, T, 1, H, W): True within ``radius`` of any pixel the prompt changed in frames
        0..t (cumulative, so what the arm moved stays in the region after it leaves).
    """
    moved = (prompts - prompts[:, :, :1]).abs().amax(dim=1) > threshold  # (V, T, H, W)
    moved = torch.cummax(moved.to(torch.uint8), dim=1).values.to(prompts.dtype)
    v, t, h, w = moved.shape
    k = 2 * radius + 1
    grown = torch.nn.functional.max_pool2d(moved.reshape(v * t, 1, h, w), k, stride=1,
                                           padding=radius)
    return grown.reshape(v, t, 1, h, w) > 0

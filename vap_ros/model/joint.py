"""Joint video + action-image generation (``generate_actions: action_images``).

After "Action Images" (Zhen et al.): a 7-DoF action (end-effector pose + gripper) becomes, per
view, a pixel-grounded heatmap image (``vap_ros.prompts.ActionImageCodec``), and one video model
generates the RGB frames and these action images together. Here the action images go through
the same working-space codec as RGB (identity in pixel space, the CogVideoX VAE in latent
space) and are stacked with the RGB latents on the channel axis, so one transformer denoises
both (C = the working space's channels: 3 pixels, 16 VAE)::

    denoised latents  [ RGB | action images ]                                  2C channels
    conditions        [ first frame | current action image | goal image | clean video ]   4C

Conditions that are not given are blank (zeros in the working space: mid-grey in pixel
space, which no real frame or action image is). Two uses of the same weights:

* **policy** (``predict_joint``): the first frame per view, the current joint state as its
  action image (FK through the codec: the pixel-grounded form of the joint state) and a goal
  image per view -> the video and the action images of the next T frames;
* **labeller** (``label``): a clean video per view (no joint state, no goal) -> its action
  images, like inpainting the action channels with the RGB ones fixed.

Training (``training_loss``) draws per sample: labelling mode with probability
``action_label_fraction`` (clean video given; loss on the action channels only), else policy
mode (current action image given, goal dropped with ``cond_dropout``; loss on both).
With ``residual: true`` the RGB channels diffuse the change from the first frame as the
plain model does; action images are absolute (their frame 0 is unknown when labelling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vap_ros.errors import ModelError
from vap_ros.model import inputs
from vap_ros.model.sampler import sample_latents

if TYPE_CHECKING:
    from vap_ros.model.world_model import WorldModel

__all__ = ["JointBatch", "check_joint_batch", "conditions", "sample", "training_loss"]


@dataclass(frozen=True)
class JointBatch:
    """A checked joint training batch, views folded into the batch: ``video`` and
    ``action_images`` (N, 3, T, H, W), ``goal`` (N, 3, 1, H, W) or None (no goal: blank),
    ``loss_weight`` (N, 1, T, H, W) or None."""

    video: torch.Tensor
    action_images: torch.Tensor
    goal: torch.Tensor | None = None
    loss_weight: torch.Tensor | None = None


def check_joint_batch(batch: dict, cfg) -> JointBatch:
    """Validate a joint training batch: ``video`` and ``action_images`` (B, V, 3, T, H, W) in
    [-1, 1], optional ``goal`` (B, V, 3, 1, H, W) and ``loss_weight`` (B, V, 1, T, H, W).

    Raises:
        ModelError: a missing entry or a shape that does not fit the model.
    """
    b = inputs.check_batch({k: batch[k] for k in ("video", "loss_weight") if k in batch}
                           if isinstance(batch, dict) else batch, cfg)
    video = batch["video"]
    acts = batch.get("action_images")
    if not isinstance(acts, torch.Tensor) or not acts.is_floating_point():
        raise ModelError(f"batch['action_images'] must be a float tensor (B, V, 3, T, H, W) "
                         f"(generate_actions {cfg.generate_actions!r}), got "
                         f"{type(acts).__name__}")
    if acts.shape != video.shape:
        raise ModelError(f"batch['action_images'] shape {tuple(acts.shape)} does not match "
                         f"batch['video'] {tuple(video.shape)} (one action image per frame "
                         "and view)")
    goal = batch.get("goal")
    if goal is not None:
        want = (*video.shape[:3], 1, *video.shape[4:])
        if not isinstance(goal, torch.Tensor) or tuple(goal.shape) != want:
            raise ModelError(f"batch['goal'] shape {inputs._shape(goal)}: expected {want} "
                             "(B, V, 3, 1, H, W): one goal image per view")
        goal = goal.flatten(0, 1)
    return JointBatch(b.video, acts.flatten(0, 1), goal, b.loss_weight)


def _mask(x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """Blank (zero) the samples of (N, ...) ``x`` where ``keep`` (N,) is False."""
    return x * keep.to(x.dtype).view(-1, *([1] * (x.dim() - 1)))


def conditions(wm: WorldModel, first: torch.Tensor, first_actions: torch.Tensor | None,
               goal: torch.Tensor | None, video: torch.Tensor | None, *,
               keep_actions: torch.Tensor | None = None, keep_goal: torch.Tensor | None = None,
               keep_video: torch.Tensor | None = None) -> torch.Tensor:
    """The 4C condition channels (N, F, 4C, h, w) of the joint layout.

    Args:
        first: first frames (N, 3, 1, H, W) in [-1, 1].
        first_actions: current action images (N, 3, 1, H, W) or None (blank).
        goal: goal images (N, 3, 1, H, W) or None (blank).
        video: clean videos (N, 3, T, H, W) (labelling) or None (blank).
        keep_*: (N,) bool: per sample, False blanks that condition (training modes).
    """
    img = wm.image_condition(first)
    blank = torch.zeros_like(img)
    parts = [img]
    for x, keep in ((first_actions, keep_actions), (goal, keep_goal)):
        c = blank if x is None else wm.image_condition(x).to(img.dtype)
        parts.append(c if keep is None else _mask(c, keep))
    v = blank if video is None else wm.codec.encode(video).to(img.dtype)
    parts.append(v if keep_video is None else _mask(v, keep_video))
    return torch.cat(parts, dim=2)


def training_loss(wm: WorldModel, batch: dict, generator: torch.Generator | None = None
                  ) -> dict[str, torch.Tensor]:
    """Diffusion loss of a joint model on one batch (see the module docstring).

    Returns:
        ``loss`` (weighted, differentiable), ``mse`` (all channels, detached) and
        ``mse_actions`` (action channels, detached).
    """
    cfg = wm.config
    b = check_joint_batch(batch, cfg)
    dev, dtype = wm.device, wm.dtype
    video = b.video.to(dev, dtype)
    acts = b.action_images.to(dev, dtype)
    n = video.shape[0]
    gdev = generator.device if generator is not None else dev
    c = wm.codec.channels
    with torch.no_grad():
        x_rgb = wm.codec.encode(video).float()
        if cfg.residual:
            x_rgb = cfg.residual_scale * (x_rgb - x_rgb[:, :1])
        x0 = torch.cat([x_rgb, wm.codec.encode(acts).float()], dim=2)
    t = torch.randint(0, wm.scheduler.config.num_train_timesteps, (n,), generator=generator,
                      device=gdev).to(dev)
    noise = torch.randn(x0.shape, generator=generator, device=gdev).to(dev)
    label = (torch.rand(n, generator=generator, device=gdev) < cfg.action_label_fraction).to(dev)
    drop = (torch.rand(n, generator=generator, device=gdev) < cfg.cond_dropout).to(dev)
    xt = wm.scheduler.add_noise(x0, noise, t)
    target = wm._target(x0, noise, t)
    with torch.no_grad():
        goal = None if b.goal is None else b.goal.to(dev, dtype)
        cond = conditions(wm, video[:, :, :1], acts[:, :, :1], goal, video,
                          keep_actions=~label, keep_goal=~label & ~drop, keep_video=label)
    x = torch.cat([xt.to(dtype), cond], dim=2)
    pred = wm.denoiser(x, t, None, None, wm.rotary(x)).float()
    se = (pred - target) ** 2  # (N, F, 2C, h, w)
    cw = torch.ones(n, 1, 2 * c, 1, 1, device=dev)
    cw[:, :, :c] = (~label).float().view(n, 1, 1, 1, 1)  # labelling: the video is given
    cw[:, :, c:] = cfg.action_loss_weight
    w = cw if b.loss_weight is None else cw * wm._weight_map(b.loss_weight.to(dev, torch.float32))
    loss = (se * w).sum() / w.expand_as(se).sum().clamp_min(1e-8)
    return {"loss": loss, "mse": se.mean().detach(), "mse_actions": se[:, :, c:].mean().detach()}


def _images(x: Any, name: str, views: int, cfg) -> np.ndarray:
    """uint8 (V, H, W, 3) images at the model's size, one per view."""
    if not isinstance(x, np.ndarray):
        raise ModelError(f"{name} must be a numpy uint8 array (V, H, W, 3), got "
                         f"{type(x).__name__}")
    return inputs.check_video(x[:, None] if x.ndim == 4 else x, name, views, cfg)[:, 0]


@torch.no_grad()
def check_sample_inputs(cfg, first_frames: Any, action_state: Any, goal: Any, video: Any,
                        guidance_scale: float
                        ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None,
                                   np.ndarray | None]:
    """The sampling inputs every joint model takes, checked (ModelError naming the wrong one):
    (first frames (V, H, W, 3), video to label or None, action_state or None, goal or None)."""
    frames = inputs.check_first_frames(first_frames, cfg)
    views = frames.shape[0]
    if video is not None:
        video = inputs.check_video(video, "video", views, cfg)
        if video.shape[1] != cfg.num_frames:
            raise ModelError(f"the video to label has {video.shape[1]} frames; the model "
                             f"({cfg.preset}) takes {cfg.num_frames}")
    state = None if action_state is None else _images(action_state, "action_state", views, cfg)
    goal_u8 = None if goal is None else _images(goal, "goal", views, cfg)
    if guidance_scale != 1.0 and goal_u8 is None:
        raise ModelError("guidance_scale != 1 guides towards the goal: give goal images")
    return frames, video, state, goal_u8


def condition_tensors(wm: WorldModel, frames: np.ndarray, state: np.ndarray | None,
                      goal: np.ndarray | None, video: np.ndarray | None
                      ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None,
                                 torch.Tensor | None]:
    """The checked uint8 inputs of a joint sampler (``check_sample_inputs``) as the model's
    tensors: first frame, current action image and goal (V, 3, 1, H, W), clean video
    (V, 3, T, H, W); None stays None."""
    dev, dtype = wm.device, wm.dtype

    def one_frame(x: np.ndarray) -> torch.Tensor:
        return inputs.from_uint8(x[:, None], dev, dtype)

    return (one_frame(frames), None if state is None else one_frame(state),
            None if goal is None else one_frame(goal),
            None if video is None else inputs.from_uint8(video, dev, dtype))


def sample(wm: WorldModel, first_frames: np.ndarray, *, action_state: np.ndarray | None = None,
           goal: np.ndarray | None = None, video: np.ndarray | None = None,
           steps: int | None = None, seed: int = 0, guidance_scale: float = 1.0,
           eta: float = 0.0, callback=None) -> tuple[np.ndarray, np.ndarray]:
    """Sample RGB frames and action images together (``WorldModel.predict_joint`` / ``label``).

    Args:
        first_frames: uint8 (V, H, W, 3).
        action_state: uint8 (V, H, W, 3) the current action image per view, or None.
        goal: uint8 (V, H, W, 3) a goal image per view, or None.
        video: uint8 (V, T, H, W, 3) a clean video to label, or None.
        guidance_scale: classifier-free guidance on the goal (1.0: none).
    Returns:
        (video, action_images), uint8 (V, T, H, W, 3) each; video frame 0 is the given first
        frame (and the whole given video when labelling), action frame 0 the given
        ``action_state`` when there is one.
    Raises:
        ModelError: inputs of the wrong type, shape, size or view count.
    """
    cfg = wm.config
    if not cfg.action_images:
        raise ModelError(f"this model does not generate action images (generate_actions "
                         f"{cfg.generate_actions!r}); use predict() ('none') or "
                         "WorldModel.predict_joint ('joint_states')")
    frames, video, state, goal_u8 = check_sample_inputs(cfg, first_frames, action_state, goal,
                                                        video, guidance_scale)
    first, t_state, t_goal, t_video = condition_tensors(wm, frames, state, goal_u8, video)
    cond = conditions(wm, first, t_state, t_goal, t_video)
    kw: dict[str, Any] = {}
    if guidance_scale != 1.0:
        kw["image_cond_uncond"] = conditions(wm, first, t_state, None, t_video)
    c = wm.codec.channels
    latents = sample_latents(
        wm.denoiser, wm.scheduler, cond, channels=2 * c, steps=steps or cfg.steps,
        generator=torch.Generator().manual_seed(int(seed)), guidance_scale=guidance_scale,
        rotary=wm.rotary(cond), eta=eta, callback=callback, **kw)
    rgb, act = latents[:, :, :c], latents[:, :, c:]
    out_video = video.copy() if video is not None else wm.decode_video(rgb, first)
    acts = inputs.to_uint8(wm.codec.decode(act.to(wm.dtype)).float())
    if state is not None:
        acts[:, 0] = state
    return out_video, acts

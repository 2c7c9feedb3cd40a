"""Joint video + joint-state generation (``generate_actions: joint_states``): the CoVAR-style
action head beside the pixel-grounded action images of ``vap_ros.model.joint``.

The same conditions as the action-image model (input channels [first frame | current action
image | goal image | clean video], each blank when not given) and the same RGB channels; the
actions are not images but, per video frame, the ``action_dim`` joint positions + gripper width
normalised to [-1, 1] (``vap_ros.label.JointStateScale``): a noisy sequence (N, T, D) that
``ActionHead`` turns into T action tokens, led by one token of the current joint state (a null
token when not given). They travel in the transformer's text stream, so every block attends
jointly over them and the video tokens; the head's timestep-conditioned output predicts the
scheduler's target for the sequence. Video and sequence share the timestep and the noise
schedule. Two uses of the same weights:

* **policy** (``predict_joint`` with ``joint_state``): the first frame, the current joint state
  (as a vector and as its action image) and a goal image per view -> the video and the joint
  sequence of the next T frames (a joint plan: no IK);
* **labeller** (``label``): a clean video per view, no joint state, no goal -> its joint
  sequence (per view; ``vap_ros.label`` averages the views and takes FK).

Training (``training_loss``) draws the modes as ``vap_ros.model.joint`` does: labelling with
probability ``action_label_fraction`` (clean video given; loss on the sequence only), else
policy (state given, goal dropped with ``cond_dropout``; loss on video and sequence). The loss
is ``video loss + action_loss_weight x sequence loss`` (each a mean over its elements).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from vap_ros.errors import ModelError
from vap_ros.model import inputs
from vap_ros.model.action_head import ActionHead
from vap_ros.model.joint import (
    check_joint_batch,
    check_sample_inputs,
    condition_tensors,
    conditions,
)

if TYPE_CHECKING:
    from vap_ros.model.world_model import WorldModel

__all__ = ["check_joint_states", "sample", "training_loss"]


def _head(wm: WorldModel) -> ActionHead:
    head = wm.denoiser.action_head
    if head is None:
        raise ModelError(f"generate_actions {wm.config.generate_actions!r}: this model has no "
                         "action head (expected 'joint_states')")
    return head


def check_joint_states(x: Any, name: str, batch: int, cfg) -> torch.Tensor:
    """A float tensor (batch, T, D) of normalised joint states, else one ``ModelError``."""
    want = (batch, cfg.num_frames, cfg.action_dim)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or tuple(x.shape) != want:
        raise ModelError(f"{name}: expected a float tensor {want} (B, T, action_dim: joint "
                         f"positions + gripper width normalised to [-1, 1]), got "
                         f"{inputs._shape(x)}")
    if not torch.isfinite(x).all():
        raise ModelError(f"{name} holds NaN or infinite values")
    return x


def training_loss(wm: WorldModel, batch: dict, generator: torch.Generator | None = None
                  ) -> dict[str, torch.Tensor]:
    """Diffusion loss of a joint-state model on one batch (see the module docstring): the
    joint batch of ``vap_ros.model.joint`` plus ``joint_states`` (B, T, D) (shared by the
    views).

    Returns:
        ``loss`` (differentiable), ``mse`` (video, detached) and ``mse_actions`` (sequence,
        detached).
    Raises:
        ModelError: a missing entry or a shape that does not fit the model.
    """
    cfg = wm.config
    head = _head(wm)
    b = check_joint_batch(batch, cfg)
    video_b = batch["video"]
    states = check_joint_states(batch.get("joint_states"), "batch['joint_states']",
                                video_b.shape[0], cfg)
    views = video_b.shape[1]
    dev, dtype = wm.device, wm.dtype
    video = b.video.to(dev, dtype)
    acts = b.action_images.to(dev, dtype)
    a0 = states.to(dev, torch.float32).repeat_interleave(views, dim=0)  # (N, T, D)
    n = video.shape[0]
    gdev = generator.device if generator is not None else dev
    with torch.no_grad():
        x0 = wm.codec.encode(video).float()
        if cfg.residual:
            x0 = cfg.residual_scale * (x0 - x0[:, :1])
    t = torch.randint(0, wm.scheduler.config.num_train_timesteps, (n,), generator=generator,
                      device=gdev).to(dev)
    noise = torch.randn(x0.shape, generator=generator, device=gdev).to(dev)
    noise_a = torch.randn(a0.shape, generator=generator, device=gdev).to(dev)
    label = (torch.rand(n, generator=generator, device=gdev) < cfg.action_label_fraction).to(dev)
    drop = (torch.rand(n, generator=generator, device=gdev) < cfg.cond_dropout).to(dev)
    xt = wm.scheduler.add_noise(x0, noise, t)
    at = wm.scheduler.add_noise(a0, noise_a, t)
    target, target_a = wm._target(x0, noise, t), wm._target(a0, noise_a, t)
    with torch.no_grad():
        goal = None if b.goal is None else b.goal.to(dev, dtype)
        cond = conditions(wm, video[:, :, :1], acts[:, :, :1], goal, video,
                          keep_actions=~label, keep_goal=~label & ~drop, keep_video=label)
    x = torch.cat([xt.to(dtype), cond], dim=2)
    tokens = head.tokens(at.to(dtype), a0[:, 0].to(dtype), keep_state=~label)
    pred, out_tokens, temb = wm.denoiser.forward_actions(x, t, tokens, wm.rotary(x))
    pred_a = head.output(out_tokens, temb).float()
    se = (pred.float() - target) ** 2  # (N, F, C, h, w)
    w = (~label).float().view(n, 1, 1, 1, 1)  # labelling: the video is given
    if b.loss_weight is not None:
        w = w * wm._weight_map(b.loss_weight.to(dev, torch.float32))
    w = w.expand_as(se)
    loss_video = (se * w).sum() / w.sum().clamp_min(1e-8)
    se_a = (pred_a - target_a) ** 2
    loss = loss_video + cfg.action_loss_weight * se_a.mean()
    return {"loss": loss, "mse": se.mean().detach(), "mse_actions": se_a.mean().detach()}


def _state(x: Any, views: int, cfg) -> np.ndarray:
    """float32 (D,) or (V, D) normalised joint state -> (V, D)."""
    a = np.asarray(x, np.float32) if isinstance(x, (np.ndarray, list, tuple)) else None
    if a is None or a.shape not in ((cfg.action_dim,), (views, cfg.action_dim)) \
            or not np.isfinite(a).all():
        raise ModelError(f"joint_state must be finite floats ({cfg.action_dim},) or ({views}, "
                         f"{cfg.action_dim}) (joint positions + gripper width normalised to "
                         f"[-1, 1]), got {inputs._shape(x)}")
    return np.broadcast_to(a, (views, cfg.action_dim)).copy()


@torch.no_grad()
def sample(wm: WorldModel, first_frames: np.ndarray, *, joint_state: np.ndarray | None = None,
           action_state: np.ndarray | None = None, goal: np.ndarray | None = None,
           video: np.ndarray | None = None, steps: int | None = None, seed: int = 0,
           guidance_scale: float = 1.0, eta: float = 0.0, callback=None
           ) -> tuple[np.ndarray, np.ndarray]:
    """Sample RGB frames and the joint sequence together (``WorldModel.predict_joint`` /
    ``label`` of a ``joint_states`` model).

    Args:
        first_frames: uint8 (V, H, W, 3).
        joint_state: the current joint state, normalised (D,) (or one per view (V, D)), or None.
        action_state: uint8 (V, H, W, 3) the current action image per view, or None.
        goal: uint8 (V, H, W, 3) a goal image per view, or None.
        video: uint8 (V, T, H, W, 3) a clean video to label, or None.
        guidance_scale: classifier-free guidance on the goal (1.0: none).
    Returns:
        (video uint8 (V, T, H, W, 3), joint sequence float32 (V, T, D) normalised, one per
        view); frame 0 of the sequence is the given ``joint_state`` when there is one.
    Raises:
        ModelError: inputs of the wrong type, shape, size or view count.
    """
    cfg = wm.config
    head = _head(wm)
    frames, video, state, goal_u8 = check_sample_inputs(cfg, first_frames, action_state, goal,
                                                        video, guidance_scale)
    views = frames.shape[0]
    q = None if joint_state is None else _state(joint_state, views, cfg)
    steps = steps or cfg.steps
    sched = _scheduler(wm, steps)
    dev, dtype = wm.device, wm.dtype
    first, t_state, t_goal, t_video = condition_tensors(wm, frames, state, goal_u8, video)
    cond = conditions(wm, first, t_state, t_goal, t_video)
    q_t = None if q is None else torch.from_numpy(q).to(dev, dtype)
    use_cfg = guidance_scale != 1.0
    if use_cfg:
        cond = torch.cat([cond, conditions(wm, first, t_state, None, t_video)])
        q_t = None if q_t is None else torch.cat([q_t, q_t])
    gen = torch.Generator().manual_seed(int(seed))
    c = wm.codec.channels
    b, f, _, h, w = cond.shape
    b //= 2 if use_cfg else 1
    lat = torch.randn((b, f, c, h, w), generator=gen, dtype=torch.float32)
    act = torch.randn((b, cfg.num_frames, cfg.action_dim), generator=gen, dtype=torch.float32)
    x = torch.cat([lat.flatten(1), act.flatten(1)], dim=1).to(dev) * sched.init_noise_sigma
    split = lat[0].numel()
    rotary = wm.rotary(cond)
    is_ddim = type(sched).__name__ == "CogVideoXDDIMScheduler"
    old_pred = None
    timesteps = sched.timesteps
    for i, t in enumerate(timesteps):
        xx = torch.cat([x, x]) if use_cfg else x
        lat_t = xx[:, :split].view(-1, f, c, h, w)
        act_t = xx[:, split:].view(-1, cfg.num_frames, cfg.action_dim)
        inp = torch.cat([lat_t, cond.to(lat_t.dtype)], dim=2).to(dtype)
        ts = t.expand(inp.shape[0]).to(dev)
        tokens = head.tokens(act_t.to(dtype), q_t)
        pred, out_tokens, temb = wm.denoiser.forward_actions(inp, ts, tokens, rotary)
        out = torch.cat([pred.float().flatten(1), head.output(out_tokens, temb).float()
                         .flatten(1)], dim=1)
        if use_cfg:
            o_c, o_u = out.chunk(2)
            out = o_u + guidance_scale * (o_c - o_u)
        if is_ddim:
            x = sched.step(out, t, x, eta=eta, generator=gen, return_dict=False)[0]
        else:
            back = timesteps[i - 1] if i > 0 else None
            x, old_pred = sched.step(out, old_pred, t, back, x, eta=eta, generator=gen,
                                     return_dict=False)
        if callback is not None:
            callback(i)
    rgb = x[:, :split].view(b, f, c, h, w)
    joints = x[:, split:].view(b, cfg.num_frames, cfg.action_dim).float().cpu().numpy()
    out_video = video.copy() if video is not None else wm.decode_video(rgb, first)
    if q is not None:
        joints[:, 0] = q
    return out_video, joints.astype(np.float32)


def _scheduler(wm: WorldModel, steps: int):
    import copy

    sched = copy.deepcopy(wm.scheduler)
    if not 1 <= steps <= sched.config.num_train_timesteps:
        raise ModelError(f"steps={steps}: expected 1..{sched.config.num_train_timesteps}")
    sched.set_timesteps(steps, device=wm.device)
    return sched

"""``WorldModel``: first image(s) + visual action prompt video -> predicted video.

Diffusers' CogVideoX transformer (+ VAE in latent space) in the image-to-video layout, the VAP
ControlNet branch for prompt videos, LoRA (peft) on the main branch's attention, and the
raw-action / image-only baselines behind the same interface. Views are folded into the batch
(shared weights). Training lives in ``vap_ros.train``; the model exposes ``training_loss``,
parameter groups and gradient checkpointing so the trainer needs no model internals.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vap_ros.errors import CheckpointError, ModelError
from vap_ros.model import backbone, checkpoint, inputs, joint, joint_states, long_rollout
from vap_ros.model.action_adapter import ActionAdapter
from vap_ros.model.action_head import ActionHead
from vap_ros.model.cond_aug import CondAugment, check_level, cond_noise_seed, gaussian_blur
from vap_ros.model.config import WorldModelConfig, load_preset
from vap_ros.model.controlnet import ControlNet
from vap_ros.model.denoiser import Denoiser
from vap_ros.model.prompt_encoder import fold_time
from vap_ros.model.sampler import sample_latents

if TYPE_CHECKING:
    from diffusers.models.autoencoders.autoencoder_kl_cogvideox import AutoencoderKLCogVideoX
    from diffusers.models.transformers.cogvideox_transformer_3d import (
        CogVideoXTransformer3DModel,
    )

__all__ = ["WorldModel"]


class WorldModel(nn.Module):
    """Args:
        config: the architecture (see ``WorldModelConfig``).
        transformer: a ``CogVideoXTransformer3DModel`` without LoRA.
        vae: an ``AutoencoderKLCogVideoX`` (latent space) or None (pixel space).
        scheduler: a CogVideoX scheduler (built from the config when None).
        base_path: the local diffusers directory the base came from (recorded in checkpoints).
        train_patch_embed: train the patch embedding (set when a T2V base was widened to I2V).
    Raises:
        ModelError: the transformer does not fit the config (channels, text length, size).
    """

    def __init__(self, config: WorldModelConfig, transformer: CogVideoXTransformer3DModel,
                 vae: AutoencoderKLCogVideoX | None, scheduler=None, base_path: str | None = None,
                 train_patch_embed: bool = False):
        super().__init__()
        self.config = config
        self.base_path = base_path
        self.card: dict[str, Any] = {}
        self.codec = backbone.Codec(vae)
        self.codec.requires_grad_(False)
        c = self.codec.channels
        n_in, n_out = config.input_groups * c, config.latent_groups * c
        widened = backbone.widen_patch_embed(transformer, n_in)
        widened |= backbone.widen_proj_out(transformer, n_out)
        self.train_patch_embed = bool(train_patch_embed or widened)
        tcfg = transformer.config  # diffusers' FrozenDict
        if tcfg["in_channels"] != n_in or tcfg["out_channels"] != n_out:
            raise ModelError(f"transformer has in/out channels {tcfg['in_channels']}/"
                             f"{tcfg['out_channels']}; expected {n_in}/{n_out} for "
                             f"{config.space} space, prompt_injection "
                             f"{config.prompt_injection!r} and generate_actions "
                             f"{config.generate_actions!r}")
        inner: int = tcfg["num_attention_heads"] * tcfg["attention_head_dim"]
        controlnet = None
        if config.uses_controlnet:  # copy blocks BEFORE LoRA is attached
            controlnet = ControlNet(transformer.transformer_blocks, config.controlnet_blocks,
                                    inner, config.prompt_channels,
                                    config.spatial_ratio * tcfg["patch_size"],
                                    config.temporal_ratio)
        if config.lora_rank > 0:
            from peft import LoraConfig

            transformer.add_adapter(LoraConfig(
                r=config.lora_rank,
                # peft annotates lora_alpha as int; it only divides it by r (a float works)
                lora_alpha=config.lora_alpha or config.lora_rank,  # type: ignore[arg-type]
                target_modules=list(config.lora_targets), init_lora_weights=True))
        adapter = None
        if config.conditioning == "raw_action":
            adapter = ActionAdapter(config.action_dim, config.action_embed_dim, inner,
                                    tcfg["num_layers"], config.temporal_ratio)
        head = None
        if config.joint_states:
            head = ActionHead(config.action_dim, config.num_frames, inner,
                              tcfg["time_embed_dim"])
        text = torch.zeros(1, tcfg["max_text_seq_length"], tcfg["text_embed_dim"])
        self.denoiser = Denoiser(transformer, text, controlnet, adapter, head)
        self.scheduler = scheduler or backbone.build_scheduler(config)
        self._set_trainable()

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_preset(cls, name: str, base: str | Path | None = None, seed: int | None = 0,
                    random_base: bool = False, **overrides: Any) -> WorldModel:
        """Build a preset: random init (tiny, small) or a local pretrained base (cogvideox-*).

        Args:
            name: one of ``available_presets()``.
            base: local diffusers directory with transformer/, vae/ (scheduler/ optional).
            seed: seeds the random initialisation (the global RNG is left untouched).
            random_base: allow a base-requiring preset to start from random weights
                (benchmarks only). A ``prompt_embeds.safetensors`` (key ``prompt_embeds``,
                (1, L, text_embed_dim), e.g. the T5 embedding of a task prompt computed
                offline) in the base directory becomes the text condition; else zeros.
            overrides: ``WorldModelConfig`` fields to replace (e.g. ``conditioning="none"``).
        Raises:
            ConfigError: unknown preset or bad override. CheckpointError: base missing or
            incomplete.
        """
        return cls.from_config(load_preset(name, **overrides), base=base, seed=seed,
                               random_base=random_base)

    @classmethod
    def from_config(cls, config: WorldModelConfig, base: str | Path | None = None,
                    seed: int | None = 0, random_base: bool = False) -> WorldModel:
        """See ``from_preset``."""
        if base is None and config.requires_base and not random_base:
            raise CheckpointError(
                f"preset {config.preset!r} needs base=/path/to/a local diffusers directory "
                "(transformer/, vae/, scheduler/); downloads are never attempted")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(seed)
            if base is not None:
                transformer, vae = backbone.load_base(base, need_vae=config.space == "latent")
                scheduler = backbone.build_scheduler(config, Path(base))
            else:
                transformer = backbone.build_transformer(config)
                vae = backbone.build_vae(config) if config.space == "latent" else None
                scheduler = None
            wm = cls(config, transformer, vae, scheduler,
                     base_path=str(Path(base).resolve()) if base is not None else None)
        if base is not None and (Path(base) / backbone.PROMPT_EMBEDS).is_file():
            wm.set_text_embedding(backbone.load_prompt_embeds(Path(base) / backbone.PROMPT_EMBEDS))
        return wm

    def set_text_embedding(self, embeds: torch.Tensor) -> None:
        """Use a precomputed text embedding (1, L, text_embed_dim), e.g. T5 of a task prompt.

        Raises:
            ModelError: the shape does not match the transformer's text length and width.
        """
        want = tuple(self.denoiser.text_embedding.shape)
        if tuple(embeds.shape) != want:
            raise ModelError(f"text embedding shape {tuple(embeds.shape)}: expected {want} "
                             "(1, max_text_seq_length, text_embed_dim)")
        with torch.no_grad():
            self.denoiser.text_embedding.copy_(embeds)

    @classmethod
    def from_pretrained(cls, path: str | Path, base: str | Path | None = None) -> WorldModel:
        """Load a checkpoint written by ``save_pretrained`` (safetensors/JSON only): the parts
        ``checkpoint.load`` reads, assembled here and filled with their trained state.

        Raises:
            CheckpointError: missing, unreadable or mismatched files. ConfigError: a bad
            ``vap_config.json``.
        """
        parts = checkpoint.load(path, base)
        with torch.random.fork_rng(devices=[]):
            wm = cls(parts.config, parts.transformer, parts.vae, parts.scheduler,
                     base_path=parts.base_path, train_patch_embed=parts.train_patch_embed)
        wm.card = parts.card
        checkpoint.restore(wm.denoiser, parts)
        return wm

    def save_pretrained(self, path: str | Path, include_base: bool | None = None,
                        card: dict | None = None) -> Path:
        """Write the checkpoint (see ``vap_ros.model.checkpoint``); returns the directory."""
        return checkpoint.save(self, path, include_base, card)

    # ------------------------------------------------------------------ parameters
    @property
    def transformer(self) -> CogVideoXTransformer3DModel:
        return self.denoiser.transformer

    @property
    def device(self) -> torch.device:
        return self.denoiser.text_embedding.device

    @property
    def dtype(self) -> torch.dtype:
        return self.denoiser.text_embedding.dtype

    def _groups(self) -> dict[str, list[nn.Parameter]]:
        d = self.denoiser
        groups: dict[str, list] = {"controlnet": [], "lora": [], "action": [],
                                   "patch_embed": [], "base": []}
        if d.controlnet is not None:
            groups["controlnet"] = list(d.controlnet.parameters())
        if d.action_adapter is not None:
            groups["action"] = list(d.action_adapter.parameters())
        if d.action_head is not None:
            groups["action"] = list(d.action_head.parameters())
        for name, p in d.transformer.named_parameters():
            if "lora_" in name:
                groups["lora"].append(p)
            elif self.train_patch_embed and (name.startswith("patch_embed.proj") or (
                    self.config.action_images and name.startswith("proj_out."))):
                groups["patch_embed"].append(p)
            elif self.config.train_base:
                groups["base"].append(p)
        if self.config.train_base:
            groups["base"].append(d.text_embedding)
        return groups

    def _set_trainable(self) -> None:
        self.requires_grad_(False)
        for params in self._groups().values():
            for p in params:
                p.requires_grad_(True)

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Every parameter the model declares trainable (the rest are frozen)."""
        return [p for p in self.parameters() if p.requires_grad]

    def parameter_groups(self, lr: float = 1.0) -> list[dict[str, Any]]:
        """Optimizer parameter groups: name, params, lr (= lr x config.lr_scales[name])."""
        return [{"name": name, "params": params, "lr": lr * self.config.lr_scales.get(name, 1.0)}
                for name, params in self._groups().items() if params]

    def enable_gradient_checkpointing(self, enabled: bool = True) -> None:
        """Checkpoint every transformer block (main and ControlNet) in training forwards."""
        self.denoiser.gradient_checkpointing = enabled

    def num_parameters(self) -> dict[str, int]:
        counts = {name: sum(p.numel() for p in ps) for name, ps in self._groups().items()}
        counts["total"] = sum(p.numel() for p in self.parameters())
        counts["trainable"] = sum(p.numel() for p in self.trainable_parameters())
        return counts

    # ------------------------------------------------------------------ conditioning
    def image_condition(self, first: torch.Tensor) -> torch.Tensor:
        """First frames (B, 3, 1, H, W) in [-1, 1] -> image condition (B, F, C, h, w)."""
        return self._expand_condition(self.codec.encode(first)[:, :1])

    def _expand_condition(self, z: torch.Tensor) -> torch.Tensor:
        """The first frame's latent (B, 1, C, h, w) -> image condition (B, F, C, h, w)."""
        frames = self.config.latent_frames
        if self.config.image_condition == "repeat":
            return z.expand(-1, frames, -1, -1, -1)
        return torch.cat([z, z.new_zeros(z.shape[0], frames - 1, *z.shape[2:])], dim=1)

    def prompt_condition(self, prompts: torch.Tensor) -> torch.Tensor:
        """Prompt videos (B, 3, T, H, W) in [-1, 1] -> the input-channel prompt condition
        (B, F, C, h, w) of ``prompt_injection: concat`` (the prompt in the working space)."""
        return self.codec.encode(prompts).to(prompts.dtype)

    def rotary(self, latents: torch.Tensor):
        f, _, h, w = latents.shape[1:]
        return backbone.rotary_embedding(self.transformer, f, h, w, latents.device)

    def _controlnet(self) -> ControlNet:
        cn = self.denoiser.controlnet
        if cn is None:
            raise ModelError(f"prompt_injection {self.config.prompt_injection!r}: this model has "
                             "no ControlNet")
        return cn

    def _action_adapter(self) -> ActionAdapter:
        ad = self.denoiser.action_adapter
        if ad is None:
            raise ModelError(f"conditioning {self.config.conditioning!r}: this model has no "
                             "action adapter (expected 'raw_action')")
        return ad

    def _weight_map(self, weight: torch.Tensor) -> torch.Tensor:
        """Pixel loss weight (B, 1, T, H, W) -> latent weight (B, F, 1, h, w) (mean pooled)."""
        w = fold_time(weight, self.config.temporal_ratio)
        b, _, f, h, wd = w.shape
        w = w.mean(1, keepdim=True)
        s = self.config.spatial_ratio
        if s > 1:
            w = F.avg_pool2d(w.permute(0, 2, 1, 3, 4).reshape(b * f, 1, h, wd), s)
            return w.reshape(b, f, 1, h // s, wd // s)
        return w.permute(0, 2, 1, 3, 4)

    # ------------------------------------------------------------------ training
    def training_loss(self, batch: dict, generator: torch.Generator | None = None,
                      cond_aug: CondAugment | None = None) -> dict[str, torch.Tensor]:
        """Diffusion loss (MSE on the scheduler's prediction type: v, x0 or noise) on one batch;
        views are folded into the batch.

        Args:
            batch: ``video`` (B, V, 3, T, H, W) in [-1, 1] with frame 0 the conditioning frame,
                ``prompts`` (B, V, 3, T, H, W) (skeleton), ``actions`` (B, T, D) (raw_action),
                optional ``loss_weight`` (B, V, 1, T, H, W) pixel-space weights.
            generator: draws timesteps, noise and condition dropout (CPU or model device), then
                the conditioning-frame corruption.
            cond_aug: corrupt each sample's conditioning frame (``vap_ros.model.cond_aug``);
                None or inactive: the clean frame (and not one more draw from ``generator``).
        Returns:
            dict with ``loss`` (weighted mean, differentiable) and ``mse`` (unweighted, detached).
        Raises:
            ModelError: a batch entry is missing or has the wrong shape.
        """
        cfg = self.config
        if cfg.joint_states:  # video + joint states (vap_ros.model.joint_states)
            return joint_states.training_loss(self, batch, generator)
        if cfg.joint_actions:  # video + action images (vap_ros.model.joint)
            return joint.training_loss(self, batch, generator)
        b = inputs.check_batch(batch, cfg)
        dev, dtype = self.device, self.dtype
        video = b.video.to(dev, dtype)
        n = video.shape[0]
        gdev = generator.device if generator is not None else dev
        aug = cond_aug if cond_aug is not None and cond_aug.active else None
        with torch.no_grad():
            x0 = self.codec.encode(video).float()
            if aug is None:
                cond = self.image_condition(video[:, :, :1]).to(dtype)
                if cfg.residual:
                    x0 = cfg.residual_scale * (x0 - x0[:, :1])
        t = torch.randint(0, self.scheduler.config.num_train_timesteps, (n,), generator=generator,
                          device=gdev).to(dev)
        noise = torch.randn(x0.shape, generator=generator, device=gdev).to(dev)
        drop = (torch.rand(n, generator=generator, device=gdev) < cfg.cond_dropout).to(dev)
        if aug is not None:  # drawn after the diffusion draws: those stay as without it
            with torch.no_grad():
                cond, x0 = self._corrupted_condition(video[:, :, :1], x0, aug, generator, gdev)
            cond = cond.to(dtype)
        xt = self.scheduler.add_noise(x0, noise, t)
        target = self._target(x0, noise, t)
        control = frame_emb = None
        if cfg.conditioning == "skeleton":
            assert b.prompts is not None  # check_batch requires them for this conditioning
            prompts = b.prompts.to(dev, dtype)
            prompts = torch.where(drop[:, None, None, None, None], -torch.ones_like(prompts),
                                  prompts)
            if cfg.uses_controlnet:
                control = self._controlnet().encode(prompts)
            else:
                with torch.no_grad():
                    cond = torch.cat([cond, self.prompt_condition(prompts)], dim=2)
        elif cfg.conditioning == "raw_action":
            assert b.actions is not None  # check_batch requires them for this conditioning
            frame_emb = self._action_adapter().embed(b.actions.to(dev, dtype), drop)
        x = torch.cat([xt.to(dtype), cond], dim=2)
        pred = self.denoiser(x, t, control, frame_emb, self.rotary(x)).float()
        se = (pred - target) ** 2
        if b.loss_weight is not None:
            w = self._weight_map(b.loss_weight.to(dev, torch.float32))
            loss = (se * w).mean() / w.mean().clamp_min(1e-8)
        else:
            loss = se.mean()
        return {"loss": loss, "mse": se.mean().detach()}

    def _corrupted_condition(self, first: torch.Tensor, x0: torch.Tensor, aug: CondAugment,
                             generator: torch.Generator | None, gdev
                             ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training's image condition from corrupted first frames (B, 3, 1, H, W), and the
        diffusion target ``x0`` made residual against the given (possibly blurred) frame."""
        cfg = self.config
        std, sigma = aug.draw(first.shape[0], generator, gdev)
        if aug.blur > 0:  # the given frame itself is degraded: the residual base too
            given = gaussian_blur(first.float(), sigma.to(first.device)).to(first.dtype)
            # the codec's own encode, past a latent cache: blurred frames are never reused
            z = backbone.Codec.encode(self.codec, given)[:, :1].float()
        else:
            z = self.codec.encode(first)[:, :1].float()
        if cfg.residual:
            base = z if aug.blur > 0 else x0[:, :1]
            x0 = cfg.residual_scale * (x0 - base)
        if aug.noise > 0:  # the denoiser's input only
            eps = torch.randn(z.shape, generator=generator, device=gdev).to(z.device)
            z = z + std.to(z.device).view(-1, 1, 1, 1, 1) * eps
        return self._expand_condition(z), x0

    def _target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        kind = self.scheduler.config.prediction_type
        if kind == "v_prediction":
            return self.scheduler.get_velocity(x0, noise, t)
        if kind == "sample":
            return x0
        if kind == "epsilon":
            return noise
        raise ModelError(f"scheduler prediction_type {kind!r}: expected v_prediction, sample "
                         "or epsilon")

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, first_frames: np.ndarray, prompts: np.ndarray | None = None,
                actions: np.ndarray | None = None, steps: int | None = None, seed: int = 0,
                guidance_scale: float = 1.0, eta: float = 0.0, callback=None,
                cond_noise: float = 0.0) -> np.ndarray:
        """Predict the video each camera will see.

        Args:
            first_frames: uint8 (V, H, W, 3), one current image per view (or one (H, W, 3)).
            prompts: uint8 (V, T, H, W, 3) prompt videos (skeleton conditioning; ignored for
                "none"; T = config.num_frames, frame 0 drawn at the first frame's state).
            actions: float (T, D) per-frame actions (raw_action conditioning).
            steps: sampling steps (default config.steps).
            seed: seeds the initial noise; the same seed gives an identical output.
            guidance_scale: classifier-free guidance (1.0: none; not for conditioning "none").
            cond_noise: std of Gaussian noise added to the image condition (working space;
                seeded from ``seed``), as a model trained with conditioning noise augmentation
                (``vap_ros.model.cond_aug``) expects for a predicted first frame; 0: none. The
                residual base and frame 0 stay the given frame.
        Returns:
            uint8 (V, T, H, W, 3): frame t aligned with prompt frame t; frame 0 is the given
            first frame itself (copied, not generated).
        Raises:
            ModelError: inputs of the wrong type, shape, size or view count, or a negative
            ``cond_noise``.
        """
        cfg = self.config
        if cfg.joint_actions:
            raise ModelError(f"this model generates actions (generate_actions "
                             f"{cfg.generate_actions!r}): use predict_joint() or label()")
        frames = inputs.check_first_frames(first_frames, cfg)
        views = frames.shape[0]
        dev, dtype = self.device, self.dtype
        first = inputs.from_uint8(frames[:, None], dev, dtype)  # (V, 3, 1, H, W)
        kw: dict[str, Any] = {}
        z = self.codec.encode(first)[:, :1]
        if check_level(cond_noise) > 0:  # CPU noise, as the initial latents
            gen = torch.Generator().manual_seed(cond_noise_seed(seed))
            eps = torch.randn(z.shape, generator=gen, dtype=torch.float32).to(z.device)
            z = (z.float() + float(cond_noise) * eps).to(z.dtype)
        cond = self._expand_condition(z)
        p = None
        if cfg.conditioning == "skeleton":
            p = inputs.from_uint8(inputs.check_prompts(prompts, views, cfg), dev, dtype)
            if cfg.uses_controlnet:
                cn = self._controlnet()
                kw["control"] = cn.encode(p)  # once per sample, not per step
                if guidance_scale != 1.0:
                    kw["control_uncond"] = cn.encode(-torch.ones_like(p))
            else:
                if guidance_scale != 1.0:
                    blank = self.prompt_condition(-torch.ones_like(p))
                    kw["image_cond_uncond"] = torch.cat([cond, blank], dim=2)
                cond = torch.cat([cond, self.prompt_condition(p)], dim=2)
        elif cfg.conditioning == "raw_action":
            a = torch.from_numpy(inputs.check_actions(actions, cfg)).to(dev, dtype)
            ad = self._action_adapter()
            kw["frame_emb"] = ad.embed(a[None].expand(views, -1, -1))
            kw["frame_emb_uncond"] = ad.null_embedding(views, cfg.latent_frames).to(dtype)
        elif guidance_scale != 1.0:
            raise ModelError("guidance_scale != 1 needs an action condition; this model's "
                             "conditioning is 'none'")
        latents = sample_latents(
            self.denoiser, self.scheduler, cond, channels=self.codec.channels,
            steps=steps or cfg.steps, generator=torch.Generator().manual_seed(int(seed)),
            guidance_scale=guidance_scale, rotary=self.rotary(cond), eta=eta, callback=callback,
            **kw)
        return self.decode_video(latents, first, p)

    def decode_video(self, latents: torch.Tensor, first: torch.Tensor,
                     prompt: torch.Tensor | None = None) -> np.ndarray:
        """Sampled RGB ``latents`` (V, T, C, h, w) -> uint8 video (V, T, H, W, 3): with
        ``residual`` the change (deadband, and with a ``prompt`` the residual gate) is added
        to the first frame's encoding; frame 0 is ``first`` (V, 1, 3, H, W) itself."""
        cfg = self.config
        if cfg.residual:
            change = latents.float() / cfg.residual_scale
            if cfg.residual_deadband > 0:  # pixel space, (V, T, 3, H, W), 1 = half the range
                still = change.abs().amax(dim=2, keepdim=True) <= 2.0 * cfg.residual_deadband
                change = change.masked_fill(still, 0.0)
            if cfg.residual_gate_px > 0 and prompt is not None:  # only where the arm has been
                swept = inputs.prompt_swept_region(prompt.float(), cfg.residual_gate_px)
                change = change.masked_fill(~swept, 0.0)
            latents = change + self.codec.encode(first)[:, :1].float()
        video = self.codec.decode(latents.to(self.dtype)).float()
        video[:, :, :1] = first.float()
        return inputs.to_uint8(video)

    def predict_joint(self, first_frames: np.ndarray, action_state: np.ndarray | None = None,
                      goal: np.ndarray | None = None, steps: int | None = None, seed: int = 0,
                      guidance_scale: float = 1.0, eta: float = 0.0, callback=None,
                      joint_state: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Policy mode of a joint model: generate the next T frames and their actions together
        (``generate_actions: action_images``: ``vap_ros.model.joint``; ``joint_states``:
        ``vap_ros.model.joint_states``).

        Args:
            first_frames: uint8 (V, H, W, 3), the current image per view.
            action_state: uint8 (V, H, W, 3), the current end-effector pose + gripper as action
                images (``prompts.ActionImageCodec`` of the FK of the joint state), or None.
            goal: uint8 (V, H, W, 3), a goal image per view, or None.
            guidance_scale: classifier-free guidance towards the goal (1.0: none).
            joint_state: ``joint_states`` models only: the current joint positions + gripper
                width normalised to [-1, 1] (``label.JointStateScale``), (D,), or None.
        Returns:
            (video, actions): uint8 (V, T, H, W, 3) and the action images uint8
            (V, T, H, W, 3) (``action_images``) or the joint sequence float32 (V, T, D)
            normalised (``joint_states``, one per view).
        Raises:
            ModelError: not a joint model, a ``joint_state`` for an action-image model, or
            inputs of the wrong type, shape, size or views.
        """
        cfg = self.config
        kw: dict[str, Any] = dict(action_state=action_state, goal=goal, steps=steps, seed=seed,
                                  guidance_scale=guidance_scale, eta=eta, callback=callback)
        if cfg.joint_states:
            return joint_states.sample(self, first_frames, joint_state=joint_state, **kw)
        if joint_state is not None:
            raise ModelError(f"joint_state is an input of generate_actions 'joint_states' "
                             f"models; this one has {cfg.generate_actions!r} (give the state "
                             "as action_state images)")
        return joint.sample(self, first_frames, **kw)

    def label(self, video: np.ndarray, steps: int | None = None, seed: int = 0,
              eta: float = 0.0, callback=None) -> np.ndarray:
        """Labelling mode of a joint model: the actions of a given video (V, T, H, W, 3)
        uint8, T = ``num_frames``; no joint state or goal is used. Returns the action images
        uint8 (V, T, H, W, 3) (decode them with ``prompts.ActionImageCodec.decode``) or, for
        a ``joint_states`` model, the joint sequence float32 (V, T, D) normalised, per view.

        Raises:
            ModelError: not a joint model, or a video of the wrong type, shape or length.
        """
        if not isinstance(video, np.ndarray) or video.ndim != 5:
            raise ModelError(f"video must be a numpy uint8 array (V, T, H, W, 3), got "
                             f"{inputs._shape(video)}")
        if self.config.joint_states:
            return joint_states.sample(self, video[:, 0], video=video, steps=steps, seed=seed,
                                       eta=eta, callback=callback)[1]
        return joint.sample(self, video[:, 0], video=video, steps=steps, seed=seed, eta=eta,
                            callback=callback)[1]

    def predict_long(self, first_frames: np.ndarray, prompts: np.ndarray | None = None,
                     chunk: int | None = None, actions: np.ndarray | None = None,
                     steps: int | None = None, seed: int = 0, anchors: np.ndarray | None = None,
                     callback=None, cond_noise: float | None = None, **kw: Any) -> np.ndarray:
        """Predict a rollout of any length L >= 1 as autoregressive chunks of ``predict``
        (``vap_ros.model.long_rollout``): chunk k is conditioned on the previous chunk's last
        predicted frame and on its own T-frame segment of the prompts (frame 0 at that same
        time; the last frame repeated past the end), and adds ``chunk`` new frames.

        Args:
            first_frames: uint8 (V, H, W, 3) (or one (H, W, 3)).
            prompts: uint8 (V, L, H, W, 3): they set L (skeleton conditioning needs them; other
                conditionings use them only for L).
            chunk: new frames per chunk, 1 .. T-1 (default T-1: consecutive clips share one
                frame).
            actions: float (L, D) (raw_action conditioning), segmented as the prompts.
            steps: sampling steps per chunk (default config.steps).
            seed: chunk 0 samples with ``seed`` (an L <= T rollout is ``predict``'s video cut to
                L), chunk k with a seed derived from (seed, k); the same seed gives the same video.
            anchors: uint8 (V, L, H, W, 3) real frames: re-anchor every chunk on the real frame
                at its start instead of the predicted one (a baseline); the output still holds
                only predictions after frame 0.
            callback: ``callback(step)`` after each denoising step, counted across chunks
                (chunk k's step i is k * steps + i); it may raise ``RolloutCancelled``.
            cond_noise: the image-condition noise (``predict``'s ``cond_noise``) of the chunks
                conditioned on a predicted frame (k >= 1 without ``anchors``); chunk 0 and
                re-anchored chunks start from a real frame and get none. None: the config's
                ``cond_noise`` (set by training with conditioning augmentation; 0 otherwise).
            kw: guidance_scale, eta (as ``predict``).
        Returns:
            uint8 (V, L, H, W, 3); frame 0 is the given first frame.
        Raises:
            ModelError: inputs of the wrong type, shape, size, view count or length, a
            ``chunk`` outside 1 .. T-1, or a negative ``cond_noise``.
        """
        cfg = self.config
        long_rollout.chunk_stride(chunk, cfg.num_frames)  # a bad chunk fails before any work
        got = inputs.check_rollout(first_frames, prompts, actions, anchors, cfg)
        level = check_level(cfg.cond_noise if cond_noise is None else cond_noise)
        return long_rollout.predict_chunks(
            self.predict, got.first_frames, got.length, cfg.num_frames, steps or cfg.steps,
            prompts=got.prompts, actions=got.actions, anchors=got.anchors, chunk=chunk,
            seed=seed, callback=callback, cond_noise=level, **kw)

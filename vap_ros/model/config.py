"""World-model configuration: one validated dataclass, presets stored as YAML data.

A preset fixes the video geometry (height, width, frames), the working space (``pixel``: the
transformer sees RGB frames directly; ``latent``: a CogVideoX VAE compresses them 8x spatially
and 4x temporally), the transformer/VAE hyper-parameters, the ControlNet/LoRA/action settings and
the noise schedule. Presets live in ``vap_ros/model/presets/<name>.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Mapping, get_args

from vap_ros.config import Presets, StrictConfig, require
from vap_ros.errors import ConfigError
from vap_ros.prompts.encoding import PromptType

__all__ = ["CONDITIONINGS", "WorldModelConfig", "available_presets", "check_prompt_type",
           "load_preset"]

Conditioning = Literal["skeleton", "raw_action", "none"]
Space = Literal["pixel", "latent"]
ImageCondition = Literal["first", "repeat"]
Scheduler = Literal["ddim", "dpm"]
PromptInjection = Literal["controlnet", "concat"]
GenerateActions = Literal["none", "action_images", "joint_states"]
CONDITIONINGS, SPACES = get_args(Conditioning), get_args(Space)
IMAGE_CONDITIONS, SCHEDULERS = get_args(ImageCondition), get_args(Scheduler)
PROMPT_INJECTIONS = get_args(PromptInjection)
GENERATE_ACTIONS = get_args(GenerateActions)
PRESETS = Presets("vap_ros.model", "world model")
# transformer entries the geometry is computed from: positive integers
_TRANSFORMER_INTS = ("patch_size", "num_attention_heads", "attention_head_dim", "num_layers")


@dataclass(frozen=True)
class WorldModelConfig(StrictConfig):
    """Everything that defines a world model's architecture and sampling defaults.

    Attributes:
        preset: name of the preset this config came from ("custom" otherwise).
        conditioning: "skeleton" (a visual action prompt video, of type ``prompt_type``),
            "raw_action" (per-frame action vectors through adaptive norms, IRASim-like) or
            "none" (image only).
        prompt_type: which prompt video the model takes (``vap_ros.prompts.PROMPT_TYPES``:
            "skeleton", "depth", "silhouette", "skeleton+depth"); clips and live prompts of
            another type are refused (``check_prompt_type``). Only read when conditioning is
            "skeleton".
        height, width: frame size in pixels the model accepts.
        num_frames: frames per clip T, the conditioning first frame included.
        fps: frame rate the model was built/trained for (metadata for tools).
        space: "pixel" or "latent" (see module docstring).
        requires_base: the preset is meant to load pretrained weights from a local diffusers
            directory (``base=``); random initialisation is only for benchmarks.
        transformer: keyword arguments of diffusers' ``CogVideoXTransformer3DModel``.
        vae: keyword arguments of ``AutoencoderKLCogVideoX`` (latent space only).
        image_condition: "first" (CogVideoX I2V: first-frame latent, zeros after it) or
            "repeat" (the first frame repeated over all frames: copying the background becomes
            a per-token operation, which a small pixel-space model learns much faster).
        prompt_injection: how skeleton prompts enter the denoiser: "controlnet" (VAP: a prompt
            encoder + trainable copies of the first blocks adding zero-initialised residuals;
            meant for pretrained bases) or "concat" (the prompt video, in the working space, is
            concatenated with the noisy latents and the image condition on the input channels,
            as CogVideoX-Fun's control models do; what random-init pixel presets learn from).
        controlnet_blocks: number of leading transformer blocks copied into the ControlNet.
        prompt_channels: width of the prompt-video encoder's 3D convolutions.
        lora_rank: LoRA rank on the main branch's attention (0: no LoRA).
        lora_alpha: LoRA alpha (scaling alpha / rank).
        lora_targets: attention projection names LoRA is attached to.
        train_base: train every base-transformer weight as well (random-init presets).
        action_dim: size D of one raw action vector (joint positions + gripper width).
        action_embed_dim: width of the per-frame action embedding (raw_action).
        scheduler: "ddim" or "dpm" (CogVideoX's schedulers).
        scheduler_config: keyword arguments of the scheduler.
        residual: diffuse the change from the first frame (``0.5 * (x - x_first)`` in the
            working space) instead of the frames themselves; prediction adds the first frame
            back. Static background then comes out exact (small CPU models learn the moving
            robot instead of re-synthesising the whole image).
        residual_scale: the factor s of the residual target ``s * (x - x_first)`` (0.5 keeps
            it in [-1, 1]). A sim clip's residual is small (std ~0.06 at 0.5), so unit diffusion
            noise drowns it at every sampled step and sampling returns the blurred conditional
            mean; a larger s lets the last steps sharpen it.
        residual_deadband: at inference, a pixel whose predicted change from the first frame
            is at most this fraction of the intensity range in every channel keeps the first
            frame's value (pixel-space residual models only; 0 = off). The static scene then
            stays exactly static instead of carrying the sampler's low-level grain.
        residual_gate_px: at inference, the predicted change is kept only within this many
            pixels of where the skeleton prompt has moved so far (the arm's swept region, up to
            each frame); elsewhere the first frame is kept. A robot that holds still then gives
            a still scene, and nothing changes far from the arm (pixel-space residual skeleton
            models only; 0 = off).
        generate_actions: "none" (the model predicts video from given actions) or
            "action_images": joint video + action-image generation (Action Images, Zhen et al.;
            ``vap_ros.model.joint``). The transformer denoises, for every view, the RGB frames
            and the action images (``prompts.ActionImageCodec``: the end-effector pose + gripper
            as heatmaps) together: the latents carry both on the channel axis (2C channels, the
            output projection widened), the same VAE/codec encodes both. Conditions on the input
            channels: the first frame, the current action image (the joint state through FK and
            the codec), a goal image per view and, to label a video, the clean video itself
            (each blank = zeros when not given). Needs ``conditioning: none`` (the actions are
            generated, not given).
            "joint_states": joint video + joint-state generation through an action head
            (CoVAR-style; ``vap_ros.model.joint_states``): the same conditions, the RGB frames
            denoised on the channels as above, and per video frame the ``action_dim`` joint
            positions + gripper width (normalised to [-1, 1] by the URDF limits) as a noisy
            action sequence: one action token per frame (plus one token of the current joint
            state) in the transformer's text stream, attending jointly with the video tokens,
            decoded by a timestep-conditioned output head. Pixel space only (one token-frame
            per video frame).
        action_label_fraction: share of training samples in labelling mode (the clean video
            given, no joint state and no goal; loss on the action channels only); the rest are
            policy samples (first frame + current action image + goal -> video + actions).
        action_loss_weight: loss weight of the action-image channels relative to RGB (or of the
            joint-state sequence's mean loss relative to the video's, ``joint_states``).
        action_axis_length_m: the action-image codec's axis points' distance from the end
            effector (``prompts.ActionImageCodec.axis_length_m``): the images a model is trained
            on and decoded with (``label.action_codec``); longer axes separate the three points
            in small images, where the rotation is read from their offsets.
        steps: default number of sampling steps.
        cond_dropout: probability of dropping the action condition per sample in training
            (enables classifier-free guidance).
        lr_scales: learning-rate multipliers per parameter group.
        cond_noise: at inference, the std of the Gaussian noise ``predict_long`` adds to the
            image condition (working space) of every chunk conditioned on a predicted frame
            (``vap_ros.model.cond_aug``); set by training with ``augment.cond_noise`` (0 = off).
    """

    preset: str = "custom"
    conditioning: Conditioning = "skeleton"
    prompt_type: PromptType = "skeleton"
    height: int = 32
    width: int = 32
    num_frames: int = 5
    fps: float = 8.0
    space: Space = "pixel"
    requires_base: bool = False
    transformer: dict[str, Any] = field(default_factory=dict)
    vae: dict[str, Any] | None = None
    image_condition: ImageCondition = "repeat"
    prompt_injection: PromptInjection = "controlnet"
    controlnet_blocks: int = 1
    prompt_channels: int = 32
    lora_rank: int = 0
    lora_alpha: float | None = None
    lora_targets: tuple[str, ...] = ("to_q", "to_k", "to_v", "to_out.0")
    train_base: bool = True
    action_dim: int = 8
    action_embed_dim: int = 64
    scheduler: Scheduler = "ddim"
    scheduler_config: dict[str, Any] = field(default_factory=dict)
    residual: bool = False
    residual_scale: float = 0.5
    residual_deadband: float = 0.0
    residual_gate_px: int = 0
    generate_actions: GenerateActions = "none"
    action_label_fraction: float = 0.5
    action_loss_weight: float = 1.0
    action_axis_length_m: float = 0.1
    steps: int = 8
    cond_dropout: float = 0.1
    lr_scales: dict[str, float] = field(default_factory=dict)
    cond_noise: float = 0.0

    # ------------------------------------------------------------------ derived geometry
    @property
    def spatial_ratio(self) -> int:
        """Pixels per latent pixel (1 in pixel space, 8 for the CogVideoX VAE)."""
        if self.space == "pixel":
            return 1
        blocks = len((self.vae or {}).get("block_out_channels", (0, 0, 0, 0)))
        return 2 ** (blocks - 1)

    @property
    def temporal_ratio(self) -> int:
        """Frames per latent frame after the first (1 in pixel space, 4 for the VAE)."""
        if self.space == "pixel":
            return 1
        return int((self.vae or {}).get("temporal_compression_ratio", 4))

    @property
    def latent_frames(self) -> int:
        return (self.num_frames - 1) // self.temporal_ratio + 1

    @property
    def patch_size(self) -> int:
        return int(self.transformer.get("patch_size", 2))

    @property
    def uses_controlnet(self) -> bool:
        return self.conditioning == "skeleton" and self.prompt_injection == "controlnet"

    @property
    def joint_actions(self) -> bool:
        """The model generates actions with the video (``generate_actions``: action images or
        joint states)."""
        return self.generate_actions != "none"

    @property
    def action_images(self) -> bool:
        """The model generates action images on the latent channels."""
        return self.generate_actions == "action_images"

    @property
    def joint_states(self) -> bool:
        """The model generates joint-state sequences through its action head."""
        return self.generate_actions == "joint_states"

    @property
    def latent_groups(self) -> int:
        """Channel groups of the denoised latents: RGB (, action images)."""
        return 2 if self.action_images else 1

    @property
    def input_groups(self) -> int:
        """Channel groups on the transformer input: noisy latents, image condition (, prompt);
        joint action generation: noisy RGB (+ action latents), first frame, current action
        image, goal image, clean video (``vap_ros.model.joint``, ``joint_states``)."""
        if self.action_images:
            return 6
        if self.joint_states:
            return 5
        concat = self.conditioning == "skeleton" and self.prompt_injection == "concat"
        return 3 if concat else 2

    @property
    def inner_dim(self) -> int:
        t = self.transformer
        return int(t.get("num_attention_heads", 30)) * int(t.get("attention_head_dim", 64))

    def validate(self) -> None:
        """Kept for callers of the old API: a made config is always valid already."""
        self.check()

    def check(self) -> None:
        """Raise ConfigError naming the first inconsistent field."""
        for name in _TRANSFORMER_INTS:
            if name in self.transformer:
                v = self.transformer[name]
                require(isinstance(v, int) and not isinstance(v, bool) and v > 0,
                        f"transformer.{name}", v, "a positive integer")
        for name, v in (self.vae or {}).items():
            if name == "block_out_channels":
                require(isinstance(v, list) and len(v) >= 1, f"vae.{name}", v,
                        "a non-empty list of channel counts")
            elif name == "temporal_compression_ratio":
                require(isinstance(v, int) and not isinstance(v, bool) and v > 0,
                        f"vae.{name}", v, "a positive integer")
        for name in ("height", "width", "num_frames", "prompt_channels", "action_embed_dim"):
            require(getattr(self, name) > 0, name, getattr(self, name), "an integer > 0")
        require(self.fps > 0, "fps", self.fps, "a frame rate > 0")
        if self.space == "latent" and not self.vae:
            raise ConfigError("world model space='latent' needs a 'vae' section")
        factor = self.spatial_ratio * self.patch_size
        if self.height % factor or self.width % factor:
            raise ConfigError(
                f"world model size {self.height}x{self.width}: height and width must be positive "
                f"multiples of {factor} (spatial ratio {self.spatial_ratio} x patch "
                f"{self.patch_size})")
        if (self.num_frames - 1) % self.temporal_ratio:
            raise ConfigError(
                f"world model num_frames={self.num_frames}: expected 1 + a multiple of "
                f"{self.temporal_ratio} (the temporal compression ratio)")
        if self.space == "latent" and self.latent_frames % 2 == 0:
            raise ConfigError(
                f"world model num_frames={self.num_frames} gives {self.latent_frames} latent "
                "frames; the CogVideoX VAE decodes an even count to the wrong length (its time "
                "upsampler keeps the first frame only for odd counts): use 1 + 8k frames "
                "(9, 17, 25, 33, 41, 49)")
        layers = int(self.transformer.get("num_layers", 30))
        if self.uses_controlnet and not 1 <= self.controlnet_blocks <= layers:
            raise ConfigError(f"controlnet_blocks={self.controlnet_blocks}: expected 1..{layers}")
        require(self.lora_rank >= 0, "lora_rank", self.lora_rank, ">= 0")
        require(self.lora_alpha is None or self.lora_alpha > 0, "lora_alpha", self.lora_alpha,
                "> 0 or null")
        require(self.steps >= 1, "steps", self.steps, ">= 1")
        require(self.action_dim >= 1, "action_dim", self.action_dim, ">= 1")
        require(0.0 <= self.cond_dropout < 1.0, "cond_dropout", self.cond_dropout,
                "0 <= p < 1")
        require(self.residual_scale > 0, "residual_scale", self.residual_scale, "> 0")
        require(0.0 <= self.residual_deadband < 0.5, "residual_deadband",
                self.residual_deadband, "a fraction of the intensity range in [0, 0.5)")
        require(self.residual_deadband == 0.0 or (self.residual and self.space == "pixel"),
                "residual_deadband", self.residual_deadband,
                "0 unless residual is true and space is 'pixel'")
        require(not self.joint_actions or self.conditioning == "none", "conditioning",
                self.conditioning, "'none' with generate_actions "
                f"{self.generate_actions!r} (the model generates the actions; a given action "
                "prompt would hand it the answer)")
        require(0.0 <= self.action_label_fraction <= 1.0, "action_label_fraction",
                self.action_label_fraction, "a probability in [0, 1]")
        require(self.action_loss_weight > 0, "action_loss_weight", self.action_loss_weight,
                "> 0")
        require(0.0 < self.action_axis_length_m <= 0.5, "action_axis_length_m",
                self.action_axis_length_m, "metres in (0, 0.5]")
        require(not self.joint_states or self.space == "pixel", "space", self.space,
                "'pixel' with generate_actions 'joint_states' (one action token per video "
                "frame needs one token-frame per video frame)")
        require(self.residual_gate_px >= 0, "residual_gate_px", self.residual_gate_px,
                "a radius in pixels >= 0")
        require(self.residual_gate_px == 0 or (self.residual and self.space == "pixel"
                                               and self.conditioning == "skeleton"),
                "residual_gate_px", self.residual_gate_px,
                "0 unless residual is true, space is 'pixel' and conditioning is 'skeleton'")
        require(self.cond_noise >= 0, "cond_noise", self.cond_noise, "a noise std >= 0")

    def replace(self, **overrides: Any) -> WorldModelConfig:
        """A copy with fields replaced; ``transformer``/``vae`` dicts are merged, not swapped."""
        d = self.to_dict()
        for key, value in overrides.items():
            mergeable = key in ("transformer", "vae", "scheduler_config", "lr_scales")
            if mergeable and isinstance(value, Mapping) and isinstance(d.get(key), dict):
                d[key] = {**d[key], **value}
            else:
                d[key] = value
        return WorldModelConfig.from_dict(d)


def check_prompt_type(config: Any, prompt_type: str, offered: str, fix: str | None = None
                      ) -> None:
    """Refuse prompt videos of another type than a model takes.

    Args:
        config: the model's config (``WorldModelConfig``, or anything with ``conditioning`` and
            ``prompt_type``; missing ones read as "skeleton", as in a config saved before
            prompt types existed).
        prompt_type: the type of the prompts offered.
        offered: what offers them, for the message (e.g. "the clip cache /data/clips").
        fix: how to get the right prompts (default: how to build a clip cache of them).

    Raises:
        ConfigError: the model takes prompt videos (conditioning "skeleton") of another type.
    """
    if getattr(config, "conditioning", "skeleton") != "skeleton":
        return  # the model reads no prompt video
    want = getattr(config, "prompt_type", "skeleton")
    if prompt_type != want:
        fix = fix or (f"build the clips with `vap-ros dataset build --prompt-type {want}` (or "
                      f"prompt_type: {want} in the rig config), or train a model on "
                      f"{prompt_type!r} prompts (--set model.overrides.prompt_type="
                      f"{prompt_type})")
        raise ConfigError(
            f"prompt type mismatch: {offered} has {prompt_type!r} prompts but the model takes "
            f"{want!r} prompts (prompt_type in its vap_config.json): {fix}",
            key="prompt_type", value=prompt_type, expected=repr(want))


def available_presets() -> list[str]:
    """Names of the presets shipped in ``vap_ros/model/presets``."""
    return PRESETS.names()


def load_preset(name: str | Path, **overrides: Any) -> WorldModelConfig:
    """Load a preset by name (or a preset YAML by path) and apply keyword overrides.

    Raises:
        ConfigError: unknown preset name or invalid values.
    """
    doc = PRESETS.load(name)
    data = {**doc.data, "preset": Path(str(name)).stem}
    return WorldModelConfig.from_dict(data, source=doc.source).replace(**overrides)

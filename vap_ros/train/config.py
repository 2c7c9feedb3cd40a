"""Training configuration: dataclasses composed of sections, loaded from YAML, validated up front.

Every config is a strict dataclass (``vap_ros.config``): types, ranges and unknown keys are
checked when it is made (``from_dict``, the constructor, ``replace``), before a model is built
or a file is opened. Presets live in ``vap_ros/train/presets/<name>.yaml``;
``load_train_config`` takes a preset name or a path. See docs/train.md for every key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args

import yaml

from vap_ros.config import Presets, StrictConfig, require
from vap_ros.errors import ConfigError

__all__ = [
    "AugmentConfig",
    "CheckpointConfig",
    "LogConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "available_train_presets",
    "load_train_config",
]

Stage = Literal["full", "prior", "control"]
MixedPrecision = Literal["no", "fp16", "bf16"]
LrScheduler = Literal["constant", "constant_with_warmup", "linear", "cosine"]
RegionShape = Literal["gaussian", "disc"]
STAGES, MIXED_PRECISION = get_args(Stage), get_args(MixedPrecision)
LR_SCHEDULERS, REGION_SHAPES = get_args(LrScheduler), get_args(RegionShape)
PRESETS = Presets("vap_ros.train", "training")

# Settings that may change when a run is resumed; every other difference is refused.
RESUMABLE_CHANGES = ("steps", "num_workers", "checkpoint", "log")


@dataclass(frozen=True)
class ModelConfig(StrictConfig):
    """Which world model to train and how.

    Attributes:
        preset: ``WorldModel.from_preset`` name (ignored when ``pretrained`` is set).
        pretrained: a ``save_pretrained`` directory to start from (stage 2: the video prior).
        overrides: world-model config fields to override on the preset (e.g. ``conditioning``).
        stage: "full" (train what the model marks trainable), "prior" (stage 1: a video prior
            without actions, conditioning forced to "none"), "control" (stage 2: freeze the
            loaded prior, add and train the ControlNet + LoRA).
        gradient_checkpointing: recompute activations in backward (less memory, ~30% slower).
    """

    preset: str = "tiny"
    pretrained: str | None = None
    overrides: dict = field(default_factory=dict)
    stage: Stage = "full"
    gradient_checkpointing: bool = False

    def check(self) -> None:
        from vap_ros.model.config import WorldModelConfig, available_presets

        if self.stage == "control" and self.pretrained is None:
            raise ConfigError("trains a ControlNet on a frozen prior: set model.pretrained to "
                              "the stage-1 model directory", key="stage", value=self.stage)
        if self.stage == "prior":
            cond = self.overrides.get("conditioning", "none")
            require(cond == "none", "overrides.conditioning", cond,
                    "'none': model.stage='prior' trains without actions; this contradicts it")
        if self.pretrained is None:
            require(self.preset in available_presets(), "preset", self.preset,
                    f"one of {available_presets()}")
        try:
            WorldModelConfig.check_values(self.overrides)
        except ConfigError as err:
            err.within("overrides")
            raise


@dataclass(frozen=True)
class OptimConfig(StrictConfig):
    """AdamW and the learning-rate schedule (diffusers' ``get_scheduler``)."""

    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    max_grad_norm: float | None = 1.0
    scheduler: LrScheduler = "constant_with_warmup"
    warmup_steps: int = 0

    def check(self) -> None:
        require(self.lr > 0, "lr", self.lr, "> 0")
        require(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        require(all(0 <= b < 1 for b in self.betas), "betas", self.betas,
                "two values in [0, 1)")
        require(self.eps > 0, "eps", self.eps, "> 0")
        require(self.max_grad_norm is None or self.max_grad_norm > 0, "max_grad_norm",
                self.max_grad_norm, "> 0 or null")
        require(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")


@dataclass(frozen=True)
class LossConfig(StrictConfig):
    """Extra diffusion-loss weight around the interaction region (VAP).

    Attributes:
        interaction_factor: weight at the region's centre; 1 disables the emphasis.
        interaction_radius: disc radius / Gaussian sigma as a fraction of min(H, W).
        interaction_shape: "gaussian" or "disc".
        interaction_keypoints: "gripper" (``SkeletonSpec.gripper`` of ``skeleton``), "all",
            or a list of keypoint indices.
        skeleton: skeleton preset whose gripper keypoints are used.
        motion_factor: extra weight on the pixels that change from the first frame (the arm's
            old and new places, ``interaction.motion_region``); 1 disables it.
        motion_threshold: change that counts, as a fraction of the intensity range.
    """

    interaction_factor: float = 2.0
    interaction_radius: float = 0.08
    interaction_shape: RegionShape = "gaussian"
    interaction_keypoints: Literal["gripper", "all"] | list[int] = "gripper"
    skeleton: str = "panda"
    motion_factor: float = 1.0
    motion_threshold: float = 0.1

    def check(self) -> None:
        require(self.motion_factor >= 1.0, "motion_factor", self.motion_factor, ">= 1")
        require(0 < self.motion_threshold < 1, "motion_threshold", self.motion_threshold,
                "in (0, 1)")
        require(self.interaction_factor >= 1.0, "interaction_factor", self.interaction_factor,
                ">= 1")
        require(self.interaction_radius > 0, "interaction_radius", self.interaction_radius,
                "> 0")
        k = self.interaction_keypoints
        require(isinstance(k, str) or all(i >= 0 for i in k), "interaction_keypoints", k,
                "'gripper', 'all' or a list of keypoint indices")


@dataclass(frozen=True)
class AugmentConfig(StrictConfig):
    """Corruption of the conditioning frame in training, as a long rollout's later chunks see
    it (the previous chunk's imperfect prediction; ``vap_ros.model.cond_aug``). Off by default.

    Attributes:
        cond_noise: largest std of the Gaussian noise on the image condition, in the working
            space (pixels in [-1, 1] or scaled VAE latents); each corrupted sample draws its std
            uniformly in [0, cond_noise]; 0: no noise.
        cond_blur: largest Gaussian blur sigma (pixels) of the conditioning frame (the given
            frame itself: the model learns to restore it); uniform in [0, cond_blur]; 0: none.
        cond_prob: probability that a sample is corrupted (the others stay clean).
        cond_noise_infer: the fixed noise std ``predict_long`` uses for the chunks conditioned
            on a predicted frame, written into the trained model's config (``cond_noise``);
            null: half of ``cond_noise``. At most ``cond_noise`` (a level seen in training).
            With the option off, a pretrained model keeps the ``cond_noise`` it has.
    """

    cond_noise: float = 0.0
    cond_blur: float = 0.0
    cond_prob: float = 0.5
    cond_noise_infer: float | None = None

    @property
    def active(self) -> bool:
        return self.cond_noise > 0 or self.cond_blur > 0

    @property
    def inference_noise(self) -> float:
        """The ``cond_noise`` the trained model is sampled with."""
        if self.cond_noise_infer is not None:
            return self.cond_noise_infer
        return self.cond_noise / 2

    def check(self) -> None:
        require(self.cond_noise >= 0, "cond_noise", self.cond_noise, "a noise std >= 0")
        require(0 <= self.cond_blur <= 8, "cond_blur", self.cond_blur,
                "a blur sigma in pixels in [0, 8]")
        require(0 < self.cond_prob <= 1, "cond_prob", self.cond_prob, "a probability in (0, 1]")
        v = self.cond_noise_infer
        require(v is None or 0 <= v <= self.cond_noise, "cond_noise_infer", v,
                f"null or a std in [0, cond_noise={self.cond_noise:g}] (a level trained on)")


@dataclass(frozen=True)
class CheckpointConfig(StrictConfig):
    """``every`` optimizer steps (and at the end); the newest ``keep`` are kept (>= 2 so a
    corrupt newest one still leaves a usable one)."""

    every: int = 500
    keep: int = 3

    def check(self) -> None:
        require(self.every >= 1, "every", self.every, ">= 1")
        require(self.keep >= 1, "keep", self.keep, ">= 1")


@dataclass(frozen=True)
class LogConfig(StrictConfig):
    """TensorBoard scalars every ``every`` steps; sample rollouts every ``sample_every`` steps
    (0: only at the end; -1: never) on ``sample_clips`` clips with ``sample_steps`` sampler
    steps; ``progress`` shows a tqdm bar with ETA."""

    every: int = 10
    sample_every: int = 0
    sample_clips: int = 2
    sample_steps: int | None = None
    tensorboard: bool = True
    progress: bool = True

    def check(self) -> None:
        require(self.every >= 1, "every", self.every, ">= 1")
        require(self.sample_every >= -1, "sample_every", self.sample_every, ">= -1")
        require(self.sample_clips >= 0, "sample_clips", self.sample_clips, ">= 0")
        require(self.sample_steps is None or self.sample_steps >= 1, "sample_steps",
                self.sample_steps, ">= 1 or null")


@dataclass(frozen=True)
class TrainConfig(StrictConfig):
    """A whole training run.

    Attributes:
        seed: seeds the model init, data order, diffusion noise and every RNG.
        steps: optimizer steps to train for.
        batch_size: clips per process per micro-step.
        grad_accum: micro-steps per optimizer step. One optimizer step consumes
            ``batch_size * num_processes * grad_accum`` clips (the global batch).
        mixed_precision: "no", "fp16" (GPU) or "bf16" (accelerate autocast).
        cache_latents: encode clips with the model's VAE once and train on cached latents
            (latent-space models only; ignored with a note in pixel space).
        num_workers: DataLoader worker processes.
        per_view: train on each view of a multi-view clip as its own sample (V = 1 items,
            shared weights): V times the samples at a third of the cost per sample for 3 views.
        augment: conditioning-frame corruption for long rollouts (``AugmentConfig``).
    """

    seed: int = 0
    steps: int = 1000
    batch_size: int = 1
    grad_accum: int = 1
    mixed_precision: MixedPrecision = "no"
    cache_latents: bool = False
    num_workers: int = 0
    per_view: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def check(self) -> None:
        require(self.steps >= 1, "steps", self.steps, ">= 1")
        require(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        require(self.grad_accum >= 1, "grad_accum", self.grad_accum, ">= 1")
        require(self.num_workers >= 0, "num_workers", self.num_workers, ">= 0")

    # ------------------------------------------------------------------ (de)serialisation
    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def resume_differences(self, saved: TrainConfig) -> list[str]:
        """Settings that differ from a run's saved config and may not change on resume."""
        a, b = saved.to_dict(), self.to_dict()
        diffs = []
        for key in sorted(set(a) | set(b)):
            if key in RESUMABLE_CHANGES:
                continue
            if isinstance(a.get(key), dict):
                for sub in sorted(set(a[key]) | set(b.get(key, {}))):
                    if a[key].get(sub) != b.get(key, {}).get(sub):
                        diffs.append(f"{key}.{sub}: {a[key].get(sub)!r} -> "
                                     f"{b.get(key, {}).get(sub)!r}")
            elif a.get(key) != b.get(key):
                diffs.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
        return diffs


def available_train_presets() -> list[str]:
    return PRESETS.names()


def load_train_config(name_or_path: str | Path, **overrides: Any) -> TrainConfig:
    """A preset name (``tiny``, ``small``, …) or a YAML path, with dotted-key overrides.

    Raises:
        ConfigError: unknown preset, missing or empty file, malformed YAML, unknown keys or
            invalid values (the key, the value and what was expected named).
    """
    doc = PRESETS.load(name_or_path)
    cfg = TrainConfig.from_dict(doc.data, source=doc.source)
    return cfg.replace(**overrides) if overrides else cfg

"""Training configuration: dataclasses composed of sections, loaded from YAML, validated up front.

Every check fires in ``TrainConfig.from_dict`` (via ``__post_init__``), before a model is built
or a file is opened. Presets live in ``vap_ros/train/presets/<name>.yaml``; ``load_train_config``
takes a preset name or a path. See docs/train.md for every key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from vap_ros.errors import ConfigError

__all__ = [
    "CheckpointConfig",
    "LogConfig",
    "LossConfig",
    "ModelConfig",
    "OptimConfig",
    "TrainConfig",
    "available_train_presets",
    "load_train_config",
]

STAGES = ("full", "prior", "control")
MIXED_PRECISION = ("no", "fp16", "bf16")
LR_SCHEDULERS = ("constant", "constant_with_warmup", "linear", "cosine")
REGION_SHAPES = ("gaussian", "disc")

# Settings that may change when a run is resumed; every other difference is refused.
RESUMABLE_CHANGES = ("steps", "num_workers", "checkpoint", "log")


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ConfigError(message)


@dataclass
class ModelConfig:
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
    stage: str = "full"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        _check(self.stage in STAGES, f"model.stage={self.stage!r}: expected one of {STAGES}")
        _check(isinstance(self.overrides, dict), "model.overrides must be a mapping")
        _check(self.stage != "control" or self.pretrained is not None,
               "model.stage='control' trains a ControlNet on a frozen prior: set "
               "model.pretrained to the stage-1 model directory")
        if self.stage == "prior":
            cond = self.overrides.get("conditioning", "none")
            _check(cond == "none", f"model.stage='prior' trains without actions; "
                                   f"model.overrides.conditioning={cond!r} contradicts it")


@dataclass
class OptimConfig:
    """AdamW and the learning-rate schedule (diffusers' ``get_scheduler``)."""

    lr: float = 1e-4
    weight_decay: float = 0.0
    betas: tuple = (0.9, 0.999)
    eps: float = 1e-8
    max_grad_norm: float | None = 1.0
    scheduler: str = "constant_with_warmup"
    warmup_steps: int = 0

    def __post_init__(self) -> None:
        self.betas = tuple(float(b) for b in self.betas)
        _check(self.lr > 0, f"optim.lr={self.lr}: expected > 0")
        _check(self.weight_decay >= 0, f"optim.weight_decay={self.weight_decay}: expected >= 0")
        _check(len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas),
               f"optim.betas={self.betas}: expected two values in [0, 1)")
        _check(self.max_grad_norm is None or self.max_grad_norm > 0,
               f"optim.max_grad_norm={self.max_grad_norm}: expected > 0 or null")
        _check(self.scheduler in LR_SCHEDULERS,
               f"optim.scheduler={self.scheduler!r}: expected one of {LR_SCHEDULERS}")
        _check(self.warmup_steps >= 0, f"optim.warmup_steps={self.warmup_steps}: expected >= 0")


@dataclass
class LossConfig:
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
    interaction_shape: str = "gaussian"
    interaction_keypoints: Any = "gripper"
    skeleton: str = "panda"
    motion_factor: float = 1.0
    motion_threshold: float = 0.1

    def __post_init__(self) -> None:
        _check(self.motion_factor >= 1.0 and 0 < self.motion_threshold < 1,
               f"loss.motion_factor={self.motion_factor} / motion_threshold="
               f"{self.motion_threshold}: expected >= 1 and in (0, 1)")
        _check(self.interaction_factor >= 1.0,
               f"loss.interaction_factor={self.interaction_factor}: expected >= 1")
        _check(self.interaction_radius > 0,
               f"loss.interaction_radius={self.interaction_radius}: expected > 0")
        _check(self.interaction_shape in REGION_SHAPES,
               f"loss.interaction_shape={self.interaction_shape!r}: expected {REGION_SHAPES}")
        k = self.interaction_keypoints
        _check(k in ("gripper", "all") or (isinstance(k, (list, tuple)) and
                                           all(isinstance(i, int) and i >= 0 for i in k)),
               f"loss.interaction_keypoints={k!r}: expected 'gripper', 'all' or a list of "
               "keypoint indices")
        if isinstance(k, tuple):
            self.interaction_keypoints = list(k)


@dataclass
class CheckpointConfig:
    """``every`` optimizer steps (and at the end); the newest ``keep`` are kept (>= 2 so a
    corrupt newest one still leaves a usable one)."""

    every: int = 500
    keep: int = 3

    def __post_init__(self) -> None:
        _check(self.every >= 1, f"checkpoint.every={self.every}: expected >= 1")
        _check(self.keep >= 1, f"checkpoint.keep={self.keep}: expected >= 1")


@dataclass
class LogConfig:
    """TensorBoard scalars every ``every`` steps; sample rollouts every ``sample_every`` steps
    (0: only at the end; -1: never) on ``sample_clips`` clips with ``sample_steps`` sampler
    steps; ``progress`` shows a tqdm bar with ETA."""

    every: int = 10
    sample_every: int = 0
    sample_clips: int = 2
    sample_steps: int | None = None
    tensorboard: bool = True
    progress: bool = True

    def __post_init__(self) -> None:
        _check(self.every >= 1, f"log.every={self.every}: expected >= 1")
        _check(self.sample_every >= -1, f"log.sample_every={self.sample_every}: expected >= -1")
        _check(self.sample_clips >= 0, f"log.sample_clips={self.sample_clips}: expected >= 0")
        _check(self.sample_steps is None or self.sample_steps >= 1,
               f"log.sample_steps={self.sample_steps}: expected >= 1 or null")


_SECTIONS = {"model": ModelConfig, "optim": OptimConfig, "loss": LossConfig,
             "checkpoint": CheckpointConfig, "log": LogConfig}


@dataclass
class TrainConfig:
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
    """

    seed: int = 0
    steps: int = 1000
    batch_size: int = 1
    grad_accum: int = 1
    mixed_precision: str = "no"
    cache_latents: bool = False
    num_workers: int = 0
    per_view: bool = False
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self) -> None:
        _check(self.steps >= 1, f"steps={self.steps}: expected >= 1")
        _check(self.batch_size >= 1, f"batch_size={self.batch_size}: expected >= 1")
        _check(self.grad_accum >= 1, f"grad_accum={self.grad_accum}: expected >= 1")
        _check(self.num_workers >= 0, f"num_workers={self.num_workers}: expected >= 0")
        _check(self.mixed_precision in MIXED_PRECISION,
               f"mixed_precision={self.mixed_precision!r}: expected one of {MIXED_PRECISION}")

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["optim"]["betas"] = list(self.optim.betas)
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> TrainConfig:
        """Build and validate; unknown keys are refused with their full path.

        Raises:
            ConfigError: unknown key, wrong type or out-of-range value.
        """
        data = dict(data or {})
        data.pop("notes", None)
        top = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - top)
        _check(not unknown, f"unknown training config keys {unknown}; expected {sorted(top)}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                section = _SECTIONS[key]
                value = value or {}
                _check(isinstance(value, dict), f"training config '{key}' must be a mapping")
                names = {f.name for f in dataclasses.fields(section)}
                bad = sorted(set(value) - names)
                _check(not bad, f"unknown keys {[f'{key}.{b}' for b in bad]}; "
                                f"'{key}' accepts {sorted(names)}")
                try:
                    kwargs[key] = section(**value)
                except TypeError as err:
                    raise ConfigError(f"training config '{key}': {err}") from err
            else:
                kwargs[key] = value
        try:
            return cls(**kwargs)
        except TypeError as err:  # e.g. a string where a number belongs
            raise ConfigError(f"training config: {err}") from err

    def replace(self, **overrides: Any) -> TrainConfig:
        """A copy with dotted keys replaced: ``replace(steps=10, **{"optim.lr": 1e-3})``."""
        d = self.to_dict()
        for key, value in overrides.items():
            node = d
            *parents, leaf = key.split(".")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return TrainConfig.from_dict(d)

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
    root = resources.files("vap_ros.train") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def load_train_config(name_or_path: str | Path, **overrides: Any) -> TrainConfig:
    """A preset name (``tiny``, ``small``, …) or a YAML path, with dotted-key overrides.

    Raises:
        ConfigError: missing file, malformed YAML or invalid values.
    """
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"training config {path} does not exist")
        text = path.read_text()
    else:
        names = available_train_presets()
        if str(name_or_path) not in names:
            raise ConfigError(f"unknown training preset {name_or_path!r}; available: {names} "
                              "(or give a path to a YAML file)")
        text = (resources.files("vap_ros.train") / "presets" / f"{name_or_path}.yaml").read_text()
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"training config {name_or_path}: invalid YAML: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"training config {name_or_path}: expected a mapping at the top level")
    cfg = TrainConfig.from_dict(data)
    return cfg.replace(**overrides) if overrides else cfg

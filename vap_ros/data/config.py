"""Rig configs: which topics of a bag hold joint states, plans, images and calibration, and
how clips are cut. Presets live in ``vap_ros/data/presets/<name>.yaml`` (``sim``,
``franka_lab``); any YAML with the same keys works. Every config is a strict dataclass
(``vap_ros.config``): all checks fire when it is made, before a bag is opened.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, Mapping, get_args

from vap_ros.config import Presets, StrictConfig, require
from vap_ros.prompts.encoding import PromptType

__all__ = [
    "CameraTopics",
    "ClipConfig",
    "JointStateTopics",
    "RigConfig",
    "SyncConfig",
    "available_rig_presets",
    "camera_name_from_topic",
    "load_rig_config",
]

PromptSource = Literal["commanded", "logged"]
PROMPT_SOURCES = get_args(PromptSource)
PRESETS = Presets("vap_ros.data", "rig")


def available_rig_presets() -> list[str]:
    return PRESETS.names()


def camera_name_from_topic(topic: str) -> str:
    """The default camera name: the image topic's namespace (``/front/image_raw`` → ``front``,
    ``/camera/color/image_raw/compressed`` → ``camera_color``)."""
    parts = [p for p in topic.strip("/").split("/") if p]
    if parts and parts[-1] in ("compressed", "theora", "compressedDepth"):
        parts = parts[:-1]
    if len(parts) > 1:
        parts = parts[:-1]  # drop image_raw / image_rect_color / ...
    return "_".join(parts) or "camera"


def _one_or_many(value: Any) -> Any:
    """A topic or a list of candidate topics (None: none)."""
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else value


def _none_is_empty(value: Any) -> Any:
    return {} if value is None else value


def _auto_is_none(value: Any) -> Any:
    return None if value == "auto" else value


Topics = Annotated[tuple[str, ...], _one_or_many]


def _check_topics(key: str, topics: tuple[str, ...]) -> None:
    for i, t in enumerate(topics):
        require(t.startswith("/"), f"{key}[{i}]", t, "a topic name starting with '/'")


@dataclass(frozen=True)
class JointStateTopics(StrictConfig):
    """Where the joint states are. ``topic``/``gripper_topic``: candidate topics;
    ``name_map``: joint-name map applied before matching the robot's names (exact names or
    prefix rules ``{"fr3_*": "panda_*"}``; ``vap_ros.robot.joints``)."""

    topic: Topics = ("/joint_states",)
    gripper_topic: Topics = ()
    extra_joints: Literal["ignore", "error"] = "ignore"
    name_map: Annotated[dict[str, str], _none_is_empty] = field(default_factory=dict)

    def check(self) -> None:
        from vap_ros.errors import ConfigError
        from vap_ros.robot.joints import parse_name_map

        require(bool(self.topic), "topic", self.topic, "at least one joint-state topic")
        try:
            parse_name_map(self.name_map)
        except ConfigError as err:
            raise ConfigError(key="name_map", value=err.value, expected=err.expected) from err
        _check_topics("topic", self.topic)
        _check_topics("gripper_topic", self.gripper_topic)


@dataclass(frozen=True)
class CameraTopics(StrictConfig):
    """One camera: image topic candidates (Image or CompressedImage), camera_info topic
    candidates (default: ``camera_info`` beside the image topic), optical frame override."""

    name: str | None = None
    image_topic: Topics = ()
    info_topic: Topics = ()
    frame_id: str | None = None

    def check(self) -> None:
        require(bool(self.image_topic), "image_topic", self.image_topic,
                "a topic name or a list of topic names")
        _check_topics("image_topic", self.image_topic)
        _check_topics("info_topic", self.info_topic)


@dataclass(frozen=True)
class ClipConfig(StrictConfig):
    """Clip cutting: ``frames`` per clip at ``fps``, a new clip every ``stride`` frames,
    frames resized to ``size`` (H, W) or kept at the cameras' size (None)."""

    frames: int = 16
    fps: float = 10.0
    stride: int = 8
    size: tuple[int, int] | None = (256, 256)

    def check(self) -> None:
        require(self.frames >= 1, "frames", self.frames, "an integer >= 1")
        require(self.fps > 0, "fps", self.fps, "a frame rate > 0")
        require(self.stride >= 1, "stride", self.stride, "an integer >= 1")
        require(self.size is None or min(self.size) >= 8, "size", self.size,
                "[H, W] of at least 8 px each, or null (the cameras' size)")


@dataclass(frozen=True)
class SyncConfig(StrictConfig):
    max_camera_gap_ms: float = 20.0
    max_joint_gap_ms: float = 50.0

    def check(self) -> None:
        require(self.max_camera_gap_ms >= 0, "max_camera_gap_ms", self.max_camera_gap_ms,
                "a gap >= 0 ms")
        require(self.max_joint_gap_ms > 0, "max_joint_gap_ms", self.max_joint_gap_ms,
                "a gap > 0 ms")


@dataclass(frozen=True)
class RigConfig(StrictConfig):
    """A rig: robot preset, topics, calibration override and clip settings. ``cameras``: a
    list of cameras, or None / "auto" (every image topic of a bag). ``base_frame``: the frame
    of the bag's TF that the camera mounts hang off, when it is not the robot model's base
    frame (an FR3 bag, base ``fr3_link0``, read onto the Panda model)."""

    name: str = "custom"
    robot: str = "panda"
    base_frame: str | None = None
    joint_states: JointStateTopics = field(default_factory=JointStateTopics)
    plan_topic: Topics = ("/planned_trajectory",)
    tf_topics: Topics = ("/tf_static", "/tf")
    cameras: Annotated[tuple[CameraTopics, ...] | None, _auto_is_none] = None
    calibration: str | None = None
    clip: ClipConfig = field(default_factory=ClipConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    prompt_source: PromptSource = "commanded"
    prompt_type: PromptType = "skeleton"
    store_both_prompts: bool = True
    shard_clips: int = 32

    def check(self) -> None:
        _check_topics("plan_topic", self.plan_topic)
        _check_topics("tf_topics", self.tf_topics)
        if self.cameras is not None:
            require(bool(self.cameras), "cameras", [], "'auto' or a non-empty list of cameras")
            names = [c.name or camera_name_from_topic(c.image_topic[0]) for c in self.cameras]
            require(len(set(names)) == len(names), "cameras", names, "unique camera names")
        require(self.shard_clips >= 1, "shard_clips", self.shard_clips, "an integer >= 1")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (round-trips through ``from_dict``; written into every cache)."""
        d = super().to_dict()
        if self.cameras is None:
            d["cameras"] = "auto"
        return d


def load_rig_config(config: str | Path | Mapping[str, Any] | RigConfig | None = None,
                    **overrides: Any) -> RigConfig:
    """A rig config from a preset name (``sim``, ``franka_lab``), a YAML path, a mapping or a
    ``RigConfig``; None = ``sim``. ``overrides`` replace top-level fields (validated too).

    Raises:
        ConfigError: unknown preset, missing/empty file, malformed YAML or values.
    """
    if isinstance(config, RigConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = RigConfig.from_dict(config)
    else:
        doc = PRESETS.load("sim" if config is None else config)
        cfg = RigConfig.from_dict(doc.data, source=doc.source)
        if cfg.calibration and not Path(cfg.calibration).is_absolute() and doc.path:
            cfg = dataclasses.replace(
                cfg, calibration=str((doc.path.parent / cfg.calibration).resolve()))
    return cfg.replace(**overrides) if overrides else cfg

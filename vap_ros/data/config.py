"""Rig configs: which topics of a bag hold joint states, plans, images and calibration, and
how clips are cut. Presets live in ``vap_ros/data/presets/<name>.yaml`` (``sim``,
``franka_lab``); any YAML with the same keys works. All checks fire in ``from_dict``, before a
bag is opened.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import yaml

from vap_ros.errors import ConfigError

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

PROMPT_SOURCES = ("commanded", "logged")


def available_rig_presets() -> list[str]:
    root = resources.files("vap_ros.data") / "presets"
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def camera_name_from_topic(topic: str) -> str:
    """The default camera name: the image topic's namespace (``/front/image_raw`` → ``front``,
    ``/camera/color/image_raw/compressed`` → ``camera_color``)."""
    parts = [p for p in topic.strip("/").split("/") if p]
    if parts and parts[-1] in ("compressed", "theora", "compressedDepth"):
        parts = parts[:-1]
    if len(parts) > 1:
        parts = parts[:-1]  # drop image_raw / image_rect_color / ...
    return "_".join(parts) or "camera"


def _topics(value: Any, what: str) -> tuple[str, ...]:
    """A topic or a list of candidate topics → tuple (empty for None)."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{what} must be a topic name or a list of topic names, got {value!r}")
    for v in value:
        if not v.startswith("/"):
            raise ConfigError(f"{what}: topic {v!r} must start with '/'")
    return tuple(value)


@dataclass(frozen=True)
class JointStateTopics:
    """Where the joint states are. ``topic``/``gripper_topic``: candidate topics."""

    topic: tuple[str, ...] = ("/joint_states",)
    gripper_topic: tuple[str, ...] = ()
    extra_joints: str = "ignore"
    name_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CameraTopics:
    """One camera: image topic candidates (Image or CompressedImage), camera_info topic
    candidates (default: ``camera_info`` beside the image topic), optical frame override."""

    name: str | None
    image_topic: tuple[str, ...]
    info_topic: tuple[str, ...] = ()
    frame_id: str | None = None


@dataclass(frozen=True)
class ClipConfig:
    """Clip cutting: ``frames`` per clip at ``fps``, a new clip every ``stride`` frames,
    frames resized to ``size`` (H, W) or kept at the cameras' size (None)."""

    frames: int = 16
    fps: float = 10.0
    stride: int = 8
    size: tuple[int, int] | None = (256, 256)


@dataclass(frozen=True)
class SyncConfig:
    max_camera_gap_ms: float = 20.0
    max_joint_gap_ms: float = 50.0


@dataclass(frozen=True)
class RigConfig:
    """A rig: robot preset, topics, calibration override and clip settings."""

    name: str = "custom"
    robot: str = "panda"
    joint_states: JointStateTopics = field(default_factory=JointStateTopics)
    plan_topic: tuple[str, ...] = ("/planned_trajectory",)
    tf_topics: tuple[str, ...] = ("/tf_static", "/tf")
    cameras: tuple[CameraTopics, ...] | None = None  # None = auto (every image topic)
    calibration: str | None = None
    clip: ClipConfig = field(default_factory=ClipConfig)
    sync: SyncConfig = field(default_factory=SyncConfig)
    prompt_source: str = "commanded"
    store_both_prompts: bool = True
    shard_clips: int = 32

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, where: str = "rig config") -> "RigConfig":
        if not isinstance(d, Mapping):
            raise ConfigError(f"{where} must be a mapping, got {type(d).__name__}")
        known = {"name", "robot", "joint_states", "plan_topic", "tf_topics", "cameras",
                 "calibration", "clip", "sync", "prompt_source", "store_both_prompts",
                 "shard_clips"}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"{where}: unknown keys {unknown}; known: {sorted(known)}")
        js = d.get("joint_states") or {}
        if not isinstance(js, Mapping):
            raise ConfigError(f"{where}: joint_states must be a mapping")
        extra = js.get("extra_joints", "ignore")
        if extra not in ("ignore", "error"):
            raise ConfigError(f"{where}: joint_states.extra_joints must be 'ignore' or 'error', "
                              f"got {extra!r}")
        name_map = js.get("name_map") or {}
        if not isinstance(name_map, Mapping):
            raise ConfigError(f"{where}: joint_states.name_map must map names to names")
        joint_states = JointStateTopics(
            topic=_topics(js.get("topic", "/joint_states"), "joint_states.topic"),
            gripper_topic=_topics(js.get("gripper_topic"), "joint_states.gripper_topic"),
            extra_joints=extra, name_map={str(k): str(v) for k, v in name_map.items()})
        if not joint_states.topic:
            raise ConfigError(f"{where}: joint_states.topic is required")
        cams_raw = d.get("cameras", "auto")
        cameras: tuple[CameraTopics, ...] | None
        if cams_raw in (None, "auto"):
            cameras = None
        elif isinstance(cams_raw, list) and cams_raw:
            out = []
            for i, c in enumerate(cams_raw):
                if not isinstance(c, Mapping) or "image_topic" not in c:
                    raise ConfigError(f"{where}: cameras[{i}] needs an image_topic")
                out.append(CameraTopics(
                    name=None if c.get("name") is None else str(c["name"]),
                    image_topic=_topics(c["image_topic"], f"cameras[{i}].image_topic"),
                    info_topic=_topics(c.get("info_topic"), f"cameras[{i}].info_topic"),
                    frame_id=None if c.get("frame_id") is None else str(c["frame_id"])))
            names = [c.name or camera_name_from_topic(c.image_topic[0]) for c in out]
            if len(set(names)) != len(names):
                raise ConfigError(f"{where}: camera names are not unique: {names}")
            cameras = tuple(out)
        else:
            raise ConfigError(f"{where}: cameras must be 'auto' or a non-empty list")
        clip_raw = d.get("clip") or {}
        try:
            size = clip_raw.get("size", (256, 256))
            clip = ClipConfig(
                frames=int(clip_raw.get("frames", 16)), fps=float(clip_raw.get("fps", 10.0)),
                stride=int(clip_raw.get("stride", 8)),
                size=None if size is None else (int(size[0]), int(size[1])))
            sync_raw = d.get("sync") or {}
            sync = SyncConfig(float(sync_raw.get("max_camera_gap_ms", 20.0)),
                              float(sync_raw.get("max_joint_gap_ms", 50.0)))
            shard_clips = int(d.get("shard_clips", 32))
        except (TypeError, ValueError, IndexError, AttributeError) as err:
            raise ConfigError(f"{where}: malformed clip/sync settings: {err}") from err
        if clip.frames < 1 or clip.stride < 1 or clip.fps <= 0:
            raise ConfigError(f"{where}: clip.frames and clip.stride must be >= 1 and clip.fps "
                              f"> 0, got {clip}")
        if clip.size is not None and min(clip.size) < 8:
            raise ConfigError(f"{where}: clip.size {list(clip.size)} is too small (>= 8 px)")
        if sync.max_camera_gap_ms < 0 or sync.max_joint_gap_ms <= 0:
            raise ConfigError(f"{where}: sync gaps must be positive, got {sync}")
        if shard_clips < 1:
            raise ConfigError(f"{where}: shard_clips must be >= 1")
        source = d.get("prompt_source", "commanded")
        if source not in PROMPT_SOURCES:
            raise ConfigError(f"{where}: prompt_source must be one of {PROMPT_SOURCES}, "
                              f"got {source!r}")
        calib = d.get("calibration")
        return cls(
            name=str(d.get("name", "custom")), robot=str(d.get("robot", "panda")),
            joint_states=joint_states,
            plan_topic=_topics(d.get("plan_topic", "/planned_trajectory"), "plan_topic"),
            tf_topics=_topics(d.get("tf_topics", ["/tf_static", "/tf"]), "tf_topics"),
            cameras=cameras, calibration=None if calib is None else str(calib), clip=clip,
            sync=sync, prompt_source=source,
            store_both_prompts=bool(d.get("store_both_prompts", True)), shard_clips=shard_clips)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (round-trips through ``from_dict``; written into every cache)."""
        d = asdict(self)
        d["joint_states"]["name_map"] = dict(self.joint_states.name_map)
        d["cameras"] = "auto" if self.cameras is None else [
            {k: (list(v) if isinstance(v, tuple) else v) for k, v in c.items()}
            for c in d["cameras"]]
        for k in ("plan_topic", "tf_topics"):
            d[k] = list(d[k])
        for k in ("topic", "gripper_topic"):
            d["joint_states"][k] = list(d["joint_states"][k])
        d["clip"]["size"] = None if self.clip.size is None else list(self.clip.size)
        return d


def load_rig_config(config: str | Path | Mapping[str, Any] | RigConfig | None = None,
                    **overrides) -> RigConfig:
    """A rig config from a preset name (``sim``, ``franka_lab``), a YAML path, a mapping or a
    ``RigConfig``; None = ``sim``. ``overrides`` replace top-level fields.

    Raises:
        ConfigError: unknown preset, missing file, malformed YAML or values.
    """
    if isinstance(config, RigConfig):
        cfg = config
    elif isinstance(config, Mapping):
        cfg = RigConfig.from_dict(config)
    else:
        name = "sim" if config is None else str(config)
        p = Path(name)
        if p.suffix in (".yaml", ".yml"):
            if not p.is_file():
                raise ConfigError(f"rig config file not found: {name!r}")
            text, where = p.read_text(), str(p)
        else:
            res = resources.files("vap_ros.data") / "presets" / f"{name}.yaml"
            if not res.is_file():
                raise ConfigError(f"unknown rig preset {name!r}; available: "
                                  f"{available_rig_presets()} or a path to a rig YAML")
            text, where = res.read_text(), f"rig preset {name!r}"
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as err:
            raise ConfigError(f"{where} is not valid YAML: {err}") from err
        cfg = RigConfig.from_dict(doc or {}, where=where)
        if cfg.calibration and not Path(cfg.calibration).is_absolute() and p.suffix:
            cfg = replace(cfg, calibration=str((p.parent / cfg.calibration).resolve()))
    return replace(cfg, **overrides) if overrides else cfg

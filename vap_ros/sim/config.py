"""What a simulated rig looks like: cameras, objects, lighting, rates, as validated dataclasses.

A :class:`SceneConfig` holds the *options*; :func:`vap_ros.sim.layout.sample_layout` draws one
concrete layout (camera poses, objects, lights) from it with a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml

from vap_ros.errors import ConfigError

__all__ = ["CameraJitter", "CameraSpec", "SceneConfig", "DEFAULT_CAMERAS"]


@dataclass(frozen=True)
class CameraSpec:
    """A fixed camera aimed at a point (base-frame metres, vertical field of view in degrees)."""

    name: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float] = (0.32, 0.0, 0.3)
    fov_y_deg: float = 45.0


#: The default rig: front, left and right of the table, looking at the workspace.
DEFAULT_CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec("front", (1.7, 0.0, 0.95), fov_y_deg=50.0),
    CameraSpec("left", (0.6, 1.35, 0.85), fov_y_deg=50.0),
    CameraSpec("right", (0.5, -1.3, 1.0), fov_y_deg=50.0),
)


@dataclass(frozen=True)
class CameraJitter:
    """Per-episode random viewpoint changes around each camera's nominal pose.

    The eye moves on a sphere around the target (azimuth/elevation in degrees, distance in
    metres), the target moves in a cube, the field of view changes, and the camera rolls.
    Each value is the half-width of a uniform distribution.
    """

    azimuth_deg: float = 25.0
    elevation_deg: float = 10.0
    distance_m: float = 0.25
    target_m: float = 0.06
    fov_deg: float = 6.0
    roll_deg: float = 4.0


@dataclass(frozen=True)
class SceneConfig:
    """Options of a simulated tabletop scene.

    Attributes:
        robot: robot preset (only presets whose URDF MuJoCo can load: ``panda``).
        width, height: image size of the fixed cameras, pixels.
        cameras: fixed cameras (names become topic namespaces ``/<name>/image_raw``).
        wrist_camera: add a camera ``wrist`` on the hand (its optical frame is published
            relative to ``panda_hand``).
        randomize_cameras: jitter every fixed camera per episode (``camera_jitter``).
        objects: (min, max) number of coloured objects on the table.
        randomize_lighting: random light direction, intensity and ambient per episode.
        shadows: render shadows (about 3x slower on the CPU).
        msaa_samples: multisample anti-aliasing of the renders (0 = off, ~4x faster on
            the CPU; 4 = smooth edges).
        physics_hz: simulation steps per second; ``state_hz`` and ``camera_hz`` must divide it.
        state_hz: /joint_states rate (>= 100 for a Franka-like rig).
        camera_hz: image rate of every camera.
        markers: add invisible keypoint markers (geom group 5) for calibration checks.
        marker_radius_m: marker sphere radius.
    """

    robot: str = "panda"
    width: int = 128
    height: int = 128
    cameras: tuple[CameraSpec, ...] = DEFAULT_CAMERAS
    wrist_camera: bool = False
    randomize_cameras: bool = False
    camera_jitter: CameraJitter = field(default_factory=CameraJitter)
    objects: tuple[int, int] = (2, 4)
    randomize_lighting: bool = True
    shadows: bool = False
    msaa_samples: int = 4
    physics_hz: int = 500
    state_hz: int = 100
    camera_hz: int = 10
    markers: bool = True
    marker_radius_m: float = 0.015

    def __post_init__(self) -> None:
        if self.width <= 0 or self.height <= 0:
            raise ConfigError(f"image size must be positive, got {self.width}x{self.height}")
        names = [c.name for c in self.cameras] + (["wrist"] if self.wrist_camera else [])
        if not names:
            raise ConfigError("the scene needs at least one camera")
        if len(set(names)) != len(names):
            raise ConfigError(f"camera names must be unique, got {names}")
        for n in names:
            if not n.replace("_", "").isalnum() or not n[0].isalpha():
                raise ConfigError(f"camera name {n!r} must be a valid ROS name "
                                  "(letters, digits, '_', starting with a letter)")
        lo, hi = self.objects
        if not 0 <= lo <= hi <= 8:
            raise ConfigError(f"objects must be (min, max) with 0 <= min <= max <= 8, "
                              f"got {self.objects}")
        if self.msaa_samples not in (0, 1, 2, 4, 8):
            raise ConfigError(f"msaa_samples must be 0, 1, 2, 4 or 8, got {self.msaa_samples}")
        for what, hz in (("state_hz", self.state_hz), ("camera_hz", self.camera_hz)):
            if hz <= 0 or self.physics_hz % hz:
                raise ConfigError(f"{what}={hz} must be a positive divisor of "
                                  f"physics_hz={self.physics_hz}")
        if self.state_hz < self.camera_hz:
            raise ConfigError(f"state_hz={self.state_hz} must be >= camera_hz={self.camera_hz}")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras) + (("wrist",) if self.wrist_camera else ())

    @property
    def timestep_ns(self) -> int:
        if 1_000_000_000 % self.physics_hz:
            raise ConfigError(f"physics_hz={self.physics_hz} must divide 1e9 ns exactly")
        return 1_000_000_000 // self.physics_hz

    # ------------------------------------------------------------------ io
    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SceneConfig":
        """From plain data (a YAML mapping); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown scene options {unknown}; known: {sorted(known)}")
        kw = dict(d)
        try:
            if "cameras" in kw:
                kw["cameras"] = tuple(
                    CameraSpec(c["name"], tuple(map(float, c["eye"])),
                               tuple(map(float, c.get("target", (0.32, 0.0, 0.3)))),
                               float(c.get("fov_y_deg", 45.0)))
                    for c in kw["cameras"])
            if "camera_jitter" in kw:
                kw["camera_jitter"] = CameraJitter(**kw["camera_jitter"])
            if "objects" in kw:
                o = kw["objects"]
                kw["objects"] = (int(o), int(o)) if isinstance(o, int) else tuple(map(int, o))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"malformed scene config: {err!r}") from err
        return cls(**kw)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SceneConfig":
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"scene config not found: {str(p)!r}")
        data = yaml.safe_load(p.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"scene config {str(p)!r} must be a mapping")
        return cls.from_dict(data)

    def with_options(self, **kw) -> "SceneConfig":
        """A copy with some options changed (validated again)."""
        return replace(self, **kw)

"""What a simulated rig looks like: cameras, objects, lighting, rates, as validated dataclasses.

A :class:`SceneConfig` holds the *options*; :func:`vap_ros.sim.layout.sample_layout` draws one
concrete layout (camera poses, objects, lights) from it with a seeded RNG.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from vap_ros.config import StrictConfig, read_config_file, require

__all__ = ["DEFAULT_CAMERAS", "CameraJitter", "CameraSpec", "SceneConfig"]


@dataclass(frozen=True)
class CameraSpec(StrictConfig):
    """A fixed camera aimed at a point (base-frame metres, vertical field of view in degrees)."""

    name: str
    eye: tuple[float, float, float]
    target: tuple[float, float, float] = (0.32, 0.0, 0.3)
    fov_y_deg: float = 45.0

    def check(self) -> None:
        require(0 < self.fov_y_deg < 180, "fov_y_deg", self.fov_y_deg, "0 < degrees < 180")


#: The default rig: front, left and right of the table, looking at the workspace.
DEFAULT_CAMERAS: tuple[CameraSpec, ...] = (
    CameraSpec("front", (1.7, 0.0, 0.95), fov_y_deg=50.0),
    CameraSpec("left", (0.6, 1.35, 0.85), fov_y_deg=50.0),
    CameraSpec("right", (0.5, -1.3, 1.0), fov_y_deg=50.0),
)


@dataclass(frozen=True)
class CameraJitter(StrictConfig):
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

    def check(self) -> None:
        for name, value in self.to_dict().items():
            require(value >= 0, name, value, "a half-width >= 0")


def _count_is_range(value: Any) -> Any:
    """``objects: 3`` means exactly 3 (min = max)."""
    return (value, value) if isinstance(value, int) and not isinstance(value, bool) else value


@dataclass(frozen=True)
class SceneConfig(StrictConfig):
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
    objects: Annotated[tuple[int, int], _count_is_range] = (2, 4)
    randomize_lighting: bool = True
    shadows: bool = False
    msaa_samples: int = 4
    physics_hz: int = 500
    state_hz: int = 100
    camera_hz: int = 10
    markers: bool = True
    marker_radius_m: float = 0.015

    def check(self) -> None:
        require(self.width > 0, "width", self.width, "a positive image width (px)")
        require(self.height > 0, "height", self.height, "a positive image height (px)")
        names = list(self.camera_names)
        require(bool(names), "cameras", [], "at least one camera")
        require(len(set(names)) == len(names), "cameras", names, "unique camera names")
        for n in names:
            require(bool(n) and n.replace("_", "").isalnum() and n[0].isalpha(), "cameras", n,
                    "camera names that are valid ROS names (letters, digits, '_', starting "
                    "with a letter)")
        lo, hi = self.objects
        require(0 <= lo <= hi <= 8, "objects", self.objects, "[min, max] with 0 <= min <= max "
                "<= 8")
        require(self.msaa_samples in (0, 1, 2, 4, 8), "msaa_samples", self.msaa_samples,
                "0, 1, 2, 4 or 8")
        require(self.physics_hz > 0 and 1_000_000_000 % self.physics_hz == 0, "physics_hz",
                self.physics_hz, "a rate > 0 Hz that divides 1e9 ns exactly")
        for what, hz in (("state_hz", self.state_hz), ("camera_hz", self.camera_hz)):
            require(hz > 0 and self.physics_hz % hz == 0, what, hz,
                    f"a positive divisor of physics_hz={self.physics_hz}")
        require(self.state_hz >= self.camera_hz, "state_hz", self.state_hz,
                f">= camera_hz={self.camera_hz}")
        require(self.marker_radius_m > 0, "marker_radius_m", self.marker_radius_m, "> 0")

    @property
    def camera_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.cameras) + (("wrist",) if self.wrist_camera else ())

    @property
    def timestep_ns(self) -> int:
        return 1_000_000_000 // self.physics_hz

    # ------------------------------------------------------------------ io
    @classmethod
    def from_yaml(cls, path: str | Path) -> SceneConfig:
        """From a YAML file of options (unknown keys, wrong types, an empty file refused)."""
        return cls.from_dict(read_config_file(path, "scene config"), source=str(path))

    def with_options(self, **kw: Any) -> SceneConfig:
        """A copy with some options changed (validated again)."""
        return self.replace(**kw)

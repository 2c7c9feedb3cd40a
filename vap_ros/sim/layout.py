"""One concrete scene drawn from a :class:`SceneConfig` with a seeded RNG: camera poses, objects
and lights. A layout is plain data (JSON-able), so an episode can say exactly what it showed."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vap_ros.camera import Camera, look_at
from vap_ros.errors import ConfigError
from vap_ros.sim.config import CameraSpec, SceneConfig

__all__ = ["WORKSPACE", "LightSpec", "ObjectSpec", "SceneLayout", "sample_layout"]

#: Where objects are placed: x and y ranges in the robot base frame (metres); the table top
#: is the plane z = 0 of the base frame.
WORKSPACE = {"x": (0.38, 0.62), "y": (-0.22, 0.22)}

#: Distinct, saturated object colours (RGBA).
PALETTE = {
    "red": (0.85, 0.12, 0.10, 1.0),
    "green": (0.10, 0.70, 0.20, 1.0),
    "blue": (0.10, 0.30, 0.90, 1.0),
    "yellow": (0.95, 0.80, 0.10, 1.0),
    "orange": (0.98, 0.50, 0.05, 1.0),
    "purple": (0.55, 0.15, 0.75, 1.0),
    "cyan": (0.05, 0.75, 0.80, 1.0),
    "pink": (0.95, 0.40, 0.70, 1.0),
}


@dataclass(frozen=True)
class ObjectSpec:
    """A rigid object resting on the table.

    Attributes:
        name: body name (``obj0`` …); ``color`` a palette name.
        shape: ``box`` | ``cylinder`` | ``sphere``.
        size: MuJoCo geom size (box: half-extents; cylinder: radius, half-height; sphere:
            radius), metres.
        pos: (x, y, z) centre in the base frame, resting on the table.
        yaw: rotation about z, radians.
        mass_kg: mass.
    """

    name: str
    shape: str
    size: tuple[float, ...]
    pos: tuple[float, float, float]
    yaw: float
    color: str
    mass_kg: float

    @property
    def rgba(self) -> tuple[float, float, float, float]:
        return PALETTE[self.color]

    @property
    def half_height(self) -> float:
        return {"box": self.size[2] if len(self.size) > 2 else 0.0,
                "cylinder": self.size[1] if len(self.size) > 1 else 0.0,
                "sphere": self.size[0]}[self.shape]

    @property
    def grasp_half_width(self) -> float:
        """Half the width the gripper closes on (box: along its local y; round: radius)."""
        return self.size[1] if self.shape == "box" else self.size[0]


@dataclass(frozen=True)
class LightSpec:
    """A directional light: ``direction`` it shines along, diffuse and ambient intensity."""

    direction: tuple[float, float, float]
    diffuse: float
    ambient: float


@dataclass(frozen=True)
class SceneLayout:
    """A concrete scene: the fixed cameras (calibrated), the objects and the light."""

    cameras: tuple[Camera, ...]
    objects: tuple[ObjectSpec, ...]
    light: LightSpec

    def to_dict(self) -> dict:
        from vap_ros.camera import camera_to_dict

        return {
            "cameras": [camera_to_dict(c) for c in self.cameras],
            "objects": [asdict(o) for o in self.objects],
            "light": asdict(self.light),
        }


def _rot_z(a: float) -> np.ndarray:
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _camera(spec: CameraSpec, cfg: SceneConfig, rng: np.random.Generator | None) -> Camera:
    eye = np.asarray(spec.eye, np.float64)
    target = np.asarray(spec.target, np.float64)
    fov, roll = spec.fov_y_deg, 0.0
    if rng is not None:
        j = cfg.camera_jitter
        u = lambda h: float(rng.uniform(-h, h))
        target = target + np.array([u(j.target_m), u(j.target_m), u(j.target_m)])
        rel = eye - np.asarray(spec.target, np.float64)
        dist = float(np.linalg.norm(rel))
        az = np.arctan2(rel[1], rel[0]) + np.radians(u(j.azimuth_deg))
        el = np.arcsin(np.clip(rel[2] / dist, -1, 1)) + np.radians(u(j.elevation_deg))
        el = float(np.clip(el, np.radians(8.0), np.radians(75.0)))
        dist = max(0.6, dist + u(j.distance_m))
        eye = target + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                                        np.sin(el)])
        fov = spec.fov_y_deg + u(j.fov_deg)
        roll = np.radians(u(j.roll_deg))
    cam = look_at(spec.name, eye, target, width=cfg.width, height=cfg.height, fov_y_deg=fov,
                  base_frame="panda_link0")
    if roll:
        T_base_cam = cam.T_base_cam
        T_base_cam[:3, :3] = T_base_cam[:3, :3] @ _rot_z(roll)
        from dataclasses import replace

        cam = replace(cam, T_cam_base=np.linalg.inv(T_base_cam))
    return cam


def _objects(cfg: SceneConfig, rng: np.random.Generator) -> tuple[ObjectSpec, ...]:
    lo, hi = cfg.objects
    n = int(rng.integers(lo, hi + 1))
    colors = rng.permutation(list(PALETTE))[:n]
    placed: list[np.ndarray] = []
    out = []
    for i in range(n):
        shape = str(rng.choice(["box", "box", "cylinder", "sphere"]))
        size: tuple[float, ...]
        if shape == "box":
            size = (float(rng.uniform(0.018, 0.03)), float(rng.uniform(0.018, 0.028)),
                    float(rng.uniform(0.02, 0.035)))
        elif shape == "cylinder":
            size = (float(rng.uniform(0.018, 0.027)), float(rng.uniform(0.02, 0.035)))
        else:
            size = (float(rng.uniform(0.022, 0.03)),)
        for _attempt in range(200):
            xy = np.array([rng.uniform(*WORKSPACE["x"]), rng.uniform(*WORKSPACE["y"])])
            if all(np.linalg.norm(xy - p) > 0.11 for p in placed):
                break
        else:
            raise ConfigError(f"cannot place {n} objects 0.11 m apart in the workspace")
        placed.append(xy)
        spec = ObjectSpec(f"obj{i}", shape, size, (0.0, 0.0, 0.0),
                          float(rng.uniform(-np.pi / 2, np.pi / 2)), str(colors[i]),
                          float(rng.uniform(0.05, 0.15)))
        out.append(ObjectSpec(spec.name, shape, size,
                              (float(xy[0]), float(xy[1]), spec.half_height),
                              spec.yaw, spec.color, spec.mass_kg))
    return tuple(out)


def _light(cfg: SceneConfig, rng: np.random.Generator) -> LightSpec:
    if not cfg.randomize_lighting:
        return LightSpec((-0.3, 0.2, -1.0), 0.7, 0.3)
    az = rng.uniform(-np.pi, np.pi)
    el = rng.uniform(np.radians(45), np.radians(80))
    d = -np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)])
    return LightSpec((float(d[0]), float(d[1]), float(d[2])), float(rng.uniform(0.5, 0.85)),
                     float(rng.uniform(0.2, 0.4)))


def sample_layout(cfg: SceneConfig, rng: np.random.Generator) -> SceneLayout:
    """Draw cameras (jittered if ``cfg.randomize_cameras``), objects and light.

    The draws happen in a fixed order from ``rng``, so a seed fixes the whole layout.
    """
    cam_rng = rng if cfg.randomize_cameras else None
    cameras = tuple(_camera(c, cfg, cam_rng) for c in cfg.cameras)
    objects = _objects(cfg, rng)
    light = _light(cfg, rng)
    return SceneLayout(cameras, objects, light)

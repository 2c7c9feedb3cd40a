"""Refine or score the calibration of a bag's cameras (the library side of
``vap-ros calibrate``)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from vap_ros.calib.frames import CalibrationFrames, load_frames
from vap_ros.calib.refine import RefineResult, refine_camera
from vap_ros.calib.report import mesh_renderer, recorded_geometry
from vap_ros.calib.score import AlignmentScore, alignment_score
from vap_ros.errors import ConfigError

__all__ = ["check_bag", "refine_bag"]


def _geometry(bag, geometry: str | None) -> str:
    if geometry in (None, "auto"):
        return recorded_geometry(bag)
    if geometry not in ("visual", "collision"):
        raise ConfigError(f"geometry must be auto, visual or collision, got {geometry!r}")
    return geometry


def refine_bag(bag: str | Path, camera: str, *, config=None, initial: str | Path | None = None,
               frames: int = 60, intrinsics: bool = False, distortion: bool = False,
               geometry: str | None = None, progress: bool = True, restarts: int = 2
               ) -> tuple[RefineResult, CalibrationFrames]:
    """Refine camera ``camera`` of ``bag`` from its own images and joint states.

    Args:
        config: rig config (preset name, YAML path, mapping; default ``sim``).
        initial: calibration YAML to start from (default: the bag's camera_info + TF).
        frames: at most this many images (the most distinct robot poses).
        intrinsics: also refine focal length and principal point.
        distortion: also refine the lens's first radial distortion coefficient k1.
        geometry: robot meshes to render: ``visual``, ``collision`` or ``auto`` (the
            collision meshes for bags of the simulated rig, else the visual ones).
        restarts: restarts whose answers must agree for a high confidence
            (``refine_camera``).

    Returns:
        (result, the frames used).

    Raises:
        ConfigError: bad arguments or a camera the bag does not have.
        TooFewMovingFramesError / RobotNotInViewError / CameraMovedError: refusals.
        BagError / CalibrationError / JointStateError: the bag cannot be used.
    """
    from vap_ros.data.config import load_rig_config

    if frames < 2:
        raise ConfigError(f"--frames must be >= 2, got {frames}")
    if restarts < 0:
        raise ConfigError(f"--restarts must be >= 0, got {restarts}")
    cfg = load_rig_config(config)
    renderer = mesh_renderer(cfg.robot, _geometry(bag, geometry))
    fr = load_frames(bag, camera, config=cfg, initial=initial, frames=frames,
                     robot=renderer.robot)
    return refine_camera(fr, renderer, intrinsics=intrinsics, distortion=distortion,
                         progress=progress, restarts=restarts), fr


def check_bag(bag: str | Path, cameras: Sequence[str] | None = None, *, config=None,
              calibration: str | Path | None = None, frames: int = 24,
              geometry: str | None = None) -> dict[str, AlignmentScore | Exception]:
    """The alignment score of each camera's calibration (the bag's, or ``calibration``'s).
    A camera the images cannot judge maps to its refusal (an exception instance)."""
    from vap_ros.calib.errors import RefinementRefused
    from vap_ros.data.bag import BagReader
    from vap_ros.data.config import load_rig_config
    from vap_ros.data.recording import resolve_cameras

    cfg = load_rig_config(config)
    renderer = mesh_renderer(cfg.robot, _geometry(bag, geometry))
    if not cameras:
        with BagReader(bag) as reader:
            cameras = [s.name for s in resolve_cameras(reader, cfg)]
    out: dict[str, AlignmentScore | Exception] = {}
    for name in cameras:
        try:
            fr = load_frames(bag, name, config=cfg, initial=calibration, frames=frames,
                             robot=renderer.robot)
            out[name] = alignment_score(fr, renderer, check=True)
        except RefinementRefused as err:
            out[name] = err
    return out

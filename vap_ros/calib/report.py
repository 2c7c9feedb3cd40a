"""What people look at: before/after overlays, and the alignment report of a recording (the
hook ``dataset build`` and ``prompts render`` call)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Sequence

import cv2
import numpy as np
import yaml

from vap_ros.calib.errors import RefinementRefused
from vap_ros.calib.frames import CalibrationFrames, frames_from_recording
from vap_ros.camera import Camera
from vap_ros.errors import VapError

__all__ = ["alignment_report", "format_alignment", "mesh_renderer", "outline_sheet",
           "recorded_geometry", "refine_recording"]

#: Frames per camera the alignment report looks at.
REPORT_FRAMES = 24


def recorded_geometry(bag: str | Path) -> str:
    """Which URDF geometry the robot in a recording looks like: ``collision`` for bags the
    simulated rig wrote (``vap_ros.sim`` renders the collision meshes; its metadata carries
    ``custom_data['vap_ros.episode']``), ``visual`` for everything else (a real robot)."""
    p = Path(bag)
    meta = p / "metadata.yaml" if p.is_dir() else p.parent / "metadata.yaml"
    try:
        doc = yaml.safe_load(meta.read_text())
        custom = doc["rosbag2_bagfile_information"].get("custom_data") or {}
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError):
        return "visual"
    return "collision" if "vap_ros.episode" in custom else "visual"


@functools.lru_cache(maxsize=4)
def mesh_renderer(preset: str, geometry: str):
    """A ``MeshRenderer`` per (robot preset, geometry), built once per process."""
    from vap_ros.prompts.mesh import MeshRenderer

    return MeshRenderer.from_preset(preset, geometry=geometry)


def outline_sheet(frames: CalibrationFrames, renderer, cameras: Sequence[tuple[str, Camera,
                  tuple[int, int, int]]], path: str | Path, n: int = 4) -> Path:
    """A PNG of ``n`` frames (spread over the selection) with the rendered robot outline of
    each calibration drawn in its colour (RGB) and a legend; returns the path."""
    T = len(frames)
    pick = np.unique(np.linspace(0, T - 1, min(n, T)).round().astype(int))
    H, W = frames.images.shape[1:3]
    scale = max(1, int(round(384 / max(H, W))))
    tiles = []
    for t in pick:
        img = cv2.resize(frames.images[t], (W * scale, H * scale),
                         interpolation=cv2.INTER_NEAREST if scale > 1 else cv2.INTER_AREA)
        for _, cam, color in cameras:
            c = cam.scaled(W * scale, H * scale)
            sil = renderer.render(frames.arm_q[t:t + 1], [c], frames.gripper_width_m[t:t + 1]
                                  ).silhouette[0, 0].astype(np.uint8)
            edge = cv2.morphologyEx(sil, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
            img[edge] = color
        tiles.append(img)
    sheet = np.concatenate(tiles, axis=1)
    bar = np.full((28, sheet.shape[1], 3), 255, np.uint8)
    x = 8
    for label, _, color in cameras:
        cv2.rectangle(bar, (x, 8), (x + 14, 20), tuple(int(v) for v in color), -1)
        cv2.putText(bar, label, (x + 20, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1,
                    cv2.LINE_AA)
        x += 30 + 9 * len(label)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), cv2.cvtColor(np.concatenate([bar, sheet], axis=0), cv2.COLOR_RGB2BGR))
    return out


def alignment_report(reader, rec, robot, preset: str, *, geometry: str | None = None,
                     frames: int = REPORT_FRAMES) -> dict[str, Any]:
    """Per camera of an open recording: the alignment score of its calibration
    (``score.AlignmentScore.to_dict()``), or ``{"error": ...}`` when the images cannot tell
    (too few moving frames, robot out of view, a moving camera). Never raises for a camera.
    """
    from vap_ros.calib.score import alignment_score

    geometry = geometry or recorded_geometry(rec.path)
    out: dict[str, Any] = {}
    try:
        renderer = mesh_renderer(preset, geometry)
    except VapError as err:
        return {"_error": f"{type(err).__name__}: {err}"}
    for stream in rec.cameras:
        try:
            fr = frames_from_recording(reader, rec, stream, robot, frames)
            score = alignment_score(fr, renderer, check=True)
            out[stream.name] = {**score.to_dict(), "geometry": geometry}
        except RefinementRefused as err:
            out[stream.name] = {"error": str(err), "cause": err.cause}
        except VapError as err:
            out[stream.name] = {"error": f"{type(err).__name__}: {err}"}
    return out


def refine_recording(reader, rec, robot, preset: str, *, geometry: str | None = None,
                     frames: int = 60, progress: bool = True) -> dict[str, Any]:
    """Refine every camera of an open recording in place (``stream.camera`` is replaced by
    the refined calibration). Per camera: ``RefineResult.summary()``, or ``{"error": ...}``
    when it is refused (the calibration is then left as it was)."""
    from dataclasses import replace

    from vap_ros.calib.refine import refine_camera

    geometry = geometry or recorded_geometry(rec.path)
    renderer = mesh_renderer(preset, geometry)
    out: dict[str, Any] = {}
    for stream in rec.cameras:
        try:
            fr = frames_from_recording(reader, rec, stream, robot, frames)
            res = refine_camera(fr, renderer, progress=progress)
        except RefinementRefused as err:
            out[stream.name] = {"error": str(err), "cause": err.cause}
            continue
        native = stream.camera
        stream.camera = replace(res.camera.scaled(native.width, native.height),
                                name=native.name)
        out[stream.name] = res.summary()
    return out


def format_alignment(alignment: dict[str, Any] | None, bag: str = "BAG") -> list[str]:
    """Report lines for ``alignment_report``'s result: one per camera, misaligned cameras
    named with the command that refines them."""
    if not alignment:
        return []
    lines = []
    for name, a in alignment.items():
        if name == "_error":
            lines.append(f"  alignment: not measured: {a}")
        elif "error" in a:
            lines.append(f"  alignment {name}: not measured: {a['error']}")
        else:
            verdict = "ok" if a["ok"] else (
                f"MISALIGNED (> {a['threshold_px256']:g} px at 256 px): run `vap-ros "
                f"calibrate refine {bag} --camera {name} --out {name}.yaml`")
            lines.append(f"  alignment {name}: outline error {a['error_px']:.2f} px "
                         f"({a['error_px256']:.2f} px at 256 px), change IoU {a['iou']:.2f}: "
                         f"{verdict}")
    return lines

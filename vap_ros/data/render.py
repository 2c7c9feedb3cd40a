"""Prompt and overlay PNGs for every image of a bag: the tool to check a calibration by eye.

``DIR/<camera>/<index:06d>_prompt.png`` is the prompt of the config's ``prompt_type`` (skeleton
by default; black background, the image's size) rendered from the logged joint states at the
image's stamp; ``<index:06d>_overlay.png`` draws it over the image. ``index`` is the image's
position on its topic in the bag.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vap_ros.data.bag import BagReader
from vap_ros.data.config import load_rig_config
from vap_ros.data.messages import image_to_rgb
from vap_ros.data.recording import read_recording
from vap_ros.data.sync import _joint_gap
from vap_ros.errors import BagError, ImageError

__all__ = ["render_bag_prompts"]


def render_bag_prompts(bag: str | Path, out: str | Path, config=None, *,
                       calibration: str | Path | None = None, progress: bool = True,
                       every: int = 1, refine_calibration: bool = False) -> dict[str, Any]:
    """Write prompt + overlay PNGs for every ``every``-th image of every camera.

    With ``refine_calibration`` each camera's calibration is first refined from the images
    (``vap_ros.calib``; written to ``out/calibration.yaml``).

    Returns a summary: {camera: {topic, images, written, skipped{reason: n}}}, warnings, out,
    alignment (per-camera score of the calibration used), refined (with
    ``refine_calibration``).

    Raises:
        BagError / CalibrationError / JointStateError: the bag cannot be used at all.
    """
    from tqdm import tqdm

    from vap_ros.data.build import prompt_renderer
    from vap_ros.prompts import overlay

    cfg = load_rig_config(config)
    renderer = prompt_renderer(cfg.robot, cfg.prompt_type)
    out = Path(out)
    max_js = int(cfg.sync.max_joint_gap_ms * 1e6)
    summary: dict[str, Any] = {"bag": str(bag), "out": str(out), "cameras": {}}
    with BagReader(bag) as reader:
        rec = read_recording(reader, cfg, renderer.robot, calibration=calibration)
        summary["warnings"] = rec.warnings
        from vap_ros.calib.report import alignment_report, refine_recording

        if refine_calibration:
            from vap_ros.camera import save_calibration

            summary["refined"] = refine_recording(reader, rec, renderer.robot, cfg.robot,
                                                  progress=progress)
            save_calibration([c.calibrated() for c in rec.cameras], out / "calibration.yaml")
        summary["alignment"] = alignment_report(reader, rec, renderer.robot, cfg.robot)
        by_topic = {c.topic: c for c in rec.cameras}
        stats: dict[str, dict[str, Any]] = {
            c.name: {"topic": c.topic, "images": int(c.stamps_ns.size), "written": 0,
                     "skipped": Counter()} for c in rec.cameras}
        for c in rec.cameras:
            (out / c.name).mkdir(parents=True, exist_ok=True)
        total = sum(int(c.stamps_ns.size) for c in rec.cameras)
        bar = tqdm(total=total, desc="prompts", unit="image", disable=not progress)
        try:
            for topic, i, _, raw in reader.read(by_topic):
                cs = by_topic[topic]
                bar.update(1)
                st = stats[cs.name]
                if i % every:
                    continue
                stamp = int(cs.stamps_ns[i]) if i < cs.stamps_ns.size else -1
                if stamp < 0:
                    st["skipped"]["unreadable header stamp"] += 1
                    continue
                if _joint_gap(rec.logged.stamps_ns, np.array([stamp]))[0] > max_js:
                    st["skipped"][f"no joint states within {cfg.sync.max_joint_gap_ms:g} ms"] += 1
                    continue
                try:
                    img = image_to_rgb(reader.deserialize(raw, cs.msgtype), cs.msgtype)
                except ImageError as err:
                    st["skipped"][f"image not decodable: {err}"] += 1
                    continue
                except Exception as err:  # noqa: BLE001 - serde errors: a corrupt message
                    st["skipped"][f"corrupt image message ({type(err).__name__})"] += 1
                    continue
                cam = cs.calibrated()
                if img.shape[:2] != (cam.height, cam.width):
                    note = (f"{cs.name}: images are {img.shape[1]}x{img.shape[0]}, the "
                            f"calibration {cam.width}x{cam.height}: intrinsics scaled")
                    if note not in summary["warnings"]:
                        summary["warnings"].append(note)
                    cam = cam.scaled(img.shape[1], img.shape[0])
                s = rec.logged.sample([stamp])
                prompt = renderer.render(s.positions, [cam], s.gripper_width_m,
                                         size=img.shape[:2])[0, 0]
                base = out / cs.name / f"{i:06d}"
                cv2.imwrite(f"{base}_prompt.png", cv2.cvtColor(prompt, cv2.COLOR_RGB2BGR))
                cv2.imwrite(f"{base}_overlay.png",
                            cv2.cvtColor(overlay(img, prompt), cv2.COLOR_RGB2BGR))
                st["written"] += 1
        except BagError as err:
            summary["warnings"].append(f"stopped early: {err}")
        finally:
            bar.close()
    for name, st in stats.items():
        st["skipped"] = {k: v for k, v in st["skipped"].items() if v}
        summary["cameras"][name] = st
    return summary

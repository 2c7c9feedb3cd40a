"""Render the prompt and overlay PNGs of every frame of a recorded episode."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vap_ros.prompts.overlay import overlay
from vap_ros.prompts.skeleton import SkeletonRenderer

__all__ = ["render_episode_overlays"]


def render_episode_overlays(episode, out_dir: str | Path, renderer: SkeletonRenderer | None = None,
                            *, progress: bool = True) -> dict:
    """Write ``<index:06d>_prompt.png`` and ``<index:06d>_overlay.png`` per frame, plus a
    contact sheet ``contact_sheet.png``. Returns a summary dict."""
    from tqdm import tqdm

    renderer = renderer or SkeletonRenderer.from_preset("panda")
    out = Path(out_dir) / episode.camera.name
    out.mkdir(parents=True, exist_ok=True)
    prompts = renderer.render(episode.joint_positions, [episode.camera])[0]
    sheet: list[np.ndarray] = []
    step = max(1, len(episode) // 12)
    for i in tqdm(range(len(episode)), desc="overlays", disable=not progress, unit="frame"):
        img = episode.image(i)
        ov = overlay(img, prompts[i])
        cv2.imwrite(str(out / f"{i:06d}_prompt.png"), cv2.cvtColor(prompts[i], cv2.COLOR_RGB2BGR))
        cv2.imwrite(str(out / f"{i:06d}_overlay.png"), cv2.cvtColor(ov, cv2.COLOR_RGB2BGR))
        if i % step == 0 and len(sheet) < 12:
            sheet.append(ov)
    while len(sheet) % 4:
        sheet.append(np.zeros_like(sheet[0]))
    rows = [np.concatenate(sheet[r:r + 4], axis=1) for r in range(0, len(sheet), 4)]
    sheet_path = Path(out_dir) / f"{episode.camera.name}_contact_sheet.png"
    cv2.imwrite(str(sheet_path), cv2.cvtColor(np.concatenate(rows, axis=0), cv2.COLOR_RGB2BGR))
    return {"frames": len(episode), "out_dir": str(out), "contact_sheet": str(sheet_path)}

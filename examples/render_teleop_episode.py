"""Render the skeleton prompt and an overlay for every frame of the real teleoperated Panda
episode (shared/data/real/panda_teleop_episode), to check the calibration by eye.

    python examples/render_teleop_episode.py [EPISODE_DIR] [OUT_DIR]

Writes OUT_DIR/camera/<index:06d>_prompt.png, <index:06d>_overlay.png and a contact sheet.
"""

import sys
from pathlib import Path

from vap_ros.data.panda_dataset import load_panda_episode
from vap_ros.prompts import SkeletonRenderer
from vap_ros.prompts.episode import render_episode_overlays

repo = Path(__file__).resolve().parents[1]
episode_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else (
    repo.parent / "shared" / "data" / "real" / "panda_teleop_episode")
out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else repo / "out" / "teleop_overlays"

episode = load_panda_episode(episode_dir)
summary = render_episode_overlays(episode, out_dir, SkeletonRenderer.from_preset("panda"))
print(f"{summary['frames']} frames -> {summary['out_dir']}; contact sheet "
      f"{summary['contact_sheet']}")

"""A ``panda_dataset`` episode (PNG frames + info.json, e.g. the real teleop episode in
``shared/data/real``) as a rosbag2 MCAP, written with the repository's bag writer.

Topics as a real rig records them: ``/joint_states`` (the 7 arm joints at the episode's rate),
``/<camera>/image_raw`` + ``camera_info`` and ``/tf_static`` (``panda_link0`` → the camera's
optical frame, from the episode's calibration or a given ``Camera``). The episode repeats an
image (under a new file name) until the next one arrives (a slower camera); each distinct
image is written once, at the stamp of the step that first shows it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vap_ros.camera import Camera

__all__ = ["episode_to_bag"]


def episode_to_bag(episode_dir: str | Path, out: str | Path, *, camera: Camera | None = None,
                   progress: bool = False) -> dict:
    """Write the episode as a bag folder ``out`` (which must not exist).

    Args:
        episode_dir: folder with ``info.json`` and the PNG frames.
        camera: the calibration to publish (default: the episode's own).

    Returns:
        {"bag", "images", "joint_states", "camera"}.
    """
    from tqdm import tqdm

    from vap_ros.data.panda_dataset import load_panda_episode
    from vap_ros.sim.bag import EpisodeBagWriter

    ep = load_panda_episode(episode_dir)
    cam = camera or ep.camera
    names = [f"panda_joint{i}" for i in range(1, 8)]
    zeros = np.zeros(7)
    firsts, prev = [], None
    for i in range(len(ep)):  # a repeated frame is the same exposure: keep its first step
        img = ep.image(i)
        if prev is None or not np.array_equal(img, prev):
            firsts.append(i)
        prev = img
    with EpisodeBagWriter(out, [cam.name], metadata=None) as bag:
        t0 = int(ep.stamps_ns[0])
        bag.write_tf_static(t0, [(cam.base_frame or "panda_link0", cam.frame_id,
                                  cam.T_base_cam)])
        first = set(firsts)
        for i in tqdm(range(len(ep)), desc="steps", disable=not progress, unit="step"):
            stamp = int(ep.stamps_ns[i])
            bag.write_joint_state(stamp, names, ep.joint_positions[i], zeros, zeros)
            if i in first:
                bag.write_image(stamp, cam, ep.image(i))
    return {"bag": str(out), "images": len(firsts), "joint_states": len(ep), "camera": cam.name}

"""The real teleoperated Panda episode: projected skeleton vs an independent reference.

The reference uses neither pinocchio nor OpenCV: Franka's documented modified-DH parameters
give the link frames, and a hand-written Rodrigues + pinhole projection maps them to pixels.
"""

import numpy as np

from vap_ros.data.panda_dataset import load_panda_episode
from vap_ros.prompts.episode import render_episode_overlays

# Franka Emika Panda, modified DH (Craig): a_{i-1}, d_i, alpha_{i-1}; then the flange.
DH_A = [0.0, 0.0, 0.0, 0.0825, -0.0825, 0.0, 0.088, 0.0]
DH_D = [0.333, 0.0, 0.316, 0.0, 0.384, 0.0, 0.0, 0.107]
DH_ALPHA = [0.0, -np.pi / 2, np.pi / 2, np.pi / 2, -np.pi / 2, np.pi / 2, np.pi / 2, 0.0]


def dh_link_frames(q):
    """T_base_link_i for i = 1..8 (8 = flange) of one configuration."""
    T = np.eye(4)
    out = []
    for i in range(8):
        theta = q[i] if i < 7 else 0.0
        ca, sa = np.cos(DH_ALPHA[i]), np.sin(DH_ALPHA[i])
        ct, st = np.cos(theta), np.sin(theta)
        step = np.array([[ct, -st, 0, DH_A[i]],
                         [st * ca, ct * ca, -sa, -sa * DH_D[i]],
                         [st * sa, ct * sa, ca, ca * DH_D[i]],
                         [0, 0, 0, 1]])
        T = T @ step
        out.append(T.copy())
    return out


def rodrigues(rvec):
    th = np.linalg.norm(rvec)
    k = rvec / th
    Kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(th) * Kx + (1 - np.cos(th)) * Kx @ Kx


def test_projected_skeleton_matches_independent_reference(real_data, renderer):
    import json

    ep_dir = real_data / "panda_teleop_episode"
    ep = load_panda_episode(ep_dir)
    info = json.loads((ep_dir / "info.json").read_text())["calibration_info"]
    K = np.array(info["intrinsic"])
    rvec, tvec = np.array(info["extrinsic"][0][:3]), np.array(info["extrinsic"][0][3:])
    R = rodrigues(rvec)
    spec = renderer.spec
    # keypoint name -> (link index 1..8, offset in that link frame)
    checks = {"shoulder": (1, [0, 0, 0]), "upper_arm": (3, [0, 0, 0]), "elbow": (4, [0, 0, 0]),
              "forearm": (5, [0, 0, -0.1]), "wrist": (6, [0, 0, 0]),
              "wrist_flange": (7, [0, 0, 0]), "flange": (8, [0, 0, 0])}
    idx = [spec.index(n) for n in checks]
    kps = renderer.keypoints(ep.joint_positions)
    uv = ep.camera.project(kps).uv  # (T, K, 2)
    max_err = 0.0
    in_image = 0
    for t in range(0, len(ep), 5):
        frames = dh_link_frames(ep.joint_positions[t])
        for j, (link, off) in zip(idx, checks.values()):
            p = frames[link - 1] @ np.r_[off, 1.0]
            pc = R @ p[:3] + tvec
            ref = (K @ (pc / pc[2]))[:2]
            max_err = max(max_err, float(np.linalg.norm(uv[t, j] - ref)))
            in_image += bool(0 <= ref[0] < 320 and 0 <= ref[1] < 240)
    assert max_err < 0.5, max_err
    # The arm is in view: (nearly) all checked keypoints project into the 320x240 image.
    assert in_image >= 0.95 * len(range(0, len(ep), 5)) * len(checks)


def test_episode_overlays_written(real_data, renderer, tmp_path):
    ep = load_panda_episode(real_data / "panda_teleop_episode")
    assert len(ep) == 275 and (ep.camera.width, ep.camera.height) == (320, 240)
    # Render a short slice to keep the test quick; the example renders all frames.
    ep.image_files, ep.joint_positions = ep.image_files[:6], ep.joint_positions[:6]
    summary = render_episode_overlays(ep, tmp_path, renderer, progress=False)
    files = sorted((tmp_path / "camera").iterdir())
    assert [f.name for f in files][:2] == ["000000_overlay.png", "000000_prompt.png"]
    assert len(files) == 12 and summary["frames"] == 6
    import cv2
    prompt = cv2.imread(str(tmp_path / "camera" / "000003_prompt.png"))
    assert prompt.shape == (240, 320, 3) and prompt.max() == 255

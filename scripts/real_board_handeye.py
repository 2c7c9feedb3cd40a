"""An independent calibration of the real teleop episode's camera, to judge the published one
(docs/calibration.md, "The real episode: three calibrations").

The robot holds a checkerboard (9 x 6 inner corners) in its gripper in every image of
``shared/data/real/panda_teleop_episode``. Its corners (OpenCV ``findChessboardCornersSB`` on
the 2x upsampled image) and the robot's FK give a robot-world hand-eye problem: the camera pose
X (base -> camera), the board's pose Y in the hand frame and the square size s are fitted
together by the corners' reprojection error (scipy ``least_squares``, soft-L1), with the
published intrinsics. The script prints the fit's residuals, and how far the published
calibration and ``calibrate refine``'s answers (from ``--trials`` perturbed starts) project
the robot's joint origins from this one (median px at 320 x 240, the issue's measure).

    python scripts/real_board_handeye.py [--trials 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

PATTERN = (9, 6)
EPISODE = Path(__file__).resolve().parents[2] / "shared" / "data" / "real" / "panda_teleop_episode"


def _se3(v: np.ndarray) -> np.ndarray:
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(v[:3]).as_matrix()
    T[:3, 3] = v[3:6]
    return T


def _vec(T: np.ndarray) -> np.ndarray:
    return np.r_[Rotation.from_matrix(T[:3, :3]).as_rotvec(), T[:3, 3]]


def _project(K: np.ndarray, T: np.ndarray, P: np.ndarray) -> np.ndarray:
    p = P @ T[:3, :3].T + T[:3, 3]
    uv = p @ K.T
    return uv[:, :2] / uv[:, 2:3]


def board_calibration(ep, robot) -> dict:
    """Fit X, Y, s to the board corners of every distinct image (see the module docstring)."""
    K = ep.camera.K
    grid = np.zeros((PATTERN[0] * PATTERN[1], 3))
    grid[:, :2] = np.mgrid[0:PATTERN[0], 0:PATTERN[1]].T.reshape(-1, 2)
    corners, qs, prev = [], [], None
    for i in range(len(ep)):
        img = ep.image(i)
        if prev is not None and np.array_equal(img, prev):
            continue  # a repeated frame: the same exposure
        prev = img
        gray = cv2.resize(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), None, fx=2, fy=2,
                          interpolation=cv2.INTER_CUBIC)
        ok, c = cv2.findChessboardCornersSB(
            gray, PATTERN, flags=cv2.CALIB_CB_NORMALIZE_IMAGE | cv2.CALIB_CB_EXHAUSTIVE
            | cv2.CALIB_CB_ACCURACY)
        if ok:
            corners.append((c.reshape(-1, 2) + 0.5) / 2 - 0.5)
            qs.append(ep.joint_positions[i])
    if len(corners) < 6:
        raise SystemExit(f"the board was found in {len(corners)} images: need >= 6")
    hand = robot.frame_poses(np.asarray(qs), ["panda_hand"])[:, 0]
    X0 = ep.camera.T_cam_base
    s0 = 0.02
    ok, r, t = cv2.solvePnP(grid * s0, corners[0], K, None)
    A0 = np.eye(4)
    A0[:3, :3], A0[:3, 3] = cv2.Rodrigues(r)[0], t.ravel()
    Y0 = np.linalg.inv(hand[0]) @ np.linalg.inv(X0) @ A0
    # the 9 x 6 pattern reads the same turned by 180 deg: per image, the corner order that
    # agrees with the first image's board pose
    ordered = []
    for k, c in enumerate(corners):
        pred = _project(K, X0 @ hand[k] @ Y0, grid * s0)
        ordered.append(min((c, c[::-1]), key=lambda o: np.linalg.norm(pred - o, axis=1).mean()))

    def residual(x):
        X, Y = _se3(x[:6]), _se3(x[6:12])
        return np.concatenate([(_project(K, X @ hand[k] @ Y, grid * x[12]) - c).ravel()
                               for k, c in enumerate(ordered)])

    sol = least_squares(residual, np.r_[_vec(X0), _vec(Y0), s0], loss="soft_l1", f_scale=1.0)
    err = np.linalg.norm(residual(sol.x).reshape(-1, 2), axis=1)
    return {"T_cam_base": _se3(sol.x[:6]), "square_m": float(sol.x[12]),
            "images": len(ordered), "corner_px_median": float(np.median(err)),
            "corner_px_rms": float(np.sqrt((err ** 2).mean())),
            "corner_px_worst_image": float(err.reshape(len(ordered), -1).mean(1).max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episode", default=str(EPISODE))
    ap.add_argument("--trials", type=int, default=3, help="refinements from perturbed starts")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()

    import tempfile

    from vap_ros.calib.episode_bag import episode_to_bag
    from vap_ros.calib.experiment import JOINT_FRAMES
    from vap_ros.calib.frames import load_frames
    from vap_ros.calib.refine import camera_change, perturb_camera, refine_camera
    from vap_ros.calib.report import mesh_renderer
    from vap_ros.calib.score import alignment_score
    from vap_ros.data.panda_dataset import load_panda_episode

    ep = load_panda_episode(args.episode)
    renderer = mesh_renderer("panda", "visual")
    board = board_calibration(ep, renderer.robot)
    published = ep.camera
    board_cam = replace(published, T_cam_base=board.pop("T_cam_base"))
    origins = renderer.robot.frame_poses(ep.joint_positions, list(JOINT_FRAMES))[..., :3, 3]

    def px(a, b) -> float:
        pa, pb = a.project(origins), b.project(origins)
        return float(np.median(np.linalg.norm(pa.uv - pb.uv, axis=-1)[pb.visible]))

    with tempfile.TemporaryDirectory() as tmp:
        episode_to_bag(args.episode, Path(tmp) / "bag")
        fr = load_frames(Path(tmp) / "bag", published.name, frames=60, robot=renderer.robot)
    out = {"board": board,
           "published_vs_board_px": px(published, board_cam),
           "published_vs_board_mm_deg": list(camera_change(published, board_cam)),
           "silhouette_score_px256": {
               "published": alignment_score(fr, renderer).error_px256,
               "board": alignment_score(replace(fr, camera=board_cam), renderer).error_px256},
           "refined": []}
    for i in range(args.trials):
        start = perturb_camera(published, np.random.default_rng([0, i]))
        res = refine_camera(replace(fr, camera=start), renderer, progress=False, restarts=0)
        out["refined"].append({"trial": i, "vs_published_px": px(res.camera, published),
                               "vs_board_px": px(res.camera, board_cam),
                               "score_px256": res.score_after.error_px256
                               if res.score_after is not None else None})
    print(json.dumps(out, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()

"""An independent calibration of the real teleop episode's camera, to judge the published one
(docs/calibration.md, "The real episode: three calibrations").

The robot holds a checkerboard (9 x 6 inner corners) in its gripper in every image of
``shared/data/real/panda_teleop_episode``. Its corners (OpenCV ``findChessboardCornersSB`` on
the 2x upsampled image) and the robot's FK give a robot-world hand-eye problem: the camera pose
X (base -> camera), the board's pose Y in the hand frame and the square size s are fitted
together by the corners' reprojection error (scipy ``least_squares``, soft-L1). Three fits:
``pinhole``, with the published intrinsics; ``lens_k1`` and ``lens``, with the focal length,
the principal point and the radial distortion k1 (``lens_k1``) or k1 and k2 (``lens``) free
too (OpenCV's plumb_bob model, projected by ``cv2.projectPoints``). Each is written as a
calibration YAML (``vap_ros.camera`` format), for ``vap-ros calibrate experiment real
--reference``. The script prints the fits' residuals and
how far the published calibration projects the robot's joint origins from each (median px at
320 x 240, the issue's measure).

    python scripts/real_board_handeye.py --out DIR
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


def _project(cam, T: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Pixels of points ``P`` (board frame) under camera <- board ``T`` and ``cam``'s lens."""
    uv, _ = cv2.projectPoints(P.reshape(-1, 1, 3), cv2.Rodrigues(T[:3, :3])[0], T[:3, 3],
                              cam.K, cam.dist)
    return uv.reshape(-1, 2)


def board_corners(ep, robot) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(grid (54, 3) in squares, corners per distinct image, base -> hand poses)."""
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
    return grid, corners, robot.frame_poses(np.asarray(qs), ["panda_hand"])[:, 0]


def board_calibration(ep, robot, *, lens: int = 0) -> dict:
    """Fit X, Y, s (and with ``lens`` 1 or 2 the focal length, the principal point and k1, or
    k1 and k2) to the board corners of every distinct image (see the module docstring);
    {"camera": Camera, residual stats}."""
    cam0 = replace(ep.camera, dist=np.zeros(5), distortion_model="plumb_bob")
    grid, corners, hand = board_corners(ep, robot)
    K0 = cam0.K
    s0 = 0.02
    _, r, t = cv2.solvePnP(grid * s0, corners[0], K0, None)
    A0 = np.eye(4)
    A0[:3, :3], A0[:3, 3] = cv2.Rodrigues(r)[0], t.ravel()
    Y0 = np.linalg.inv(hand[0]) @ np.linalg.inv(cam0.T_cam_base) @ A0

    def camera(x):
        K, dist = K0.copy(), np.zeros(5)
        if x.size > 13:
            K[0, 0] *= np.exp(x[13])
            K[1, 1] *= np.exp(x[13])
            K[0, 2] += x[14]
            K[1, 2] += x[15]
            dist[:lens] = x[16:16 + lens]
        return replace(cam0, K=K, dist=dist, T_cam_base=_se3(x[:6]))

    # the 9 x 6 pattern reads the same turned by 180 deg: per image, the corner order that
    # agrees with the first image's board pose
    ordered = []
    for k, c in enumerate(corners):
        pred = _project(cam0, cam0.T_cam_base @ hand[k] @ Y0, grid * s0)
        ordered.append(min((c, c[::-1]), key=lambda o: np.linalg.norm(pred - o, axis=1).mean()))

    def residual(x):
        cam, Y = camera(x), _se3(x[6:12])
        return np.concatenate([(_project(cam, cam.T_cam_base @ hand[k] @ Y, grid * x[12])
                                - c).ravel() for k, c in enumerate(ordered)])

    x0 = np.r_[_vec(cam0.T_cam_base), _vec(Y0), s0]
    sol = least_squares(residual, x0, loss="soft_l1", f_scale=1.0)
    if lens:  # from the pinhole answer: the intrinsics alone are not well posed from afar
        sol = least_squares(residual, np.r_[sol.x, np.zeros(3 + lens)], loss="soft_l1",
                            f_scale=1.0, x_scale=np.r_[[1e-3] * 13, 1e-2, 1.0, 1.0,
                                                       [1e-2] * lens])
    err = np.linalg.norm(residual(sol.x).reshape(-1, 2), axis=1)
    return {"camera": camera(sol.x), "square_m": float(sol.x[12]), "images": len(ordered),
            "corner_px_median": float(np.median(err)),
            "corner_px_rms": float(np.sqrt((err ** 2).mean())),
            "corner_px_worst_image": float(err.reshape(len(ordered), -1).mean(1).max())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episode", default=str(EPISODE))
    ap.add_argument("--out", required=True, help="folder for board_pinhole.yaml, "
                    "board_lens_k1.yaml, board_lens.yaml and board.json")
    args = ap.parse_args()

    from vap_ros.calib.experiment import JOINT_FRAMES
    from vap_ros.calib.refine import camera_change
    from vap_ros.calib.report import mesh_renderer
    from vap_ros.camera import save_calibration
    from vap_ros.data.panda_dataset import load_panda_episode

    ep = load_panda_episode(args.episode)
    robot = mesh_renderer("panda", "visual").robot
    published = ep.camera
    origins = robot.frame_poses(ep.joint_positions, list(JOINT_FRAMES))[..., :3, 3]
    ref = published.project(origins)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    report = {}
    for name, lens in (("pinhole", 0), ("lens_k1", 1), ("lens", 2)):
        fit = board_calibration(ep, robot, lens=lens)
        cam = fit.pop("camera")
        p = cam.project(origins)
        fit["published_vs_board_px"] = float(np.median(
            np.linalg.norm(p.uv - ref.uv, axis=-1)[ref.visible & p.visible]))
        fit["published_vs_board_mm_deg"] = list(camera_change(published, cam))
        fit["K"] = np.round(cam.K, 3).tolist()
        fit["dist"] = np.round(cam.dist, 5).tolist()
        save_calibration(cam, out_dir / f"board_{name}.yaml")
        report[name] = fit
    print(json.dumps(report, indent=1))
    (out_dir / "board.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()

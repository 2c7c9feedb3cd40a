"""MuJoCo cameras <-> :class:`vap_ros.camera.Camera` (OpenCV optical frame, pixel centres).

MuJoCo's camera looks down its -z axis with y up, and its image has the origin at a pixel
*corner*; OpenCV's optical frame looks down +z with y down, pixel centres at integers. Hence

* ``R_world_optical = cam_xmat @ diag(1, -1, -1)``;
* ``f = (H / 2) / tan(fovy / 2)`` (square pixels), ``cx = W / 2 - 0.5``, ``cy = H / 2 - 0.5``.
"""

from __future__ import annotations

import numpy as np

from vap_ros.camera import Camera
from vap_ros.errors import CalibrationError

__all__ = ["FLIP", "camera_from_mujoco", "mujoco_camera_params"]

#: MuJoCo camera frame <-> OpenCV optical frame (its own inverse).
FLIP = np.diag([1.0, -1.0, -1.0])


def mujoco_camera_params(cam: Camera) -> tuple[np.ndarray, np.ndarray, float]:
    """(pos (3,), quat wxyz (4,), fovy degrees) of a MuJoCo camera that renders ``cam``,
    expressed in the frame ``cam.T_cam_base`` refers to.

    Raises:
        CalibrationError: the camera has distortion, non-square pixels or an off-centre
            principal point (MuJoCo renders only centred, square-pixel pinholes).
    """
    K = cam.K
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    if abs(fx - fy) > 1e-6 * fx or abs(K[0, 1]) > 1e-9:
        raise CalibrationError(f"camera {cam.name!r}: MuJoCo needs square pixels "
                               f"(fx={fx}, fy={fy}, skew={K[0, 1]})")
    if abs(cx - (cam.width / 2 - 0.5)) > 1e-6 or abs(cy - (cam.height / 2 - 0.5)) > 1e-6:
        raise CalibrationError(
            f"camera {cam.name!r}: MuJoCo needs the principal point at the image centre "
            f"({cam.width / 2 - 0.5}, {cam.height / 2 - 0.5}), got ({cx}, {cy})")
    if np.any(cam.dist != 0):
        raise CalibrationError(f"camera {cam.name!r}: MuJoCo renders no lens distortion")
    import mujoco

    T = cam.T_base_cam
    R_mj = T[:3, :3] @ FLIP
    quat = np.zeros(4)
    mujoco.mju_mat2Quat(quat, R_mj.reshape(-1))
    fovy = float(np.degrees(2.0 * np.arctan((cam.height / 2.0) / fy)))
    return T[:3, 3].copy(), quat, fovy


def camera_from_mujoco(model, data, camera: str, width: int, height: int, *,
                       base_body: str = "panda_link0", name: str | None = None) -> Camera:
    """The calibrated camera of MuJoCo camera ``camera`` as currently posed in ``data``.

    ``data`` must be forward-computed (``mj_forward``) for the pose to be current.
    ``T_cam_base`` maps ``base_body`` coordinates into the OpenCV optical frame.
    """
    import mujoco

    cid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_CAMERA, camera)
    if cid < 0:
        raise CalibrationError(f"no MuJoCo camera {camera!r}")
    bid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, base_body)
    if bid < 0:
        raise CalibrationError(f"no MuJoCo body {base_body!r}")
    f = (height / 2.0) / np.tan(np.radians(model.cam_fovy[cid]) / 2.0)
    K = np.array([[f, 0.0, width / 2.0 - 0.5], [0.0, f, height / 2.0 - 0.5], [0.0, 0.0, 1.0]])
    T_world_cam = np.eye(4)
    T_world_cam[:3, :3] = data.cam_xmat[cid].reshape(3, 3) @ FLIP
    T_world_cam[:3, 3] = data.cam_xpos[cid]
    T_world_base = np.eye(4)
    T_world_base[:3, :3] = data.xmat[bid].reshape(3, 3)
    T_world_base[:3, 3] = data.xpos[bid]
    T_cam_base = np.linalg.inv(T_world_cam) @ T_world_base
    label = name or camera
    return Camera(label, width, height, K, np.zeros(5), T_cam_base, "plumb_bob",
                  f"{label}_optical_frame", base_body)

"""The rig of the synthetic data and the stand-in robot: one pose, one camera ring.

``PANDA_HOME`` is the Panda pose the synthetic motions and the stand-in robot start from (not
the simulated rig's ready pose ``vap_ros.sim.HOME_Q``: the synthetic videos were made around
this one). Cameras are ``vap_ros.camera.look_at`` cameras on a ring around the workspace.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from vap_ros.camera import Camera, look_at

__all__ = ["PANDA_HOME", "WORKSPACE_CENTER", "camera_ring", "default_cameras"]

PANDA_HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])  # rad, panda_joint1..7
WORKSPACE_CENTER = (0.45, 0.0, 0.35)  # m in the robot base frame
# named viewpoints around the workspace (eye positions, m, base frame)
EYES = {"front": (1.6, 0.0, 0.8), "left": (0.6, 1.4, 0.7), "right": (0.6, -1.4, 0.9),
        "top": (0.5, 0.05, 1.9)}


def default_cameras(size=(240, 320), names: Sequence[str] = ("front", "left"),
                    base_frame: str = "panda_link0", fov_y_deg: float = 50.0) -> list[Camera]:
    """Named look-at cameras around the workspace (optical frames ``<name>_optical_frame``);
    an unnamed viewpoint gets a place on a line beside the arm."""
    H, W = size
    return [look_at(n, EYES.get(n, (1.2, 0.8 * i - 0.8, 0.9)), WORKSPACE_CENTER, width=W,
                    height=H, fov_y_deg=fov_y_deg, base_frame=base_frame)
            for i, n in enumerate(names)]


def camera_ring(views: int, height: int, width: int, *, target=(0.4, 0.0, 0.4),
                radius_m: float = 1.4, rise_m: float = 0.3, spread_rad: float = 1.2,
                fov_y_deg: float = 55.0, prefix: str = "cam") -> list[Camera]:
    """``views`` look-at cameras spread over ``spread_rad`` of a horizontal circle of
    ``radius_m`` around ``target``, ``rise_m`` above it (names ``<prefix><i>``)."""
    target = np.asarray(target, np.float64)
    cams = []
    for i in range(views):
        a = -spread_rad / 2 + spread_rad * i / max(views - 1, 1)
        eye = target + np.array([radius_m * np.cos(a), radius_m * np.sin(a), rise_m])
        cams.append(look_at(f"{prefix}{i}", eye, target, width=width, height=height,
                            fov_y_deg=fov_y_deg))
    return cams

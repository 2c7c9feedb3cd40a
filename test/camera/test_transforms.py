"""The transform tree composes transforms along the tree (no node spun)."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vap_ros.camera import TransformTree
from vap_ros.errors import CalibrationError


def rigid(seed):
    rng = np.random.default_rng(seed)
    T = np.eye(4)
    T[:3, :3] = Rotation.random(random_state=seed).as_matrix()
    T[:3, 3] = rng.normal(size=3)
    return T


def test_lookup_composes_chains_and_inverts():
    tree = TransformTree()
    T_base_mount, T_mount_cam, T_base_other = rigid(0), rigid(1), rigid(2)
    tree.set("panda_link0", "mount", T_base_mount)
    tree.set("/mount", "front_optical_frame", T_mount_cam)  # leading slashes ignored
    tree.set("panda_link0", "left_optical_frame", T_base_other)
    np.testing.assert_allclose(tree.lookup("panda_link0", "front_optical_frame"),
                               T_base_mount @ T_mount_cam, atol=1e-12)
    np.testing.assert_allclose(tree.lookup("left_optical_frame", "front_optical_frame"),
                               np.linalg.inv(T_base_other) @ T_base_mount @ T_mount_cam,
                               atol=1e-12)
    v = tree.version
    tree.set("panda_link0", "mount", T_base_mount)  # unchanged: no new version
    assert tree.version == v


def test_unknown_and_disconnected_frames():
    tree = TransformTree()
    with pytest.raises(CalibrationError, match="not on /tf_static \\(known: none yet\\)"):
        tree.lookup("panda_link0", "front_optical_frame")
    tree.set("panda_link0", "a", np.eye(4))
    tree.set("world", "b", np.eye(4))
    with pytest.raises(CalibrationError, match="not connected"):
        tree.lookup("a", "b")

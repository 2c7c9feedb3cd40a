"""The nodes' shared input helpers (vap_ros.ros.inputs) that need no running node."""

from __future__ import annotations

import pytest

from vap_ros.camera import save_calibration
from vap_ros.errors import ConfigError
from vap_ros.ros.inputs import calibration_for


def test_calibration_for_a_node(tmp_path, cam):
    path = save_calibration([cam("front", (1.7, 0.0, 0.8)), cam("left", (0.6, 1.4, 0.7))],
                            tmp_path / "rig.yaml")
    assert calibration_for("", ["front", "back"], "panda_link0") == {}
    got = calibration_for(str(path), ["front", "left"], "panda_link0")
    assert sorted(got) == ["front", "left"]
    with pytest.raises(ConfigError, match=r"rig.yaml' has no camera \['back'\]"):
        calibration_for(str(path), ["front", "back"], "panda_link0")


def test_a_gripper_width_before_the_first_arm_state_is_kept():
    """A separate gripper driver (franka_ros2) may publish the fingers before the arm: that
    width is not dropped, the first arm state carries it; later arm states keep the newest."""
    import numpy as np

    from vap_ros.robot import JointStateMapper
    from vap_ros.ros import convert
    from vap_ros.ros.inputs import JointStateInput

    arm = tuple(f"fr3_joint{i}" for i in range(1, 8))
    grip = ("fr3_finger_joint1", "fr3_finger_joint2")
    js = JointStateInput(JointStateMapper(arm, grip))
    first = js.update(convert.joint_state_msg(grip, [0.01, 0.015], 1_000))
    assert js.latest is None and first.gripper_width_m == pytest.approx(0.025)
    js.update(convert.joint_state_msg(arm, list(np.arange(7.0)), 2_000))
    assert js.latest.gripper_width_m == pytest.approx(0.025)
    np.testing.assert_array_equal(js.latest.arm_q, np.arange(7.0))
    js.update(convert.joint_state_msg(grip, [0.02, 0.02], 3_000))
    js.update(convert.joint_state_msg(arm, list(np.zeros(7)), 4_000))
    assert js.latest.gripper_width_m == pytest.approx(0.04)
    js.clear()  # a cleared input forgets the width too
    js.update(convert.joint_state_msg(arm, list(np.zeros(7)), 5_000))
    assert js.latest.gripper_width_m is None

import numpy as np
import pytest

from vap_ros.errors import JointStateError
from vap_ros.robot import JointStateMapper

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
GRIP = ("panda_finger_joint1", "panda_finger_joint2")


@pytest.fixture()
def mapper():
    return JointStateMapper(ARM, GRIP)


def test_reorders_by_name_and_sums_gripper(mapper):
    names = list(reversed(ARM)) + list(GRIP)
    pos = [7, 6, 5, 4, 3, 2, 1, 0.01, 0.02]
    arm, width = mapper.map(names, pos)
    np.testing.assert_array_equal(arm, [1, 2, 3, 4, 5, 6, 7])
    assert width == pytest.approx(0.03)


def test_gripper_optional(mapper):
    arm, width = mapper.map(ARM, np.arange(7.0))
    assert width is None and arm[6] == 6


@pytest.mark.parametrize("names,pos,match", [
    (ARM[:6], [0.0] * 6, "missing joints \\['panda_joint7'\\]"),
    (ARM[:6] + ("panda_joint_7",), [0.0] * 7, "unknown joint names \\['panda_joint_7'\\]"),
    (ARM, [0.0] * 6, "7 names but 6 positions"),
    (ARM + ("panda_joint1",), [0.0] * 8, "duplicate joint names"),
    (ARM, [0, 0, np.nan, 0, 0, 0, 0], "NaN/inf\\) for joints \\['panda_joint3'\\]"),
    (ARM, [0, 0, 0, np.inf, 0, 0, 0], "panda_joint4"),
])
def test_bad_joint_states(mapper, names, pos, match):
    with pytest.raises(JointStateError, match=match) as info:
        mapper.map(names, pos)
    assert info.value.expected == ARM


def test_extra_names_can_be_ignored():
    m = JointStateMapper(ARM, GRIP, extra="ignore")
    arm, _ = m.map(ARM + ("other_robot_joint",), list(range(8)))
    np.testing.assert_array_equal(arm, np.arange(7))


def test_map_many(mapper):
    names = ARM + GRIP
    pos = np.tile(np.r_[np.arange(7.0), 0.01, 0.01], (4, 1))
    arm, width = mapper.map_many(names, pos)
    assert arm.shape == (4, 7)
    np.testing.assert_allclose(width, 0.02)

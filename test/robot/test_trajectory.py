import numpy as np
import pytest

from vap_ros.errors import TrajectoryError
from vap_ros.robot import JointTrajectory

ARM = tuple(f"panda_joint{i}" for i in range(1, 8))
HOME = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 2.0, 0.8])


def traj(**kw):
    base = dict(joint_names=ARM, positions=np.tile(HOME, (3, 1)),
                stamps_ns=np.array([0, 10, 20]) * 10**6)
    base.update(kw)
    return JointTrajectory(**base)


def test_valid_and_reordered(panda):
    names = tuple(reversed(ARM))
    t = JointTrajectory(names, np.tile(HOME[::-1], (2, 1)), [0, 1000]).validate(panda)
    assert t.joint_names == ARM
    np.testing.assert_array_equal(t.positions[0], HOME)


def test_non_monotonic_times(panda):
    with pytest.raises(TrajectoryError, match="increase strictly"):
        traj(stamps_ns=[0, 20, 20]).validate(panda)


def test_out_of_limits(panda):
    p = np.tile(HOME, (3, 1))
    p[1, 3] = 0.5  # joint 4 must stay below -0.0698
    with pytest.raises(TrajectoryError, match=r"point 1: panda_joint4 = 0\.5000 rad outside"):
        traj(positions=p).validate(panda)


def test_wrong_names(panda):
    with pytest.raises(TrajectoryError, match="missing \\['panda_joint7'\\]"):
        JointTrajectory(ARM[:6] + ("elbow",), np.tile(HOME, (1, 1)), [0]).validate(panda)


def test_nan_and_shape(panda):
    p = np.tile(HOME, (3, 1))
    p[2, 0] = np.nan
    with pytest.raises(TrajectoryError, match="NaN"):
        traj(positions=p).validate(panda)
    with pytest.raises(TrajectoryError, match="does not match"):
        traj(positions=np.zeros((3, 6))).validate(panda)


def test_sample_interpolates():
    t = JointTrajectory(ARM, np.stack([HOME, HOME + 1.0]), [0, 100],
                        gripper_width_m=[0.0, 0.08])
    s = t.sample([0, 25, 100, 200])
    np.testing.assert_allclose(s.positions[1], HOME + 0.25)
    np.testing.assert_allclose(s.positions[3], HOME + 1.0)
    np.testing.assert_allclose(s.gripper_width_m, [0.0, 0.02, 0.08, 0.08])

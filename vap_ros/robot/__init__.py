"""Robot kinematics from URDF (pinocchio), joint-name mapping, trajectories, skeleton specs."""

from vap_ros.robot.joints import JointStateMapper
from vap_ros.robot.model import GripperSpec, RobotModel
from vap_ros.robot.skeleton import SkeletonSpec, available_presets, load_robot_preset
from vap_ros.robot.trajectory import JointTrajectory

__all__ = [
    "GripperSpec",
    "JointStateMapper",
    "JointTrajectory",
    "RobotModel",
    "SkeletonSpec",
    "available_presets",
    "load_robot_preset",
]

"""Robot kinematics from URDF (pinocchio), joint-name mapping, trajectories, skeleton specs."""

from vap_ros.robot.joints import JointStateMapper, map_joint_name, parse_name_map
from vap_ros.robot.loader import RobotSetup, franka_prefix, load_robot, load_skeleton
from vap_ros.robot.model import GripperSpec, RobotModel
from vap_ros.robot.skeleton import SkeletonSpec, available_presets, load_robot_preset
from vap_ros.robot.trajectory import JointTrajectory

__all__ = [
    "GripperSpec",
    "JointStateMapper",
    "JointTrajectory",
    "RobotModel",
    "RobotSetup",
    "SkeletonSpec",
    "available_presets",
    "franka_prefix",
    "load_robot",
    "load_robot_preset",
    "load_skeleton",
    "map_joint_name",
    "parse_name_map",
]

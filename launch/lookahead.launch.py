"""Lookahead on a robot: lookahead + prompt nodes (+ RViz) next to the robot's drivers.

The cameras (``/<cam>/image_raw``, ``/<cam>/camera_info``), ``/joint_states``, ``/tf_static`` and
plans (``/planned_trajectory``, trajectory_msgs/JointTrajectory) come from the robot's own
launch files and planner. Parameters: config/lookahead_node.yaml, config/prompt_node.yaml.
Without ros2 launch: ``vap-ros run robot -p lookahead_node.model:=/path/to/checkpoint``.

    ros2 launch vap_ros lookahead.launch.py model:=/path/to/checkpoint device:=cuda
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare("vap_ros"), "config"])
    return LaunchDescription([
        DeclareLaunchArgument("model", default_value="tiny",
                              description="world-model preset or checkpoint directory"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("plan_topic", default_value="/planned_trajectory",
                              description="trajectory_msgs/JointTrajectory plans to predict"),
        DeclareLaunchArgument("calibration_file", default_value="",
                              description="camera calibration YAML; empty = /tf_static"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            output="screen",
            parameters=[PathJoinSubstitution([config, "lookahead_node.yaml"]), {
                "model": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
                "plan_topic": LaunchConfiguration("plan_topic"),
                "calibration_file": LaunchConfiguration("calibration_file"),
            }],
        ),
        Node(
            package="vap_ros", executable="prompt_node", name="prompt_node", output="screen",
            parameters=[PathJoinSubstitution([config, "prompt_node.yaml"]), {
                "calibration_file": LaunchConfiguration("calibration_file"),
            }],
        ),
        Node(
            package="rviz2", executable="rviz2", name="rviz2",
            arguments=["-d", PathJoinSubstitution([config, "vap_ros.rviz"])],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])

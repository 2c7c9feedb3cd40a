"""Lookahead on a robot: lookahead + prompt nodes (+ RViz) next to the robot's drivers.

The cameras (``/<cam>/image_raw``, ``/<cam>/camera_info``), ``/joint_states``, ``/tf_static`` and
plans (``/planned_trajectory``, trajectory_msgs/JointTrajectory) come from the robot's own
launch files and planner. Parameters: config/lookahead_node.yaml, config/prompt_node.yaml; the
arguments below override them. For an FR3 on franka_ros2 see fr3_lookahead.launch.py.
Without ros2 launch: ``vap-ros run robot -p lookahead_node.model:=/path/to/checkpoint``.

    ros2 launch vap_ros lookahead.launch.py model:=/path/to/checkpoint device:=cuda \\
        dtype:=bfloat16

Run it with the robot's own DDS settings (ROS_DOMAIN_ID, RMW, discovery): not scripts/env.sh,
which confines DDS to this machine's shared memory.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    share = FindPackageShare("vap_ros")
    config = PathJoinSubstitution([share, "config"])
    common = {
        "use_sim_time": LaunchConfiguration("use_sim_time"),
        "base_frame": LaunchConfiguration("base_frame"),
        "calibration_file": LaunchConfiguration("calibration_file"),
    }
    return LaunchDescription([
        DeclareLaunchArgument("model", default_value=PathJoinSubstitution(
            [share, "models", "vap_small_sim"]),
            description="checkpoint directory (default: the shipped model) or a preset name"),
        DeclareLaunchArgument("model_base", default_value="",
                              description="local diffusers directory of a CogVideoX base"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("dtype", default_value="float32",
                              description="float32, bfloat16 or float16"),
        DeclareLaunchArgument("plan_topic", default_value="/planned_trajectory",
                              description="trajectory_msgs/JointTrajectory plans to predict"),
        DeclareLaunchArgument("calibration_file", default_value="",
                              description="camera calibration YAML; empty = /tf_static"),
        DeclareLaunchArgument("base_frame", default_value="panda_link0",
                              description="robot base frame: extrinsics, markers, RViz"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the vap_ros nodes"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="follow /clock (a simulator or a replayed bag)"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "lookahead_node.yaml"]), common, {
                "model": LaunchConfiguration("model"),
                "model_base": LaunchConfiguration("model_base"),
                "device": LaunchConfiguration("device"),
                "dtype": LaunchConfiguration("dtype"),
                "plan_topic": LaunchConfiguration("plan_topic"),
            }],
        ),
        Node(
            package="vap_ros", executable="prompt_node", name="prompt_node",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "prompt_node.yaml"]), common],
        ),
        Node(
            package="rviz2", executable="rviz2", name="rviz2",
            namespace=LaunchConfiguration("namespace"),
            arguments=["-d", PathJoinSubstitution([config, "vap_ros.rviz"]),
                       "-f", LaunchConfiguration("base_frame")],
            parameters=[{"use_sim_time": LaunchConfiguration("use_sim_time")}],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])

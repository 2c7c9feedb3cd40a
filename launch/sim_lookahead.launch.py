"""The simulated rig + lookahead + prompt nodes (+ RViz): the whole loop without a robot.

Parameters: config/sim_rig.yaml, config/lookahead_node.yaml, config/prompt_node.yaml; the
arguments below override them. Without ros2 launch: ``vap-ros run sim``. Publish a plan on
/planned_trajectory: the rig executes it and /lookahead/<cam>/rollout predicts what the cameras
will see.

    ros2 launch vap_ros sim_lookahead.launch.py            # the shipped model
    ros2 launch vap_ros sim_lookahead.launch.py model:=tiny  # random init (tests only)
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
    }
    return LaunchDescription([
        DeclareLaunchArgument("model", default_value=PathJoinSubstitution(
            [share, "models", "vap_small_sim"]),
            description="checkpoint directory (default: the shipped model) or a preset name"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("dtype", default_value="float32",
                              description="float32, bfloat16 or float16"),
        DeclareLaunchArgument("seed", default_value="0", description="scene seed"),
        DeclareLaunchArgument("base_frame", default_value="panda_link0",
                              description="robot base frame: extrinsics, markers, RViz"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the vap_ros nodes"),
        DeclareLaunchArgument("use_sim_time", default_value="false",
                              description="follow /clock"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        Node(
            package="vap_ros", executable="sim_rig", name="sim_rig",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "sim_rig.yaml"]), {
                "use_sim_time": LaunchConfiguration("use_sim_time"),
                "seed": LaunchConfiguration("seed"),
            }],
        ),
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            namespace=LaunchConfiguration("namespace"), output="screen",
            parameters=[PathJoinSubstitution([config, "lookahead_node.yaml"]), common, {
                "model": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
                "dtype": LaunchConfiguration("dtype"),
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

"""The simulated rig + lookahead + prompt nodes (+ RViz): the whole loop without a robot.

Parameters: config/sim_rig.yaml, config/lookahead_node.yaml, config/prompt_node.yaml.
Without ros2 launch: ``vap-ros run sim``. Publish a plan on /planned_trajectory: the rig executes
it and /lookahead/<cam>/rollout predicts what the cameras will see.

    ros2 launch vap_ros sim_lookahead.launch.py model:=tiny
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
        DeclareLaunchArgument("seed", default_value="0", description="scene seed"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        Node(
            package="vap_ros", executable="sim_rig", name="sim_rig", output="screen",
            parameters=[PathJoinSubstitution([config, "sim_rig.yaml"]),
                        {"seed": LaunchConfiguration("seed")}],
        ),
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            output="screen",
            parameters=[PathJoinSubstitution([config, "lookahead_node.yaml"]), {
                "model": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
            }],
        ),
        Node(
            package="vap_ros", executable="prompt_node", name="prompt_node", output="screen",
            parameters=[PathJoinSubstitution([config, "prompt_node.yaml"])],
        ),
        Node(
            package="rviz2", executable="rviz2", name="rviz2",
            arguments=["-d", PathJoinSubstitution([config, "vap_ros.rviz"])],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])

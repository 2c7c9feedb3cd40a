"""A recorded bag replayed into the lookahead + prompt nodes (+ RViz), on bag time.

``ros2 bag play --clock --loop`` publishes the recorded topics and /clock; the nodes run with
use_sim_time, so image ages and plan times follow the bag. Each loop sends time backwards: the
nodes clear their caches and log it. Parameters: config/lookahead_node.yaml,
config/prompt_node.yaml. Without ros2 launch / rosbag2: ``vap-ros run replay --bag PATH`` (a
pure-Python player, config/bag_player.yaml, stands in for ros2 bag play).

    ros2 launch vap_ros bag_replay.launch.py bag:=/path/to/episode_0000
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description():
    config = PathJoinSubstitution([FindPackageShare("vap_ros"), "config"])
    return LaunchDescription([
        DeclareLaunchArgument("bag", description="rosbag2 folder or file to replay"),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback speed"),
        DeclareLaunchArgument("model", default_value="tiny",
                              description="world-model preset or checkpoint directory"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        ExecuteProcess(
            cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock", "--loop",
                 "--rate", LaunchConfiguration("rate")],
            output="screen",
        ),
        Node(
            package="vap_ros", executable="lookahead_node", name="lookahead_node",
            output="screen",
            parameters=[PathJoinSubstitution([config, "lookahead_node.yaml"]), {
                "use_sim_time": True,
                "model": LaunchConfiguration("model"),
                "device": LaunchConfiguration("device"),
            }],
        ),
        Node(
            package="vap_ros", executable="prompt_node", name="prompt_node", output="screen",
            parameters=[PathJoinSubstitution([config, "prompt_node.yaml"]),
                        {"use_sim_time": True}],
        ),
        Node(
            package="rviz2", executable="rviz2", name="rviz2",
            arguments=["-d", PathJoinSubstitution([config, "vap_ros.rviz"])],
            parameters=[{"use_sim_time": True}],
            condition=IfCondition(LaunchConfiguration("rviz")),
        ),
    ])

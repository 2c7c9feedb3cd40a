"""A recorded bag replayed into the lookahead + prompt nodes (+ RViz), on bag time.

``ros2 bag play --clock --loop`` publishes the recorded topics and /clock; the nodes run with
use_sim_time (default true here), so image ages and plan times follow the bag. Each loop sends
time backwards: the nodes clear their caches and log it. Parameters: config/lookahead_node.yaml,
config/prompt_node.yaml; the arguments below override them. Without ros2 launch / rosbag2:
``vap-ros run replay --bag PATH`` (a pure-Python player, config/bag_player.yaml, stands in for
ros2 bag play). Needs ros2bag and, for .mcap bags on Humble, rosbag2_storage_mcap.

    ros2 launch vap_ros bag_replay.launch.py bag:=/path/to/episode_0000
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess
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
        DeclareLaunchArgument("bag", description="rosbag2 folder or file to replay"),
        DeclareLaunchArgument("rate", default_value="1.0", description="playback speed"),
        DeclareLaunchArgument("model", default_value=PathJoinSubstitution(
            [share, "models", "vap_small_sim"]),
            description="checkpoint directory (default: the shipped model) or a preset name"),
        DeclareLaunchArgument("device", default_value="cpu", description="cpu, cuda, cuda:0"),
        DeclareLaunchArgument("dtype", default_value="float32",
                              description="float32, bfloat16 or float16"),
        DeclareLaunchArgument("base_frame", default_value="panda_link0",
                              description="robot base frame: extrinsics, markers, RViz"),
        DeclareLaunchArgument("namespace", default_value="",
                              description="namespace of the vap_ros nodes"),
        DeclareLaunchArgument("use_sim_time", default_value="true",
                              description="follow the bag's /clock"),
        DeclareLaunchArgument("rviz", default_value="true", description="start RViz"),
        ExecuteProcess(
            cmd=["ros2", "bag", "play", LaunchConfiguration("bag"), "--clock", "--loop",
                 "--rate", LaunchConfiguration("rate")],
            output="screen",
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
